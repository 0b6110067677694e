import ClusterCore

/// Renders a snapshot in the Prometheus text exposition format (version 0.0.4).
///
/// Hand-written rather than through a metrics registry because every value is a snapshot of the coordinator's own
/// counters: gauges and per-run counters are rendered as they are, with no state kept between scrapes, so a
/// restarted monitor can never drift from the coordinator.
public enum PrometheusExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ snapshot: MonitorSnapshot) -> String {
        var out = Writer()
        let status = snapshot.status
        let states: [UnitState] = [.pending, .leased, .done, .dead]

        out.family("webtoon_cluster_units", .gauge, "Units per platform, kind and state over active runs.")
        for depth in status.queues.sorted(by: { ($0.platform, $0.kind) < ($1.platform, $1.kind) }) {
            for state in states {
                out.sample("webtoon_cluster_units", ["platform": depth.platform, "kind": depth.kind, "state": state.rawValue], Double(depth.counts[state]))
            }
        }
        out.family("webtoon_cluster_in_flight_units", .gauge, "Units currently leased to workers.")
        out.sample("webtoon_cluster_in_flight_units", [:], Double(status.inFlight))
        out.family("webtoon_cluster_draining", .gauge, "1 while the coordinator tells workers to drain.")
        out.sample("webtoon_cluster_draining", [:], status.draining ? 1 : 0)
        out.family("webtoon_cluster_oldest_pending_age_seconds", .gauge, "Age of the oldest pending unit per platform.")
        for age in status.oldestPending.sorted(by: { $0.platform < $1.platform }) {
            out.sample("webtoon_cluster_oldest_pending_age_seconds", ["platform": age.platform], Double(age.ageMillis) / 1000)
        }

        let live = status.workers.filter(\.live).count
        out.family("webtoon_cluster_workers", .gauge, "Known workers by liveness.")
        out.sample("webtoon_cluster_workers", ["live": "true"], Double(live))
        out.sample("webtoon_cluster_workers", ["live": "false"], Double(status.workers.count - live))
        let workers = status.workers.sorted { $0.id.rawValue < $1.id.rawValue }
        out.family("webtoon_cluster_worker_up", .gauge, "1 if the worker was heard from within the worker timeout.")
        for worker in workers { out.sample("webtoon_cluster_worker_up", ["worker": worker.id.rawValue], worker.live ? 1 : 0) }
        out.family("webtoon_cluster_worker_last_seen_seconds", .gauge, "Seconds since the worker's last message.")
        for worker in workers { out.sample("webtoon_cluster_worker_last_seen_seconds", ["worker": worker.id.rawValue], Double(worker.lastSeenAgoMillis) / 1000) }
        out.family("webtoon_cluster_worker_leased_units", .gauge, "Units the worker holds.")
        for worker in workers { out.sample("webtoon_cluster_worker_leased_units", ["worker": worker.id.rawValue], Double(worker.leased)) }
        out.family("webtoon_cluster_worker_completed", .counter, "Accepted completions by the worker since it said hello.")
        for worker in workers { out.sample("webtoon_cluster_worker_completed_total", ["worker": worker.id.rawValue], Double(worker.completed)) }
        out.family("webtoon_cluster_worker_failed", .counter, "Failures reported by the worker since it said hello.")
        for worker in workers { out.sample("webtoon_cluster_worker_failed_total", ["worker": worker.id.rawValue], Double(worker.failed)) }
        out.family("webtoon_cluster_worker_completions_per_minute", .gauge, "Recent accepted completions per minute.")
        for worker in workers { out.sample("webtoon_cluster_worker_completions_per_minute", ["worker": worker.id.rawValue], worker.completionsPerMinute) }

        let runs = status.runs.sorted { $0.id.rawValue < $1.id.rawValue }
        out.family("webtoon_cluster_run_units", .gauge, "Units of each listed run by state.")
        for run in runs {
            for state in states {
                out.sample("webtoon_cluster_run_units", ["run": run.id.rawValue, "state": state.rawValue], Double(run.counts[state]))
            }
        }
        out.family("webtoon_cluster_run_progress_ratio", .gauge, "Terminal units (done + dead) over all units of the run.")
        for run in runs {
            let total = run.counts.total
            out.sample("webtoon_cluster_run_progress_ratio", ["run": run.id.rawValue], total == 0 ? 0 : Double(run.counts.terminal) / Double(total))
        }
        out.family("webtoon_cluster_run_finished", .gauge, "1 once every unit of the run is done or dead.")
        for run in runs { out.sample("webtoon_cluster_run_finished", ["run": run.id.rawValue], run.state == .finished ? 1 : 0) }
        out.family("webtoon_cluster_run_eta_seconds", .gauge, "Estimated seconds to finish from recent throughput (absent without an estimate).")
        for run in runs { if let eta = run.etaMillis { out.sample("webtoon_cluster_run_eta_seconds", ["run": run.id.rawValue], Double(eta) / 1000) } }
        out.family("webtoon_cluster_run_stalled", .gauge, "1 with the reason while an active run makes no progress.")
        for run in runs { if let stall = run.stall { out.sample("webtoon_cluster_run_stalled", ["run": run.id.rawValue, "reason": stall.reason.rawValue], 1) } }

        let counters: [(String, String, KeyPath<TaskStats, Int64>)] = [
            ("webtoon_cluster_run_requests", "HTTP requests made by accepted and failed units of the run.", \.requests),
            ("webtoon_cluster_run_retries", "HTTP retries within units of the run.", \.retries),
            ("webtoon_cluster_run_http_429", "HTTP 429 answers seen by the run.", \.status429),
            ("webtoon_cluster_run_http_403", "HTTP 403 answers seen by the run.", \.status403),
            ("webtoon_cluster_run_http_5xx", "HTTP 5xx answers seen by the run.", \.status5xx),
            ("webtoon_cluster_run_response_bytes", "Response bytes fetched by the run.", \.bytes),
        ]
        for (name, help, path) in counters {
            out.family(name, .counter, help)
            for run in runs { out.sample(name + "_total", ["run": run.id.rawValue], Double(run.totals.stats[keyPath: path])) }
        }
        let ledgerCounters: [(String, String, KeyPath<RunTotals, Int64>)] = [
            ("webtoon_cluster_run_lease_expiries", "Leases of the run that ran out.", \.leaseExpiries),
            ("webtoon_cluster_run_failures", "Failures reported on current leases of the run.", \.failures),
            ("webtoon_cluster_run_stale_reports", "Completions or failures ignored because their lease was gone.", \.staleReports),
            ("webtoon_cluster_run_output_files", "Accepted output files of the run.", \.files),
            ("webtoon_cluster_run_output_bytes", "Bytes of accepted output files of the run.", \.outputBytes),
        ]
        for (name, help, path) in ledgerCounters {
            out.family(name, .counter, help)
            for run in runs { out.sample(name + "_total", ["run": run.id.rawValue], Double(run.totals[keyPath: path])) }
        }
        out.family("webtoon_cluster_run_rows", .counter, "Rows in accepted output files, by table.")
        for run in runs {
            for (table, rows) in run.totals.rowsByTable.sorted(by: { $0.key < $1.key }) {
                out.sample("webtoon_cluster_run_rows_total", ["run": run.id.rawValue, "table": table], Double(rows))
            }
        }

        let budgets = status.budgets.sorted { $0.platform < $1.platform }
        out.family("webtoon_cluster_budget_requests_per_second", .gauge, "Cluster-wide request budget per platform (AIMD).")
        for budget in budgets { out.sample("webtoon_cluster_budget_requests_per_second", ["platform": budget.platform], budget.clusterRate) }
        out.family("webtoon_cluster_budget_per_worker_requests_per_second", .gauge, "Each live worker's share of the platform budget.")
        for budget in budgets { out.sample("webtoon_cluster_budget_per_worker_requests_per_second", ["platform": budget.platform], budget.perWorkerRate) }
        out.family("webtoon_cluster_budget_paused_seconds", .gauge, "Seconds until the platform's Retry-After pause ends (0: not paused).")
        for budget in budgets {
            let remaining = budget.pausedUntil.map { max(0, $0.millis(since: status.serverTime)) } ?? 0
            out.sample("webtoon_cluster_budget_paused_seconds", ["platform": budget.platform], Double(remaining) / 1000)
        }
        out.family("webtoon_cluster_budget_decreases", .counter, "Multiplicative decreases of the platform budget.")
        for budget in budgets { out.sample("webtoon_cluster_budget_decreases_total", ["platform": budget.platform], Double(budget.decreases)) }

        out.family("webtoon_cluster_rejected_messages", .counter, "Protocol messages refused by the coordinator, by reason.")
        for (reason, count) in status.rejected.sorted(by: { $0.key < $1.key }) {
            out.sample("webtoon_cluster_rejected_messages_total", ["reason": reason], Double(count))
        }
        out.family("webtoon_cluster_server_time_seconds", .gauge, "The coordinator's clock when the snapshot was taken.")
        out.sample("webtoon_cluster_server_time_seconds", [:], Double(status.serverTime.millis) / 1000)
        return out.text
    }

    enum Kind: String { case gauge, counter }

    struct Writer {
        var text = ""

        mutating func family(_ name: String, _ kind: Kind, _ help: String) {
            text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        }

        mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
            }
            text += " " + format(value) + "\n"
        }
    }

    /// Label values escape backslash, double quote and newline (the format's only escapes).
    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingBackslashesAndNewlines()
    }

    /// Integers print without a fraction; non-finite values use the format's spellings.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

extension String {
    fileprivate func replacingBackslashesAndNewlines() -> String {
        var out = ""
        for character in self {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
