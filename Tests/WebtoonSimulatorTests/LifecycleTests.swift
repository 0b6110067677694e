import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import WebtoonSimulator

@Suite struct LifecycleTests {
    @Test func twoSimulatorsWithTheSameSeedServeIdenticalBytes() async throws {
        let configuration = SimulatorConfiguration(seed: 5, scale: .small, date: "2026-11-28")
        try await withSimulator(configuration) { a in
            try await withSimulator(configuration) { b in
                let truth = a.groundTruth(mode: .daily)
                var uris = [
                    "/api/webtoon/titlelist/weekday?order=view", "/api/webtoon/titlelist/finished?order=view&page=2",
                    "/section/v2/timetables/days?placement=timetable_sat",
                    "/section/v2/timetables/days?placement=timetable_completed",
                ]
                for e in truth.episodes.prefix(40) {
                    if e.platform == "naver" {
                        uris.append("/api/article/list?titleId=\(e.titleId)&page=1")
                        uris.append("/v1/search/contents?q=COMIC%5B\(e.titleId)_\(e.no)%5D")
                        uris.append("/api/userAction/info?titleId=\(e.titleId)&no=\(e.no)")
                    } else {
                        uris.append("/episode/v2/views/content-home/contents/\(e.titleId)/episodes?offset=0&limit=20")
                        uris.append("/popularity/v1/reviews/episode/\(e.episodeId)")
                    }
                }
                try await TestConnection.with(port: a.port) { ca in
                    try await TestConnection.with(port: b.port) { cb in
                        for uri in uris {
                            let ra = try await ca.get(uri, headers: TestHeaders.kakao)
                            let rb = try await cb.get(uri, headers: TestHeaders.kakao)
                            #expect(ra.status == 200, "\(uri)")
                            #expect(ra.body == rb.body, "\(uri)")
                        }
                    }
                }
            }
        }
    }

    @Test func serviceRunsUntilGracefulShutdown() async throws {
        let ready = Mutex<PlatformSimulator?>(nil)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let service = SimulatorService(configuration: .init(seed: 1, scale: .small), port: 0, logger: logger) { sim in
            ready.withLock { $0 = sim }
        }
        let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var simulator: PlatformSimulator?
            for _ in 0..<200 where simulator == nil {
                try await Task.sleep(for: .milliseconds(10))
                simulator = ready.withLock { $0 }
            }
            let sim = try #require(simulator)
            #expect(try await oneShotJSON(port: sim.port, "/__sim/health") == Array("{\"status\":\"ok\"}".utf8))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            guard case .failed = await oneShot(port: sim.port, "/__sim/health") else {
                Issue.record("the simulator still answers after graceful shutdown")
                return
            }
        }
    }

    @Test func invalidConfigurationIsRejectedBeforeListening() async {
        await #expect(throws: SimulatorError.self) {
            _ = try await PlatformSimulator.start(configuration: .init(date: "2026-11-31"))
        }
        await #expect(throws: SimulatorError.self) {
            let faults = SimulatorFaults(resetRate: 0.6, malformedRate: 0.6)
            _ = try await PlatformSimulator.start(configuration: .init(faults: faults))
        }
    }
}
