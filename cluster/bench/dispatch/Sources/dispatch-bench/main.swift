import ClusterCore
import ClusterKit
import Foundation
import Logging
import NNGKit
import PQKit
import Synchronization

// End-to-end dispatch capacity: a real CoordinatorService (PostgreSQL ledger, group commit) in a child process of
// this binary, and N no-op worker clients over nng tcp on loopback in this process. A unit counts when the
// coordinator acknowledged its completion, which it does only after the completion is committed.
//
// Modes: `batch` (lease up to BATCH units, report them in one reportBatch), `single` (lease up to BATCH units,
// one complete message per unit: the revision-1 path), `worker` (the real WorkerService with a no-op executor and
// capacity BATCH). Environment: DATABASE_URL, UNITS (default 50000), RUNS (3), CLIENTS ("1,2,4,8"), BATCH (64),
// MODES ("batch,single,worker"), PORT (first TCP port, default 56400), FILES (output files per completion in
// `batch` and `single` modes, default 0: a real unit reports 2–6, each with a path and a SHA-256).

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
let environment = ProcessInfo.processInfo.environment
let secret = Array("dispatch benchmark secret, long enough".utf8)
let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: "2026-11-25")

func seeds(_ count: Int) -> [UnitSeed] {
    (0..<count).map {
        try! UnitSeed(kind: "episodes", platform: $0 % 2 == 0 ? "naver" : "kakao", key: "title-\($0 / 10)/batch-\($0 % 10)",
                      payload: Array("{\"titleId\":\($0 / 10),\"batch\":\($0 % 10)}".utf8))
    }
}

/// Blocking work (pipes, waitpid) on its own thread, never on the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in Thread { continuation.resume(returning: body()) }.start() }
}

// MARK: Coordinator child

// `coordinator`: a fresh schema with a run of `units` root units. `restart`: the schema as the last run left it
// (every unit done), loaded as a restarted coordinator loads it; READY once it listens.
if CommandLine.arguments.count == 5, ["coordinator", "restart"].contains(CommandLine.arguments[1]) {
    let restart = CommandLine.arguments[1] == "restart"
    let schema = CommandLine.arguments[2]
    let units = Int(CommandLine.arguments[3])!
    let port = Int(CommandLine.arguments[4])!
    let connection = try await PGConnection.connect(environment["DATABASE_URL"]!)
    if !restart { _ = try await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
    let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
    let core = CoordinatorConfig(
        ledger: LedgerConfig(leaseMillis: 120_000, maxAttempts: 5), idlePollMillis: 2,
        defaultBudget: BudgetPolicy(initialRate: 1_000, floor: 1, ceiling: 1_000))
    let settings = CoordinatorSettings(listenURL: "tcp://127.0.0.1:\(port)", secret: secret, core: core, contexts: 16)
    let service = CoordinatorService(settings: settings, store: store, logger: Logger(label: "coordinator"))
    let (listening, listened) = AsyncStream.makeStream(of: String.self)
    // A failed start (the port taken, e.g. by another process's outgoing connection in the ephemeral range)
    // must end the child, or the driver would wait for READY forever.
    let serving = Task {
        do {
            try await service.run(onListening: { listened.yield($0) })
        } catch {
            print("FAILED \(error)")
            fflush(nil)
            exit(1)
        }
    }
    guard let address = await listening.first(where: { _ in true }) else { fatalError("coordinator did not listen") }
    if !restart { try await service.createRun(spec, roots: seeds(units)) }
    print("READY \(address)")
    fflush(nil)
    // Serve until the driver closes our stdin, then leave without closing sockets (exit is enough here).
    _ = await offPool { FileHandle.standardInput.readDataToEndOfFile().count }
    _ = serving
    exit(0)
}

// MARK: Driver

guard let databaseURL = environment["DATABASE_URL"] else {
    print("DATABASE_URL is not set")
    exit(2)
}
let unitCount = Int(environment["UNITS"] ?? "") ?? 50_000
let runs = Int(environment["RUNS"] ?? "") ?? 3
let clientCounts = (environment["CLIENTS"] ?? "1,2,4,8").split(separator: ",").compactMap { Int($0) }
let batch = Int(environment["BATCH"] ?? "") ?? 64
let modes = (environment["MODES"] ?? "batch,single,worker").split(separator: ",").map(String.init)
let filesPerUnit = Int(environment["FILES"] ?? "") ?? 0

/// A manifest shaped like a worker's: one file per table under the hive partition, named by unit and attempt.
func manifest(for token: LeaseToken) -> Manifest {
    guard filesPerUnit > 0 else { return .empty }
    let tables = ["episodes", "titles", "genres", "comments", "raw", "episodes_extra"]
    return Manifest(files: (0..<filesPerUnit).map { index in
        let table = tables[index % tables.count]
        let digest = String(repeating: token.unit.rawValue, count: 2)
        return OutputFile(
            path: "optimized/\(table)/year=2026/month=11/day=25/platform=naver/part-\(token.unit.rawValue)-a\(token.epoch).parquet",
            table: table, rows: 20, bytes: 4_096, sha256: digest)
    })
}
var nextPort = Int(environment["PORT"] ?? "") ?? 56_400
let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

/// utime + stime of a process, seconds.
func cpuSeconds(pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based) → index 11 and 12 here.
    return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticksPerSecond
}

/// The PostgreSQL server's processes (postmaster and its children: backends, WAL writer, checkpointer), from
/// PGDATA's postmaster.pid (PGDATA defaults to this worktree's .local/pg, as cluster/setup.sh makes it).
let postgresPIDs: () -> [Int32] = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../../../.local/pg").standardized.path
    let dataDirectory = environment["PGDATA"] ?? root
    guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
          let postmaster = Int32(text.split(separator: "\n").first ?? "") else { return [] }
    let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return Int32(stat[stat.index(after: close)...].split(separator: " ")[1]) == postmaster
    }
    return [postmaster] + children
}

func statusField(pid: Int32, _ name: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
          let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib / 1024
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

/// A REQ socket speaking the protocol, one request at a time.
final class Client: Sendable {
    let socket: NNGSocket
    let codec: WireCodec
    let id: WorkerID

    init(address: String, name: String) async throws {
        socket = try NNGSocket(.req)
        try socket.set(.receiveMaxSize(64 << 20), .requestResendTime(nil))
        try await socket.connect(address)
        codec = try WireCodec(secret: secret, maxMessageBytes: 64 << 20)
        id = WorkerID(rawValue: name)!
    }

    func call(_ message: ClusterMessage) async throws -> ClusterMessage {
        var rng = SystemRandomNumberGenerator()
        let frame = try codec.encode(Envelope(id: MessageID.random(using: &rng), sender: id, sentAt: systemTimestamp(), message: message))
        try await socket.send(frame, timeout: .seconds(60))
        let reply = try codec.decode(try await socket.receive(timeout: .seconds(60)))
        if case .reject(let reject) = reply.message { throw BenchError(description: "rejected \(message.kind): \(reject.reason) \(reject.detail)") }
        return reply.message
    }
}

/// Leases up to `batch` units at a time and completes them at once with no outputs, until nothing is left.
func rawClient(_ client: Client, batchReports: Bool, done: Counter, total: Int) async throws {
    _ = try await client.call(.hello(Hello(capacity: batch, platforms: ["naver", "kakao"], softwareVersion: "bench")))
    while true {
        guard case .leaseGrant(let grant) = try await client.call(.leaseRequest(LeaseRequest(maxUnits: batch, platforms: ["naver", "kakao"]))) else {
            throw BenchError(description: "lease request not granted")
        }
        if grant.units.isEmpty {
            if done.value.load(ordering: .acquiring) >= total { return }
            try await Task.sleep(for: .milliseconds(grant.retryAfterMillis ?? 2))
            continue
        }
        let reports = grant.units.map { Complete(token: $0.token, manifest: manifest(for: $0.token), children: [], stats: .zero) }
        if batchReports {
            guard case .reportAck(let ack) = try await client.call(.reportBatch(ReportBatch(completes: reports, fails: []))),
                  ack.completes.count == reports.count, ack.completes.allSatisfy({ $0 == "accepted" }) else {
                throw BenchError(description: "batch not accepted")
            }
        } else {
            for report in reports {
                guard case .ack(let ack) = try await client.call(.complete(report)), ack.outcome == "accepted" else {
                    throw BenchError(description: "completion not accepted")
                }
            }
        }
        done.value.add(reports.count, ordering: .releasing)
    }
}

/// Units acknowledged so far, shared by the clients.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

struct NoopExecutor: UnitExecutor {
    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        .completed(manifest: .empty, children: [], stats: .zero)
    }
}

/// Real WorkerService instances with a no-op executor; finished when the coordinator's status says the run is.
func realWorkers(count: Int, address: String, total: Int) async throws {
    let workers = try (0..<count).map { index in
        try WorkerService(
            settings: WorkerSettings(coordinatorURL: address, secret: secret, id: WorkerID(rawValue: "w\(index)")!, capacity: batch,
                                     platforms: ["naver", "kakao"], softwareVersion: "bench", requestTimeout: .seconds(60)),
            executor: NoopExecutor(), logger: Logger(label: "worker"))
    }
    let status = try await Client(address: address, name: "bench-status")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in workers { group.addTask { try await worker.run() } }
        while true {
            try await Task.sleep(for: .milliseconds(20))
            guard case .statusResponse(let state) = try await status.call(.statusRequest(StatusRequest(includeWorkers: false))) else { continue }
            if state.runs.first?.counts.done == total { break }
        }
        for worker in workers { worker.drain() }
        try await group.waitForAll()
    }
    status.socket.close()
}

struct Measurement {
    let seconds: Double
    let coordinatorCPU: Double
    let driverCPU: Double
    let postgresCPU: Double
    let peakRSS: Double
    /// Resident set when every unit is done: the ledger's records without the transient peak of creating the run.
    let endRSS: Double
    /// A coordinator restarted on the finished ledger: seconds until it listens, its peak and resident set then.
    var restartSeconds = 0.0
    var restartPeakRSS = 0.0
    var restartRSS = 0.0
}

let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]

/// Starts this binary as a coordinator child (`role` as above) and waits for its READY line; a port can be taken by
/// then, so the next one is tried (three times at most). Returns the child, its stdin (closing it stops the child)
/// and the address it listens on.
@MainActor func startCoordinator(role: String, schema: String) async throws -> (Process, Pipe, String) {
    var child = Process()
    var input = Pipe()
    var ready = ""
    for attempt in 1...3 {
        let port = nextPort
        nextPort += 1
        child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = [role, schema, "\(unitCount)", "\(port)"]
        input = Pipe()
        let output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        ready = await offPool { () -> String in
            var text = ""
            while !text.contains("\n") {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        if ready.hasPrefix("READY ") { break }
        print("coordinator on port \(port) did not start (attempt \(attempt)): \(ready.prefix(200))")
    }
    guard ready.hasPrefix("READY ") else { throw BenchError(description: "coordinator did not start: \(ready)") }
    return (child, input, String(ready.dropFirst("READY ".count).prefix { $0 != "\n" }))
}

@MainActor func measure(mode: String, clients: Int) async throws -> Measurement {
    let schema = "dispatch_bench_\(getpid())"
    let (coordinator, coordinatorInput, address) = try await startCoordinator(role: "coordinator", schema: schema)
    let pid = coordinator.processIdentifier

    let done = Counter()
    let cpu0 = cpuSeconds(pid: pid)
    let self0 = cpuSeconds(pid: getpid())
    let postgres = postgresPIDs()
    let postgres0 = postgres.map { cpuSeconds(pid: $0) }.reduce(0, +)
    let start = ContinuousClock.now
    if mode == "worker" {
        try await realWorkers(count: clients, address: address, total: unitCount)
    } else {
        var connected: [Client] = []
        for index in 0..<clients { connected.append(try await Client(address: address, name: "c\(index)")) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in connected {
                group.addTask { try await rawClient(client, batchReports: mode == "batch", done: done, total: unitCount) }
            }
            try await group.waitForAll()
        }
        for client in connected { client.socket.close() }
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    var measurement = Measurement(
        seconds: seconds, coordinatorCPU: cpuSeconds(pid: pid) - cpu0, driverCPU: cpuSeconds(pid: getpid()) - self0,
        postgresCPU: postgres.map { cpuSeconds(pid: $0) }.reduce(0, +) - postgres0,
        peakRSS: statusField(pid: pid, "VmHWM"), endRSS: statusField(pid: pid, "VmRSS"))
    try coordinatorInput.fileHandleForWriting.close()
    await offPool { coordinator.waitUntilExit() }

    // The same ledger loaded by a restarted coordinator.
    let restartStart = ContinuousClock.now
    let (restarted, restartedInput, _) = try await startCoordinator(role: "restart", schema: schema)
    let restartElapsed = ContinuousClock.now - restartStart
    measurement.restartSeconds = Double(restartElapsed.components.seconds) + Double(restartElapsed.components.attoseconds) / 1e18
    measurement.restartPeakRSS = statusField(pid: restarted.processIdentifier, "VmHWM")
    measurement.restartRSS = statusField(pid: restarted.processIdentifier, "VmRSS")
    try restartedInput.fileHandleForWriting.close()
    await offPool { restarted.waitUntilExit() }

    // Every unit is done in the store, not only in the coordinator's memory.
    let connection = try await PGConnection.connect(databaseURL)
    let persisted = try await connection.query("SELECT count(*) FROM \(schema).units WHERE state = 'done'").rows.first?.value(0, as: Int.self) ?? 0
    _ = try await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
    await connection.close()
    guard persisted == unitCount else { throw BenchError(description: "\(persisted) of \(unitCount) units persisted as done") }
    return measurement
}

print("dispatch-bench: UNITS=\(unitCount) RUNS=\(runs) CLIENTS=\(clientCounts) BATCH=\(batch) MODES=\(modes) FILES=\(filesPerUnit)")
print("mode\tclients\tunits/s (median)\tper-run units/s\tcoordinator CPU s/run (median)\tcoordinator CPU µs/unit\tclients CPU µs/unit\tPostgreSQL CPU µs/unit\tcoordinator peak RSS MiB\tcoordinator RSS at end MiB\trestart: seconds to listen (median)\trestart: peak / resident MiB (median)")
for mode in modes {
    for clients in clientCounts {
        var results: [Measurement] = []
        for _ in 0..<runs { results.append(try await measure(mode: mode, clients: clients)) }
        let rates = results.map { Double(unitCount) / $0.seconds }
        let cpu = median(results.map(\.coordinatorCPU))
        print(String(
            format: "%@\t%d\t%.0f\t%@\t%.2f\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.2f\t%.0f / %.0f", mode, clients, median(rates),
            rates.map { String(format: "%.0f", $0) }.joined(separator: " / "), cpu, cpu / Double(unitCount) * 1e6,
            median(results.map(\.driverCPU)) / Double(unitCount) * 1e6, median(results.map(\.postgresCPU)) / Double(unitCount) * 1e6, results.map(\.peakRSS).max() ?? 0,
            median(results.map(\.endRSS)), median(results.map(\.restartSeconds)), median(results.map(\.restartPeakRSS)),
            median(results.map(\.restartRSS))))
        fflush(nil)
    }
}
