import ClusterCore
import Foundation

/// One HTTP answer of the monitor, independent of the server so routing tests run in memory.
public struct MonitorResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func text(_ status: Int, _ text: String) -> MonitorResponse {
        MonitorResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }
}

/// The sampled depth of one run, oldest sample first: the series behind a "queue depth over time" chart.
public struct RunDepthHistory: Hashable, Sendable, Codable {
    public let run: RunID
    public let capacity: Int
    public let samples: [DepthSample]

    public init(run: RunID, history: DepthHistory) {
        self.run = run
        self.capacity = history.capacity
        self.samples = history.samples
    }
}

/// `GET /metrics`, `/status`, `/status/history`, `/healthz`; everything else is 404 (405 for other methods).
public enum MonitorRoutes {
    public static let paths = ["/metrics", "/status", "/status/history", "/healthz"]

    public static func respond(method: String, uri: String, provider: MonitorSnapshotProvider) async -> MonitorResponse {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard paths.contains(path) else { return .text(404, "not found: \(path.prefix(200))\n") }
        guard method == "GET" || method == "HEAD" else { return .text(405, "method \(method.prefix(16)) not allowed; use GET\n") }
        let snapshot: MonitorSnapshot
        do {
            snapshot = try await provider()
        } catch {
            // Healthy means "the coordinator answers": a provider that throws (service stopped) is unhealthy.
            return .text(503, "coordinator status unavailable: \(error)\n")
        }
        switch path {
        case "/metrics":
            return MonitorResponse(status: 200, contentType: PrometheusExposition.contentType, body: Array(PrometheusExposition.render(snapshot).utf8))
        case "/status":
            return json(snapshot.status)
        case "/status/history":
            let runs = snapshot.history.sorted { $0.key.rawValue < $1.key.rawValue }.map { RunDepthHistory(run: $0.key, history: $0.value) }
            return json(HistoryDocument(serverTime: snapshot.status.serverTime, runs: runs))
        default:
            return .text(200, "ok\n")
        }
    }

    /// The `/status/history` body.
    public struct HistoryDocument: Hashable, Sendable, Codable {
        public let serverTime: Timestamp
        public let runs: [RunDepthHistory]
    }

    static func json(_ value: some Encodable) -> MonitorResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return MonitorResponse(status: 200, contentType: "application/json", body: Array(try encoder.encode(value)))
        } catch {
            return .text(500, "cannot encode JSON: \(error)\n")
        }
    }
}
