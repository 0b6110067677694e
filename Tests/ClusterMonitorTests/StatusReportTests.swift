import ClusterCore
import ClusterMonitor
import Foundation
import Testing

@Suite struct StatusReportTests {
    /// The row of a section's table whose first cells are `prefix`, split into cells.
    static func row(_ text: String, section: String, startingWith prefix: [String]) -> [String]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == section }) else { return nil }
        for line in lines[(start + 1)...] {
            if line.isEmpty { break }
            let cells = line.split(separator: " ").map(String.init)
            if Array(cells.prefix(prefix.count)) == prefix { return cells }
        }
        return nil
    }

    @Test(arguments: 0..<20)
    func everyQueueRunAndWorkerAppearsWithItsValues(seed: Int) throws {
        let status = try StatusFixture.random(seed: UInt64(seed))
        let text = StatusReport.render(status, coordinator: "tcp://10.0.0.1:7070")
        #expect(text.contains("tcp://10.0.0.1:7070"))
        #expect(text.contains("in flight \(status.inFlight) "))
        #expect(text.contains("workers \(status.workers.filter(\.live).count) live / \(status.workers.count) known"))
        for depth in status.queues {
            let cells = try #require(Self.row(text, section: "QUEUES (active runs)", startingWith: [depth.platform, depth.kind]))
            #expect(cells.dropFirst(2).map { Int($0) } == [depth.counts.pending, depth.counts.leased, depth.counts.done, depth.counts.dead])
        }
        for age in status.oldestPending {
            let cells = try #require(Self.row(text, section: "OLDEST PENDING", startingWith: [age.platform]))
            #expect(cells[1] == StatusReport.formatDuration(age.ageMillis))
        }
        for run in status.runs {
            let cells = try #require(Self.row(text, section: "RUNS", startingWith: [run.id.rawValue]))
            let stats = run.totals.stats
            #expect(cells[1] == run.state.rawValue)
            #expect(cells[2...4].map { Int($0) } == [run.counts.done, run.counts.dead, run.counts.total])
            #expect(cells[6] == "\(stats.requests)")
            #expect(cells[7] == "-", "no previous status, no rate")
            #expect(cells[8...11].map { Int64($0) } == [stats.status429, stats.status403, stats.status5xx, stats.retries])
            let eta = run.state == .finished ? "finished" : run.etaMillis.map(StatusReport.formatDuration) ?? "-"
            #expect(cells[12] == eta)
            if let stall = run.stall { #expect(text.contains("run \(run.id) stalled (\(stall.reason.rawValue))")) }
        }
        for worker in status.workers {
            let cells = try #require(Self.row(text, section: "WORKERS", startingWith: [worker.id.rawValue]))
            #expect(cells[1] == (worker.live ? "yes" : "NO"))
            #expect(Int(cells[4]) == worker.leased)
            #expect(Int64(cells[6]) == worker.completed)
            #expect(cells[8] == String(format: "%.1f", worker.completionsPerMinute))
            #expect(text.contains("worker \(worker.id) silent") == !worker.live)
        }
        for budget in status.budgets {
            let cells = try #require(Self.row(text, section: "BUDGETS", startingWith: [budget.platform]))
            #expect(Double(cells[1]).map { abs($0 - budget.clusterRate) < 0.005 } == true)
        }
        #expect(text.contains("unauthenticated message(s) refused") == ((status.rejected["unauthenticated"] ?? 0) > 0))
        #expect(text.contains("DRAINING") == status.draining)
    }

    @Test func requestRateComesFromTheDifferenceToThePreviousRefresh() throws {
        let before = try StatusFixture.random(seed: 3)
        let data = try JSONEncoder().encode(before)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["serverTime"] = StatusFixture.now + 4_000
        var runs = try #require(object["runs"] as? [[String: Any]])
        var totals = try #require(runs[0]["totals"] as? [String: Any])
        var stats = try #require(totals["stats"] as? [String: Any])
        stats["requests"] = try #require(stats["requests"] as? Int) + 50
        totals["stats"] = stats
        runs[0]["totals"] = totals
        object["runs"] = runs
        let after = try JSONDecoder().decode(ClusterStatus.self, from: JSONSerialization.data(withJSONObject: object))
        let text = StatusReport.render(after, previous: before)
        let cells = try #require(Self.row(text, section: "RUNS", startingWith: [after.runs[0].id.rawValue]))
        #expect(cells[7] == "12.5", "50 requests in 4 s")
    }

    @Test func durationsAreCompact() {
        #expect(StatusReport.formatDuration(-5) == "0s")
        #expect(StatusReport.formatDuration(45_999) == "45s")
        #expect(StatusReport.formatDuration(185_000) == "3m05s")
        #expect(StatusReport.formatDuration(7_380_000) == "2h03m")
        #expect(StatusReport.formatDuration(100_800_000) == "1d04h")
        #expect(StatusReport.formatTime(Timestamp(millis: 1_764_000_000_000)) == "2025-11-24T16:00:00Z")
    }

    @Test func anIdleClusterSaysSo() throws {
        let status = try JSONDecoder().decode(ClusterStatus.self, from: Data("""
            {"serverTime": 0, "draining": false, "inFlight": 0, "queues": [], "oldestPending": [], "runs": [],
             "workers": [], "budgets": [], "rejected": {}}
            """.utf8))
        let text = StatusReport.render(status)
        #expect(text.contains("(no active run)"))
        #expect(text.contains("(no worker has said hello)"))
        #expect(!text.contains("WARNINGS"))
    }
}
