/// Why a run with backlog makes no progress.
public enum StallReason: String, Hashable, Sendable, Codable {
    /// No worker has been heard from within the worker timeout.
    case noLiveWorkers
    /// Every outstanding lease is held by a worker that went silent; they expire at their deadlines.
    case leasesHeldBySilentWorkers
    /// Every platform with pending units is paused by a Retry-After.
    case platformPaused
    /// Pending units belong to platforms no live worker serves.
    case noWorkerForPlatform
    /// Workers are live and hold leases but nothing completes (slow or stuck tasks).
    case noCompletions
}

public struct StallReport: Hashable, Sendable, Codable {
    public let reason: StallReason
    /// Time since the run last made progress.
    public let idleMillis: Int64
    public let detail: String
}

/// One run as operators see it.
public struct RunStatus: Hashable, Sendable, Codable {
    public let id: RunID
    public let spec: RunSpec
    public let state: RunState
    public let createdAt: Timestamp
    public let finishedAt: Timestamp?
    public let counts: StateCounts
    public let depths: [QueueDepth]
    public let totals: RunTotals
    /// Estimated time to finish from recent throughput; nil without enough samples or progress.
    public let etaMillis: Int64?
    public let stall: StallReport?
}

public struct WorkerStatus: Hashable, Sendable, Codable {
    public let id: WorkerID
    public let live: Bool
    public let lastSeen: Timestamp
    public let lastSeenAgoMillis: Int64
    public let capacity: Int
    public let platforms: [String]
    public let softwareVersion: String
    public let leased: Int
    public let completed: Int64
    public let failed: Int64
    /// Accepted completions per minute over the last `throughputWindowMillis`.
    public let completionsPerMinute: Double
    public let draining: Bool
}

public struct BudgetStatus: Hashable, Sendable, Codable {
    public let platform: String
    public let clusterRate: Double
    public let perWorkerRate: Double
    public let liveWorkers: Int
    public let pausedUntil: Timestamp?
    public let decreases: Int64
}

public struct PlatformPendingAge: Hashable, Sendable, Codable {
    public let platform: String
    public let oldestPendingSince: Timestamp
    public let ageMillis: Int64
}

/// Everything the status message carries; also what the monitor exports.
public struct ClusterStatus: Hashable, Sendable, Codable {
    public let serverTime: Timestamp
    public let draining: Bool
    public let runs: [RunStatus]
    /// Queue depth per platform and kind over active runs.
    public let queues: [QueueDepth]
    public let inFlight: Int
    public let oldestPending: [PlatformPendingAge]
    public let workers: [WorkerStatus]
    public let budgets: [BudgetStatus]
    /// Messages refused, by reason name (filled by the transport layer).
    public var rejected: [String: Int64]
}

/// One sample of a run's depth.
public struct DepthSample: Hashable, Sendable, Codable {
    public let at: Timestamp
    public let counts: StateCounts
    public init(at: Timestamp, counts: StateCounts) {
        self.at = at
        self.counts = counts
    }
}

/// A fixed-size ring of depth samples: the history behind "queue depth over time" and the ETA.
public struct DepthHistory: Hashable, Sendable {
    public let capacity: Int
    private var buffer: [DepthSample] = []
    private var next = 0

    public init(capacity: Int) { self.capacity = max(2, capacity) }

    public mutating func record(_ sample: DepthSample) {
        if buffer.count < capacity {
            buffer.append(sample)
        } else {
            buffer[next] = sample
        }
        next = (next + 1) % capacity
    }

    /// Oldest first.
    public var samples: [DepthSample] {
        buffer.count < capacity ? buffer : Array(buffer[next...] + buffer[..<next])
    }

    /// Backlog divided by the terminal-unit rate between the oldest and newest sample; nil when nothing finished
    /// in that span. Children created later make the real finish later: an estimate, not a promise.
    public func etaMillis() -> Int64? {
        let ordered = samples
        guard let first = ordered.first, let last = ordered.last, last.at > first.at else { return nil }
        let finished = last.counts.terminal - first.counts.terminal
        guard finished > 0 else { return nil }
        if last.counts.backlog == 0 { return 0 }
        let perMilli = Double(finished) / Double(last.at.millis(since: first.at))
        let eta = Double(last.counts.backlog) / perMilli
        return eta < Double(Int64.max) ? Int64(eta.rounded(.up)) : nil
    }
}
