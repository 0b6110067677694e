import ClusterCore
import ClusterMonitor
import Foundation
import Testing

@Suite struct ExpositionTests {
    @Test(arguments: 0..<40)
    func everyValueOfTheStatusIsExportedExactly(seed: Int) throws {
        let status = try StatusFixture.random(seed: UInt64(seed))
        let text = PrometheusExposition.render(MonitorSnapshot(status: status))
        let metrics = try PrometheusText(parsing: text)

        #expect(metrics.series(named: "webtoon_cluster_units").count == status.queues.count * 4)
        for depth in status.queues {
            for state in UnitState.allCases {
                let labels = ["platform": depth.platform, "kind": depth.kind, "state": state.rawValue]
                #expect(metrics.value("webtoon_cluster_units", labels) == Double(depth.counts[state]), "\(labels)")
            }
        }
        #expect(metrics.value("webtoon_cluster_in_flight_units") == Double(status.inFlight))
        #expect(metrics.value("webtoon_cluster_draining") == (status.draining ? 1 : 0))
        for age in status.oldestPending {
            #expect(metrics.value("webtoon_cluster_oldest_pending_age_seconds", ["platform": age.platform]) == Double(age.ageMillis) / 1000)
        }
        #expect(metrics.value("webtoon_cluster_workers", ["live": "true"]) == Double(status.workers.filter(\.live).count))
        #expect(metrics.value("webtoon_cluster_workers", ["live": "false"]) == Double(status.workers.filter { !$0.live }.count))
        for worker in status.workers {
            let labels = ["worker": worker.id.rawValue]
            #expect(metrics.value("webtoon_cluster_worker_up", labels) == (worker.live ? 1 : 0))
            #expect(metrics.value("webtoon_cluster_worker_completed_total", labels) == Double(worker.completed))
            #expect(metrics.value("webtoon_cluster_worker_failed_total", labels) == Double(worker.failed))
            #expect(metrics.value("webtoon_cluster_worker_leased_units", labels) == Double(worker.leased))
            #expect(metrics.value("webtoon_cluster_worker_completions_per_minute", labels) == worker.completionsPerMinute)
            #expect(metrics.value("webtoon_cluster_worker_last_seen_seconds", labels) == Double(worker.lastSeenAgoMillis) / 1000)
        }
        for run in status.runs {
            let labels = ["run": run.id.rawValue]
            for state in UnitState.allCases {
                #expect(metrics.value("webtoon_cluster_run_units", ["run": run.id.rawValue, "state": state.rawValue]) == Double(run.counts[state]))
            }
            let progress = try #require(metrics.value("webtoon_cluster_run_progress_ratio", labels))
            #expect(abs(progress * Double(run.counts.total) - Double(run.counts.terminal)) < 1e-6)
            #expect(metrics.value("webtoon_cluster_run_finished", labels) == (run.state == .finished ? 1 : 0))
            #expect(metrics.value("webtoon_cluster_run_eta_seconds", labels) == run.etaMillis.map { Double($0) / 1000 })
            #expect(metrics.value("webtoon_cluster_run_stalled", ["run": run.id.rawValue, "reason": run.stall?.reason.rawValue ?? ""]) == (run.stall == nil ? nil : 1))
            let stats = run.totals.stats
            #expect(metrics.value("webtoon_cluster_run_requests_total", labels) == Double(stats.requests))
            #expect(metrics.value("webtoon_cluster_run_retries_total", labels) == Double(stats.retries))
            #expect(metrics.value("webtoon_cluster_run_http_429_total", labels) == Double(stats.status429))
            #expect(metrics.value("webtoon_cluster_run_http_403_total", labels) == Double(stats.status403))
            #expect(metrics.value("webtoon_cluster_run_http_5xx_total", labels) == Double(stats.status5xx))
            #expect(metrics.value("webtoon_cluster_run_response_bytes_total", labels) == Double(stats.bytes))
            #expect(metrics.value("webtoon_cluster_run_lease_expiries_total", labels) == Double(run.totals.leaseExpiries))
            #expect(metrics.value("webtoon_cluster_run_output_bytes_total", labels) == Double(run.totals.outputBytes))
            for (table, rows) in run.totals.rowsByTable {
                #expect(metrics.value("webtoon_cluster_run_rows_total", ["run": run.id.rawValue, "table": table]) == Double(rows))
            }
        }
        for budget in status.budgets {
            let labels = ["platform": budget.platform]
            #expect(metrics.value("webtoon_cluster_budget_requests_per_second", labels) == budget.clusterRate)
            #expect(metrics.value("webtoon_cluster_budget_per_worker_requests_per_second", labels) == budget.perWorkerRate)
            #expect(metrics.value("webtoon_cluster_budget_decreases_total", labels) == Double(budget.decreases))
            let paused = budget.pausedUntil.map { Double($0.millis(since: status.serverTime)) / 1000 } ?? 0
            #expect(metrics.value("webtoon_cluster_budget_paused_seconds", labels) == paused)
        }
        #expect(metrics.series(named: "webtoon_cluster_rejected_messages_total").count == status.rejected.count)
        for (reason, count) in status.rejected {
            #expect(metrics.value("webtoon_cluster_rejected_messages_total", ["reason": reason]) == Double(count))
        }
    }

    @Test func labelValuesAreEscapedAndReadBack() throws {
        var status = try StatusFixture.random(seed: 7)
        let odd = "quote\" backslash\\ newline\n é"
        status.rejected = [odd: 3]
        let text = PrometheusExposition.render(MonitorSnapshot(status: status))
        #expect(text.contains(#"reason="quote\" backslash\\ newline\n é""#))
        let metrics = try PrometheusText(parsing: text)
        #expect(metrics.value("webtoon_cluster_rejected_messages_total", ["reason": odd]) == 3)
    }

    @Test func anEmptyClusterStillExportsItsScalars() throws {
        let status = try JSONDecoder().decode(ClusterStatus.self, from: Data("""
            {"serverTime": 5000, "draining": false, "inFlight": 0, "queues": [], "oldestPending": [], "runs": [],
             "workers": [], "budgets": [], "rejected": {}}
            """.utf8))
        let metrics = try PrometheusText(parsing: PrometheusExposition.render(MonitorSnapshot(status: status)))
        #expect(metrics.value("webtoon_cluster_in_flight_units") == 0)
        #expect(metrics.value("webtoon_cluster_workers", ["live": "true"]) == 0)
        #expect(metrics.value("webtoon_cluster_server_time_seconds") == 5)
        #expect(metrics.series(named: "webtoon_cluster_units").isEmpty)
    }

    @Test func theParserRefusesWhatTheFormatForbids() {
        for bad in ["x 1\n", "# TYPE x gauge\nx{a=\"b} 1\n", "# TYPE x gauge\nx 1\nx 2\n", "# TYPE x counter\nx 1\n",
                    "# TYPE x gauge\nx{a=\"\\q\"} 1\n", "# TYPE x gauge\nx one\n", "# TYPE x gauge\nx 1"] {
            #expect(throws: PrometheusText.ParseError.self, "\(bad)") { try PrometheusText(parsing: bad) }
        }
    }
}
