/// Request counters, by endpoint and status, as served at `GET /__sim/stats`.
public struct SimulatorStats: Sendable, Codable, Equatable {
    /// Requests to platform endpoints (everything except `/__sim/*`).
    public var platformRequests: Int
    /// Keyed by endpoint (`naver.article.list`, `kakao.episodes`, `sim.stats`, `unknown`, …).
    public var endpoints: [String: Endpoint]
    /// Injected faults by kind: `reset`, `5xx`, `429`, `truncate`, `malformed`, `kakao403`.
    public var faults: [String: Int]

    public struct Endpoint: Sendable, Codable, Equatable {
        public var requests: Int
        /// Keyed by the HTTP status sent, or `reset` when the connection was closed without an answer.
        public var statuses: [String: Int]
    }

    public static let empty = SimulatorStats(platformRequests: 0, endpoints: [:], faults: [:])

    mutating func record(endpoint: String, status: String, platform: Bool, fault: SimFault) {
        if platform { platformRequests += 1 }
        endpoints[endpoint, default: Endpoint(requests: 0, statuses: [:])].requests += 1
        endpoints[endpoint, default: Endpoint(requests: 0, statuses: [:])].statuses[status, default: 0] += 1
        if fault != .none { faults[fault.statsKey, default: 0] += 1 }
    }

    func json() -> [UInt8] {
        var w = JSONWriter(capacity: 2_048)
        w.object { w in
            w.field("platformRequests", platformRequests)
            w.object("endpoints") { w in
                for (name, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
                    w.dynamicKey(name)
                    w.object { w in
                        w.field("requests", endpoint.requests)
                        w.object("statuses") { w in
                            for (status, count) in endpoint.statuses.sorted(by: { $0.key < $1.key }) {
                                w.dynamicKey(status)
                                w.int(count)
                            }
                        }
                    }
                }
            }
            w.object("faults") { w in
                for (name, count) in faults.sorted(by: { $0.key < $1.key }) {
                    w.dynamicKey(name)
                    w.int(count)
                }
            }
        }
        return w.bytes
    }
}
