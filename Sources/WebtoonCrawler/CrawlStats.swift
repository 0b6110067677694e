import CoreMetrics
import Synchronization
import WebtoonCore

/// Request counters the cluster reports. `snapshot()` gives a plain value; an injected swift-metrics factory gets
/// the same increments as `webtoon_crawler_*` counters with a `platform` dimension.
public final class CrawlStats: Sendable {
    /// A point-in-time copy of the counters.
    public struct Snapshot: Sendable, Hashable, Codable, CustomStringConvertible {
        public var requests = 0
        public var responses = 0
        public var retries = 0
        public var status2xx = 0
        public var status4xx = 0
        public var status403 = 0
        public var status429 = 0
        public var status5xx = 0
        public var transportErrors = 0
        public var giveUps = 0
        public var breakerOpenings = 0
        public var bytes = 0

        public init() {}

        public var description: String {
            "requests=\(requests) responses=\(responses) retries=\(retries) 2xx=\(status2xx) 4xx=\(status4xx) "
                + "403=\(status403) 429=\(status429) 5xx=\(status5xx) transport=\(transportErrors) "
                + "giveUps=\(giveUps) breakerOpenings=\(breakerOpenings) bytes=\(bytes)"
        }

        public static func + (a: Snapshot, b: Snapshot) -> Snapshot {
            var s = a
            s.requests += b.requests
            s.responses += b.responses
            s.retries += b.retries
            s.status2xx += b.status2xx
            s.status4xx += b.status4xx
            s.status403 += b.status403
            s.status429 += b.status429
            s.status5xx += b.status5xx
            s.transportErrors += b.transportErrors
            s.giveUps += b.giveUps
            s.breakerOpenings += b.breakerOpenings
            s.bytes += b.bytes
            return s
        }
    }

    enum Event: String, CaseIterable {
        case requests, responses, retries, status2xx, status4xx, status403, status429, status5xx, transportErrors
        case giveUps, breakerOpenings, bytes
    }

    private let counts = Mutex<[Platform: Snapshot]>([:])
    private let handlers: [String: any CounterHandler]

    public init(metricsFactory: (any MetricsFactory)? = nil) {
        var handlers: [String: any CounterHandler] = [:]
        if let metricsFactory {
            for platform in Platform.allCases {
                for event in Event.allCases {
                    handlers["\(platform).\(event.rawValue)"] = metricsFactory.makeCounter(
                        label: "webtoon_crawler_\(event.rawValue)", dimensions: [("platform", platform.rawValue)])
                }
            }
        }
        self.handlers = handlers
    }

    func add(_ event: Event, _ platform: Platform, _ amount: Int = 1) {
        counts.withLock { all in
            var s = all[platform] ?? Snapshot()
            switch event {
            case .requests: s.requests += amount
            case .responses: s.responses += amount
            case .retries: s.retries += amount
            case .status2xx: s.status2xx += amount
            case .status4xx: s.status4xx += amount
            case .status403: s.status403 += amount
            case .status429: s.status429 += amount
            case .status5xx: s.status5xx += amount
            case .transportErrors: s.transportErrors += amount
            case .giveUps: s.giveUps += amount
            case .breakerOpenings: s.breakerOpenings += amount
            case .bytes: s.bytes += amount
            }
            all[platform] = s
        }
        handlers["\(platform).\(event.rawValue)"]?.increment(by: Int64(amount))
    }

    public func snapshot(_ platform: Platform) -> Snapshot { counts.withLock { $0[platform] ?? Snapshot() } }

    public func total() -> Snapshot { counts.withLock { $0.values.reduce(Snapshot(), +) } }
}
