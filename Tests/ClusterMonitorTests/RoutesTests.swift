import ClusterCore
import ClusterMonitor
import Foundation
import Testing

@Suite struct RoutesTests {
    static func snapshot() throws -> MonitorSnapshot {
        let status = try StatusFixture.random(seed: 11)
        var history = DepthHistory(capacity: 3)
        for step in 0..<5 {
            history.record(DepthSample(at: Timestamp(millis: StatusFixture.now + Int64(step) * 30_000),
                                       counts: StateCounts(pending: 10 - step, leased: 1, done: step * 2, dead: 0)))
        }
        return MonitorSnapshot(status: status, history: [status.runs[0].id: history])
    }

    @Test func statusIsTheCoordinatorStatusAsJSON() async throws {
        let snapshot = try Self.snapshot()
        let response = await MonitorRoutes.respond(method: "GET", uri: "/status", provider: { snapshot })
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        #expect(try JSONDecoder().decode(ClusterStatus.self, from: Data(response.body)) == snapshot.status)
    }

    @Test func historyListsTheRingOldestFirst() async throws {
        let snapshot = try Self.snapshot()
        let response = await MonitorRoutes.respond(method: "GET", uri: "/status/history?run=x", provider: { snapshot })
        #expect(response.status == 200)
        let document = try JSONDecoder().decode(MonitorRoutes.HistoryDocument.self, from: Data(response.body))
        let run = try #require(document.runs.first)
        #expect(document.runs.count == 1)
        #expect(run.run == snapshot.status.runs[0].id)
        #expect(run.capacity == 3)
        // Five samples into a ring of three keep the last three, in order.
        #expect(run.samples.map(\.counts.pending) == [8, 7, 6])
        #expect(run.samples.map(\.at.millis) == [2, 3, 4].map { StatusFixture.now + Int64($0) * 30_000 })
    }

    @Test func metricsHealthAndErrors() async throws {
        let snapshot = try Self.snapshot()
        let metrics = await MonitorRoutes.respond(method: "GET", uri: "/metrics", provider: { snapshot })
        #expect(metrics.status == 200)
        #expect(metrics.contentType == PrometheusExposition.contentType)
        #expect(String(decoding: metrics.body, as: UTF8.self) == PrometheusExposition.render(snapshot))
        #expect(await MonitorRoutes.respond(method: "GET", uri: "/healthz", provider: { snapshot }).status == 200)
        #expect(await MonitorRoutes.respond(method: "GET", uri: "/nope", provider: { snapshot }).status == 404)
        #expect(await MonitorRoutes.respond(method: "POST", uri: "/metrics", provider: { snapshot }).status == 405)
        struct Down: Error {}
        let down = await MonitorRoutes.respond(method: "GET", uri: "/healthz", provider: { throw Down() })
        #expect(down.status == 503)
        #expect(String(decoding: down.body, as: UTF8.self).contains("Down"))
    }
}
