import ClusterCore
import Foundation

/// Renders a `ClusterStatus` as the operator's text table (`webtoon status`). Pure, so it is tested in memory.
public enum StatusReport {
    /// Pending units older than this are flagged (Sidekiq's warning threshold).
    public static let oldPendingWarningMillis: Int64 = 120_000

    /// `previous` (the status of the last refresh) turns cumulative request counts into requests per second.
    public static func render(_ status: ClusterStatus, previous: ClusterStatus? = nil, coordinator: String? = nil) -> String {
        var lines: [String] = []
        let live = status.workers.filter(\.live).count
        lines.append("coordinator \(coordinator ?? "") at \(formatTime(status.serverTime))\(status.draining ? "  DRAINING" : "")")
        let rejected = status.rejected.isEmpty ? "none" : status.rejected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.append("in flight \(status.inFlight)   workers \(live) live / \(status.workers.count) known   rejected messages \(rejected)")

        lines.append("")
        lines.append("QUEUES (active runs)")
        var queue = Table(["PLATFORM", "KIND", "PENDING", "LEASED", "DONE", "DEAD"], rightAligned: [2, 3, 4, 5])
        for depth in status.queues.sorted(by: { ($0.platform, $0.kind) < ($1.platform, $1.kind) }) {
            queue.add([depth.platform, depth.kind, "\(depth.counts.pending)", "\(depth.counts.leased)", "\(depth.counts.done)", "\(depth.counts.dead)"])
        }
        lines += queue.render(empty: "  (no active run)")

        if !status.oldestPending.isEmpty {
            lines.append("")
            lines.append("OLDEST PENDING")
            var ages = Table(["PLATFORM", "AGE", "SINCE"], rightAligned: [1])
            for age in status.oldestPending.sorted(by: { $0.platform < $1.platform }) {
                ages.add([age.platform, formatDuration(age.ageMillis), formatTime(age.oldestPendingSince)])
            }
            lines += ages.render(empty: "")
        }

        lines.append("")
        lines.append("RUNS")
        let earlier = Dictionary((previous?.runs ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let elapsed = previous.map { status.serverTime.millis(since: $0.serverTime) } ?? 0
        var runs = Table(["RUN", "STATE", "DONE", "DEAD", "TOTAL", "PROGRESS", "REQUESTS", "REQ/S", "429", "403", "5XX", "RETRIES", "ETA"], rightAligned: Array(2...12))
        for run in status.runs.sorted(by: { ($0.state == .active ? 0 : 1, $0.id.rawValue) < ($1.state == .active ? 0 : 1, $1.id.rawValue) }) {
            let total = run.counts.total
            let progress = total == 0 ? "-" : String(format: "%.1f%%", Double(run.counts.terminal) * 100 / Double(total))
            var rate = "-"
            if let before = earlier[run.id], elapsed > 0 {
                rate = String(format: "%.1f", Double(run.totals.stats.requests - before.totals.stats.requests) * 1000 / Double(elapsed))
            }
            let eta = run.state == .finished ? "finished" : run.etaMillis.map(formatDuration) ?? "-"
            let stats = run.totals.stats
            runs.add([run.id.rawValue, run.state.rawValue, "\(run.counts.done)", "\(run.counts.dead)", "\(total)", progress, "\(stats.requests)", rate,
                      "\(stats.status429)", "\(stats.status403)", "\(stats.status5xx)", "\(stats.retries)", eta])
        }
        lines += runs.render(empty: "  (no run)")

        lines.append("")
        lines.append("WORKERS")
        var workers = Table(["WORKER", "LIVE", "LAST SEEN", "LEASED", "CAPACITY", "COMPLETED", "FAILED", "PER MIN", "PLATFORMS"], rightAligned: [2, 3, 4, 5, 6, 7])
        for worker in status.workers.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            workers.add([worker.id.rawValue, worker.live ? (worker.draining ? "draining" : "yes") : "NO", formatDuration(worker.lastSeenAgoMillis) + " ago",
                         "\(worker.leased)", "\(worker.capacity)", "\(worker.completed)", "\(worker.failed)", String(format: "%.1f", worker.completionsPerMinute),
                         worker.platforms.joined(separator: ",")])
        }
        lines += workers.render(empty: "  (no worker has said hello)")

        if !status.budgets.isEmpty {
            lines.append("")
            lines.append("BUDGETS")
            var budgets = Table(["PLATFORM", "REQ/S", "PER WORKER", "WORKERS", "DECREASES", "PAUSED"], rightAligned: [1, 2, 3, 4])
            for budget in status.budgets.sorted(by: { $0.platform < $1.platform }) {
                let paused = budget.pausedUntil.flatMap { until in until > status.serverTime ? formatDuration(until.millis(since: status.serverTime)) : nil } ?? "no"
                budgets.add([budget.platform, String(format: "%.2f", budget.clusterRate), String(format: "%.2f", budget.perWorkerRate), "\(budget.liveWorkers)", "\(budget.decreases)", paused])
            }
            lines += budgets.render(empty: "")
        }

        let warnings = self.warnings(status)
        if !warnings.isEmpty {
            lines.append("")
            lines.append("WARNINGS")
            lines += warnings.map { "  ! " + $0 }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Stalls, silent workers holding leases, old pending units and refused messages: what an operator must act on.
    public static func warnings(_ status: ClusterStatus) -> [String] {
        var out: [String] = []
        for run in status.runs.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            if let stall = run.stall {
                out.append("run \(run.id) stalled (\(stall.reason.rawValue)) for \(formatDuration(stall.idleMillis)): \(stall.detail)")
            }
            if run.state == .active, run.counts.dead > 0 {
                out.append("run \(run.id) has \(run.counts.dead) dead unit(s); see cluster.units WHERE state = 'dead'")
            }
        }
        if status.workers.isEmpty, status.runs.contains(where: { $0.state == .active && $0.counts.backlog > 0 }) {
            out.append("no worker has said hello while runs have backlog")
        }
        for worker in status.workers.sorted(by: { $0.id.rawValue < $1.id.rawValue }) where !worker.live {
            out.append("worker \(worker.id) silent for \(formatDuration(worker.lastSeenAgoMillis))" + (worker.leased > 0 ? ", holding \(worker.leased) lease(s)" : ""))
        }
        for age in status.oldestPending.sorted(by: { $0.platform < $1.platform }) where age.ageMillis >= oldPendingWarningMillis {
            out.append("oldest pending \(age.platform) unit waits for \(formatDuration(age.ageMillis))")
        }
        if let bad = status.rejected["unauthenticated"], bad > 0 {
            out.append("\(bad) unauthenticated message(s) refused: a client uses the wrong secret")
        }
        return out
    }

    /// `45s`, `3m05s`, `2h03m`, `1d04h`; negative durations print as `0s`.
    public static func formatDuration(_ millis: Int64) -> String {
        let seconds = max(0, millis) / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" + pad(seconds % 60) + "s" }
        if seconds < 86400 { return "\(seconds / 3600)h" + pad(seconds % 3600 / 60) + "m" }
        return "\(seconds / 86400)d" + pad(seconds % 86400 / 3600) + "h"
    }

    /// UTC, to the second, e.g. `2026-11-25T10:00:00Z`.
    public static func formatTime(_ time: Timestamp) -> String {
        let date = Date(timeIntervalSince1970: Double(time.millis) / 1000)
        return date.formatted(.iso8601)
    }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    struct Table {
        let header: [String]
        let rightAligned: Set<Int>
        var rows: [[String]] = []

        init(_ header: [String], rightAligned: [Int]) {
            self.header = header
            self.rightAligned = Set(rightAligned)
        }

        mutating func add(_ row: [String]) { rows.append(row) }

        func render(empty: String) -> [String] {
            if rows.isEmpty { return empty.isEmpty ? [] : [empty] }
            var widths = header.map(\.count)
            for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
            return ([header] + rows).map { row in
                let cells = row.enumerated().map { index, cell in
                    let padding = String(repeating: " ", count: widths[index] - cell.count)
                    return rightAligned.contains(index) ? padding + cell : cell + padding
                }
                return ("  " + cells.joined(separator: "  ")).trimmingTrailingSpaces()
            }
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
