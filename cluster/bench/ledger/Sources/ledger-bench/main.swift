import ClusterCore
import ClusterKit
import Foundation
import Logging
import PQKit

// Measures (1) the pure ledger: creating N units and driving every one through lease → complete, with peak
// memory; (2) PostgreSQL: the same workload on a smaller N persisted with one commit per request (K = 1) and with
// group commits of K requests, then a full rebuild from the store. Environment: UNITS (default 200000),
// PG_UNITS (default 20000), GROUP (default 64), RUNS (default 3), DATABASE_URL.

let environment = ProcessInfo.processInfo.environment
let units = Int(environment["UNITS"] ?? "") ?? 200_000
let pgUnits = Int(environment["PG_UNITS"] ?? "") ?? 20_000
let group = Int(environment["GROUP"] ?? "") ?? 64
let runs = Int(environment["RUNS"] ?? "") ?? 3

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

@MainActor func secondsAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kib / 1024
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func roots(_ count: Int) -> [UnitSeed] {
    (0..<count).map { try! UnitSeed(kind: "episodes", platform: $0 % 2 == 0 ? "naver" : "kakao", key: "title-\($0 / 10)/batch-\($0 % 10)", payload: Array("{\"titleId\":\($0 / 10),\"batch\":\($0 % 10)}".utf8)) }
}

let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: "2026-11-25")
let workers = (0..<16).map { WorkerID(rawValue: "w\($0)")! }
let sha = String(repeating: "ab", count: 32)

/// Drives every unit through lease (8 at a time per worker) and complete; `afterRequest` runs after each request.
@MainActor func drive(_ ledger: inout Ledger, now: inout Timestamp, afterRequest: (inout Ledger) async throws -> Void) async throws -> Int {
    var requests = 0
    while ledger.runs[spec.defaultID]?.state == .active {
        for worker in workers {
            let granted = ledger.lease(worker: worker, maxUnits: 8, platforms: ["naver", "kakao"], now: now)
            requests += 1
            try await afterRequest(&ledger)
            for unit in granted {
                let manifest = Manifest(files: [OutputFile(path: "episodes/\(unit.id.rawValue)-\(unit.leaseEpoch).parquet", table: "episodes", rows: 20, bytes: 4_096, sha256: sha)])
                _ = ledger.complete(worker: worker, token: unit.lease!.token, manifest: manifest, children: [], stats: TaskStats(requests: 2, bytes: 8_192), now: now)
                requests += 1
                try await afterRequest(&ledger)
            }
            now = now.adding(millis: 1)
        }
    }
    return requests
}

print("ledger-bench: UNITS=\(units) PG_UNITS=\(pgUnits) GROUP=\(group) RUNS=\(runs)")
let seedList = roots(units)

// (1) Pure ledger.
var createTimes: [Double] = []
var driveTimes: [Double] = []
var requestCount = 0
for _ in 0..<runs {
    var ledger = Ledger(config: LedgerConfig(leaseMillis: 60_000, maxAttempts: 5))
    var now = Timestamp(millis: 1_764_000_000_000)
    createTimes.append(try seconds { try ledger.createRun(spec, roots: seedList, now: now); _ = ledger.drainChanges() })
    driveTimes.append(try await secondsAsync {
        requestCount = try await drive(&ledger, now: &now) { ledger in _ = ledger.drainChanges() }
    })
    precondition(ledger.counts(run: spec.defaultID).done == units)
}
let opsPerSecond = Double(requestCount) / median(driveTimes)
print(String(format: "core: create %d units median %.3f s (%.0f units/s); %d requests (lease+complete) median %.3f s (%.0f req/s, %.0f units/s); peak RSS %.0f MiB",
             units, median(createTimes), Double(units) / median(createTimes), requestCount, median(driveTimes), opsPerSecond,
             Double(units) / median(driveTimes), peakRSSMiB()))

// (2) PostgreSQL.
guard let url = environment["DATABASE_URL"] else {
    print("DATABASE_URL not set: skipping the PostgreSQL part")
    exit(0)
}
let connection = try await PGConnection.connect(url)
let pgSeeds = roots(pgUnits)
for k in [1, group] {
    var times: [Double] = []
    var rebuilds: [Double] = []
    var commits = 0
    var requests = 0
    for run in 0..<runs {
        let schema = "cluster_bench_k\(k)_\(run)"
        _ = try await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "bench"))
        try await store.migrate()
        var ledger = Ledger(config: LedgerConfig(leaseMillis: 60_000, maxAttempts: 5))
        var now = Timestamp(millis: 1_764_000_000_000)
        try ledger.createRun(spec, roots: pgSeeds, now: now)
        try await store.persist(ledger.drainChanges())
        var pending = 0
        commits = 0
        times.append(try await secondsAsync {
            requests = try await drive(&ledger, now: &now) { ledger in
                pending += 1
                if pending >= k {
                    try await store.persist(ledger.drainChanges())
                    commits += 1
                    pending = 0
                }
            }
            try await store.persist(ledger.drainChanges())
            commits += 1
        })
        let original = ledger.snapshot
        var rebuilt = Ledger(config: LedgerConfig())
        rebuilds.append(try await secondsAsync { rebuilt = try await store.loadLedger(config: LedgerConfig(leaseMillis: 60_000, maxAttempts: 5)) })
        precondition(rebuilt.snapshot == original, "rebuilt ledger differs")
        _ = try await connection.execute("DROP SCHEMA \(schema) CASCADE")
    }
    print(String(format: "postgres K=%d: %d units, %d requests, %d commits, median %.3f s (%.0f req/s, %.0f units/s); rebuild of %d units median %.3f s",
                 k, pgUnits, requests, commits, median(times), Double(requests) / median(times), Double(pgUnits) / median(times), pgUnits, median(rebuilds)))
    print("  per-run seconds:", times.map { String(format: "%.3f", $0) }.joined(separator: " / "), "rebuild:", rebuilds.map { String(format: "%.3f", $0) }.joined(separator: " / "))
}
await connection.close()
