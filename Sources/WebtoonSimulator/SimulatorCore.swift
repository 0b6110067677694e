import NIOCore
import NIOPosix
import Synchronization

/// The shared, thread-safe state behind the HTTP handlers: the current day's snapshot, fault planner and counters.
final class SimulatorCore: Sendable {
    let configuration: SimulatorConfiguration
    let catalog: SimCatalog
    private let snapshotBox: Mutex<SimSnapshot>
    private let planner: Mutex<FaultPlanner>
    private let statsBox = Mutex(SimulatorStats.empty)
    private let sequence = Atomic<UInt64>(0)

    init(configuration: SimulatorConfiguration) throws(SimulatorError) {
        try configuration.faults.validate()
        let day = try configuration.validatedDay()
        self.configuration = configuration
        catalog = SimCatalog(seed: configuration.seed, scale: configuration.scale)
        snapshotBox = Mutex(SimSnapshot(catalog: catalog, day: day))
        planner = Mutex(FaultPlanner(faults: configuration.faults, seed: configuration.seed))
    }

    var snapshot: SimSnapshot { snapshotBox.withLock { $0 } }

    /// Switches the day served from now on (list caches start empty for the new day).
    func setDate(_ date: String) throws(SimulatorError) {
        var changed = configuration
        changed.date = date
        let day = try changed.validatedDay()
        let snapshot = SimSnapshot(catalog: catalog, day: day)
        snapshotBox.withLock { $0 = snapshot }
        Self.prewarmInBackground(snapshot)
    }

    /// Fills the list caches on NIO's thread pool; a request that comes first simply builds its body itself.
    static func prewarmInBackground(_ snapshot: SimSnapshot) {
        NIOThreadPool.singleton.submit { state in
            if state == .active { snapshot.prewarm() }
        }
    }

    func stats() -> SimulatorStats { statsBox.withLock { $0 } }

    func resetStats() { statsBox.withLock { $0 = .empty } }

    func record(endpoint: String, status: String, platform: Bool, fault: SimFault) {
        statsBox.withLock { $0.record(endpoint: endpoint, status: status, platform: platform, fault: fault) }
    }

    /// A platform request's fate: the response it would get, the injected fault and the delay.
    struct Plan: Sendable {
        var response: SimResponse
        var fault: SimFault
        var delayNanos: Int64
    }

    func plan(_ request: SimRequest, nowNanos: UInt64) -> Plan {
        let snapshot = self.snapshot
        let response = snapshot.respond(to: request) ?? Self.notFound(request.path)
        let n = sequence.wrappingAdd(1, ordering: .relaxed).oldValue
        let kakao = response.platform == .kakao
        let (fault, delay) = planner.withLock {
            ($0.decide(sequence: n, kakao: kakao, nowNanos: nowNanos), $0.delayNanos(sequence: n))
        }
        var result = Plan(response: response, fault: fault, delayNanos: delay)
        switch fault {
        case .none, .reset, .truncate:
            break
        case .serverError:
            let status = [500, 502, 503][Int(n % 3)]
            if kakao {
                result.response = snapshot.kakaoError(status, "INTERNAL_SERVER_ERROR", "injected \(status)",
                                                      endpoint: response.endpoint)
            } else {
                result.response.status = status
                result.response.body = ByteBuffer(string: "<html><body><h1>\(status) Server Error</h1></body></html>")
            }
        case .tooManyRequests:
            if kakao {
                result.response = snapshot.kakaoError(
                    429, "TOO_MANY_REQUESTS", "injected 429", endpoint: response.endpoint)
            } else {
                result.response.status = 429
                result.response.body = ByteBuffer(string: "{\"status\":429,\"message\":\"Too Many Requests\"}")
            }
            result.response.extraHeaders.append(("Retry-After", String(configuration.faults.retryAfterSeconds)))
        case .malformed:
            var body = response.body
            let half = body.readableBytes / 2
            body.moveWriterIndex(to: body.readerIndex + half)
            body.writeString("<!-- upstream error -->")
            result.response.body = body
        case .kakaoBurst403:
            result.response = snapshot.kakaoError(
                403, "FORBIDDEN", "request rate exceeded", endpoint: response.endpoint)
        }
        result.response.endpoint = response.endpoint
        result.response.platform = response.platform
        return result
    }

    static func notFound(_ path: String) -> SimResponse {
        var w = JSONWriter(capacity: 96)
        w.object { w in
            w.field("status", 404)
            w.field("message", "no such path: \(path)")
        }
        return SimResponse(status: 404, bytes: w.bytes, endpoint: "unknown", platform: nil)
    }

    // MARK: /__sim/*

    /// Answers an admin request; `heavy` is true for bodies that should be built off the event loop.
    func admin(_ request: SimRequest) -> (response: SimResponse?, heavyGroundTruth: GroundTruthMode?) {
        func json(_ status: Int, _ bytes: [UInt8], _ name: String) -> SimResponse {
            SimResponse(status: status, bytes: bytes, endpoint: name, platform: nil)
        }
        func message(_ status: Int, _ text: String, _ name: String) -> SimResponse {
            var w = JSONWriter(capacity: 96)
            w.object { w in
                w.field("status", status)
                w.field("message", text)
            }
            return json(status, w.bytes, name)
        }
        switch request.path {
        case "/__sim/health":
            return (json(200, Array("{\"status\":\"ok\"}".utf8), "sim.health"), nil)
        case "/__sim/stats":
            let current = stats()
            if request.query["reset"] == "1" || request.query["reset"] == "true" { resetStats() }
            return (json(200, current.json(), "sim.stats"), nil)
        case "/__sim/ground-truth":
            guard let mode = GroundTruthMode(rawValue: request.query["mode"] ?? "full") else {
                return (message(400, "mode must be full or daily", "sim.ground-truth"), nil)
            }
            return (nil, mode)
        case "/__sim/date":
            if let date = request.query["set"] {
                do {
                    try setDate(date)
                } catch {
                    return (message(400, error.detail, "sim.date"), nil)
                }
            }
            return (json(200, Array("{\"date\":\"\(snapshot.day.iso)\"}".utf8), "sim.date"), nil)
        case "/__sim/config":
            var w = JSONWriter(capacity: 512)
            let f = configuration.faults
            w.object { w in
                w.field("seed", String(configuration.seed))
                w.field("scale", configuration.scale.rawValue)
                w.field("date", snapshot.day.iso)
                w.field("naverTitles", catalog.naver.count)
                w.field("kakaoTitles", catalog.kakao.count)
                w.object("faults") { w in
                    w.field("latencyMs", f.latencyMilliseconds)
                    w.field("jitterMs", f.jitterMilliseconds)
                    w.key("fault5xx"); w.hundredths(Int((f.serverErrorRate * 100).rounded()))
                    w.key("fault429"); w.hundredths(Int((f.tooManyRequestsRate * 100).rounded()))
                    w.key("faultReset"); w.hundredths(Int((f.resetRate * 100).rounded()))
                    w.key("faultTruncate"); w.hundredths(Int((f.truncateRate * 100).rounded()))
                    w.key("faultMalformed"); w.hundredths(Int((f.malformedRate * 100).rounded()))
                    w.field("kakao403AboveRps", f.kakao403AboveRequestsPerSecond)
                    w.field("kakaoCooldownMs", f.kakaoCooldownMilliseconds)
                }
            }
            return (json(200, w.bytes, "sim.config"), nil)
        default:
            return (message(404, "unknown simulator endpoint \(request.path)", "sim.unknown"), nil)
        }
    }
}
