import ClusterCore

/// What the monitor serves: the coordinator's status and the sampled depth of every run.
public struct MonitorSnapshot: Sendable {
    public var status: ClusterStatus
    public var history: [RunID: DepthHistory]

    public init(status: ClusterStatus, history: [RunID: DepthHistory] = [:]) {
        self.status = status
        self.history = history
    }
}

/// Reads a fresh snapshot for every request, so the monitor needs nothing of the coordinator but this closure.
public typealias MonitorSnapshotProvider = @Sendable () async throws -> MonitorSnapshot
