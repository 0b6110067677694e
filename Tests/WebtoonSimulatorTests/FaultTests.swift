import Foundation
import Testing
@testable import WebtoonSimulator

/// Fault injection observed from the client side over real sockets.
@Suite struct FaultTests {
    @Test func injectedFaultsAppearAtRoughlyTheRequestedRates() async throws {
        let faults = SimulatorFaults(serverErrorRate: 0.1, tooManyRequestsRate: 0.1, resetRate: 0.1, truncateRate: 0.1,
                                     malformedRate: 0.1, retryAfterSeconds: 3)
        try await withSimulator(.init(seed: 9, scale: .small, faults: faults)) { sim in
            let n = 400
            var observed: [String: Int] = [:]
            for i in 0..<n {
                let uri = i % 2 == 0 ? "/api/webtoon/titlelist/weekday?order=view"
                    : "/section/v2/timetables/days?placement=timetable_tue"
                let outcome = await oneShot(port: sim.port, uri, headers: TestHeaders.kakao)
                observed[classify(outcome), default: 0] += 1
            }
            let stats = sim.stats()
            #expect(stats.platformRequests == n)
            for key in ["5xx", "429", "malformed"] {
                let count = observed[key] ?? 0
                #expect((20...65).contains(count), "\(key): \(count) of \(n)")
                #expect(stats.faults[key] == count, "\(key): stats \(stats.faults[key] ?? 0), observed \(count)")
            }
            // Resets and truncations both end the connection before a complete response. A reset usually reaches the
            // client as ECONNRESET, but NIO may report it as a plain close, so only the sum is exact.
            let early = (observed["reset"] ?? 0) + (observed["cut"] ?? 0)
            #expect(early == (stats.faults["reset"] ?? 0) + (stats.faults["truncate"] ?? 0))
            #expect((20...65).contains(stats.faults["reset"] ?? 0) && (20...65).contains(stats.faults["truncate"] ?? 0))
            #expect((observed["reset"] ?? 0) >= 10, "resets seen as ECONNRESET: \(observed["reset"] ?? 0)")
            #expect((observed["ok"] ?? 0) > n / 3)
            let known: Set<String> = ["reset", "cut", "5xx", "429", "malformed", "ok"]
            #expect(Set(observed.keys).isSubset(of: known), "\(observed)")
            #expect(stats.endpoints["naver.titlelist.weekday"]?.statuses["reset"] != nil)
        }
    }

    /// The client-side kind of one outcome: `reset`, `cut` (closed early), `5xx`, `429`, `malformed`, `ok`.
    func classify(_ outcome: TestOutcome) -> String {
        switch outcome {
        case .failed(let reason):
            // A reset and a truncated body both end the connection early; tell them apart by the message.
            return reason.contains("reset") || reason.contains("104") ? "reset" : "cut"
        case .response(let response):
            switch response.status {
            case 500, 502, 503: return "5xx"
            case 429: return response.headers["retry-after"] == "3" ? "429" : "429 without Retry-After"
            case 200: return (try? response.json()) == nil ? "malformed" : "ok"
            default: return "status \(response.status)"
            }
        }
    }

    @Test func truncatedBodiesAnnounceMoreThanTheySend() async throws {
        try await withSimulator(.init(seed: 1, scale: .small, faults: SimulatorFaults(truncateRate: 1))) { sim in
            // Read the raw bytes with curl semantics: our client reports the early end as a failure.
            guard case .failed(let reason) = await oneShot(port: sim.port, "/api/webtoon/titlelist/weekday") else {
                Issue.record("a truncated response was accepted as complete")
                return
            }
            #expect(!reason.isEmpty)
            #expect(sim.stats().faults["truncate"] == 1)
            // /__sim/* is never faulted.
            guard case .response(let health) = await oneShot(port: sim.port, "/__sim/health") else {
                Issue.record("/__sim/health was faulted")
                return
            }
            #expect(health.status == 200)
        }
    }

    @Test func latencyUsesTimersSoConcurrentRequestsOverlap() async throws {
        let faults = SimulatorFaults(latencyMilliseconds: 200, jitterMilliseconds: 20)
        try await withSimulator(.init(seed: 3, scale: .small, faults: faults)) { sim in
            let clock = ContinuousClock()
            let single = try await clock.measure {
                _ = try await oneShotJSON(port: sim.port, "/api/webtoon/titlelist/weekday")
            }
            #expect(single >= .milliseconds(180))
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 {
                    group.addTask { _ = try await oneShotJSON(port: sim.port, "/api/webtoon/titlelist/weekday") }
                }
                try await group.waitForAll()
            }
            let elapsed = clock.now - start
            // 40 × 200 ms in sequence would be 8 s; with timers they overlap.
            #expect(elapsed < .seconds(2), "40 concurrent delayed requests took \(elapsed)")
            guard case .response(let stats) = await oneShot(port: sim.port, "/__sim/stats") else {
                Issue.record("no stats")
                return
            }
            let json = try stats.json()
            #expect(json["platformRequests"].int == 41)
            #expect(json["endpoints"]["naver.titlelist.weekday"]["statuses"]["200"].int == 41)
        }
    }

    /// Sequential keep-alive requests outrun 10 per second even on a loaded machine (they were 20 per second and a
    /// 0.7 s cooldown, which a machine at load 12 missed): requests go on until the first 403, and the cooldown is
    /// long enough that the checks right after it fall inside it whatever the load.
    @Test func kakaoBurstsAreRefusedDuringTheCooldownAndNaverIsNot() async throws {
        let faults = SimulatorFaults(kakao403AboveRequestsPerSecond: 10, kakaoCooldownMilliseconds: 3_000)
        try await withSimulator(.init(seed: 3, scale: .small, faults: faults)) { sim in
            let kakao = "/decorator/v2/decorator/contents/1001"
            try await TestConnection.with(port: sim.port) { c in
                var statuses: [Int] = []
                while statuses.count < 500, statuses.last != 403 {
                    statuses.append(try await c.get(kakao, headers: TestHeaders.kakao).status)
                }
                #expect(statuses.prefix(10).allSatisfy { $0 == 200 })
                #expect(statuses.last == 403, "no 403 in \(statuses.count) sequential requests")
                let refused = try await c.get(kakao, headers: TestHeaders.kakao)
                #expect(refused.status == 403)
                #expect(try refused.json()["errorCode"].string == "FORBIDDEN")
                #expect(try await c.get("/api/article/list/info?titleId=650001").status != 403)
                try await Task.sleep(for: .milliseconds(3_300))
                #expect(try await c.get(kakao, headers: TestHeaders.kakao).status == 200)
            }
            #expect((sim.stats().faults["kakao403"] ?? 0) >= 1)
        }
    }
}
