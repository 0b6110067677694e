import ArgumentParser
import ClusterCore
import ClusterKit
import CrawlCluster
import Foundation
import Logging
import NNGKit
import Synchronization
import UnixSignals
import WebtoonSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `webtoon run`: a whole cluster on this machine, as separate processes of this executable.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a crawl on a local cluster: simulator, coordinator and N worker processes.",
        discussion: """
            Starts the platform simulator in this process (unless --live), then `webtoon coordinator` and \
            --workers `webtoon worker` processes of this same executable, shows progress while the run goes, \
            stops everything cleanly and prints the summary. A fresh cluster secret is generated and passed to the \
            children in their environment. Child logs go to DATA-ROOT/logs/. The ledger lives in --schema of \
            $DATABASE_URL (or --database-url).
            """
    )

    @Option(help: "Worker processes.")
    var workers: Int = 3

    @Option(help: "Units each worker runs at once (default: 32 against the simulator, 4 with --live).")
    var concurrency: Int?

    @Option(help: "Units each worker leases ahead of a free slot (default: 4 against the simulator, 2 with --live).")
    var prefetch: Int?

    @Option(name: .customLong("max-in-flight"), help: "Requests in flight per platform per worker (default: 128 against the simulator; 0 or --live: the catalogs' 5 Naver / 8 Kakao).")
    var maxInFlight: Int?

    @Option(name: .customLong("episode-parallelism"), help: "Episodes of one episode unit fetched at once (default: 20 against the simulator, 4 with --live).")
    var episodeParallelism: Int?

    @Option(name: .customLong("idle-poll-ms"), help: "How long an idle worker waits before asking for units again.")
    var idlePollMilliseconds: Int = 50

    @Option(help: "Platforms: naver, kakao or naver,kakao.")
    var platforms: String = "naver,kakao"

    @Option(help: "daily or full.")
    var mode: String = "daily"

    @Option(help: "KST crawl date YYYY-MM-DD (default: the simulator's date, or today in KST with --live).")
    var date: String?

    @Option(help: "Simulator catalog size: small, medium or full.")
    var scale: SimulatorScale = .small

    @Option(help: "Simulator seed.")
    var seed: UInt64 = 42

    @Flag(help: "Crawl the real platforms instead of the simulator (polite default rates).")
    var live = false

    @Option(name: .customLong("data-root"), help: "Output folder (Parquet under optimized/, raw under raw/, logs under logs/).")
    var dataRoot: String = "webtoon-data"

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL of the ledger (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "PostgreSQL schema of the ledger.")
    var schema: String = "webtoon_run"

    @Flag(name: .customLong("no-load"), help: "Stop after the crawl: no reduce, load or model build.")
    var noLoad = false

    @Option(name: .customLong("memory-budget"), help: "Reduce sort memory budget, e.g. 1GiB.")
    var memoryBudget: String = "1GiB"

    @Option(name: .customLong("warehouse-suffix"), help: "Suffix of the warehouse/site/dashboard schemas; none by default.")
    var warehouseSuffix: String?

    @Flag(help: "Continue the run if the ledger already has it.")
    var resume = false

    @Flag(
        name: .customLong("replace-changed-run"),
        help: "Replace warehouse slices this run id loaded before with other content (the ledger was reset and the run crawled again).")
    var replaceChangedRun = false

    @Option(name: .customLong("batch-size"), help: "Episodes per episode unit (part of the run's plan; a resumed run keeps its own).")
    var batchSize: Int?

    @Option(name: .customLong("max-attempts"), help: "Leases a unit may use before it is dead.")
    var maxAttempts: Int = 5

    @Option(name: .customLong("lease-seconds"), help: "Lease length without a heartbeat.")
    var leaseSeconds: Int = 20

    @Option(name: .customLong("rate"), help: "Cluster-wide requests/s per platform (default: 50000 simulated, so the budget never binds; 2 rising to 10 live).")
    var rate: Double?

    @Option(name: .customLong("latency-ms"), help: "Simulator latency per request.")
    var latencyMilliseconds: Int = 0

    @Option(name: .customLong("fault-5xx"), help: "Simulator: probability of a 5xx answer.")
    var fault5xx: Double = 0

    @Option(name: .customLong("fault-429"), help: "Simulator: probability of a 429 answer.")
    var fault429: Double = 0

    @Option(name: .customLong("fault-reset"), help: "Simulator: probability of a connection reset.")
    var faultReset: Double = 0

    @Option(name: .customLong("log-level"), help: "Children's log level.")
    var logLevel: String = "notice"

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be in 1...64") }
        if let concurrency, !(1...256).contains(concurrency) { throw ValidationError("--concurrency must be in 1...256") }
        _ = try ClusterSupport.runSpec(platforms: platforms, mode: mode, date: date)
        try ClusterSupport.validateSchema(schema)
        try ClusterSupport.validateLogLevel(logLevel)
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        if let batchSize, !(1...RunSpec.maxEpisodeBatchSize).contains(batchSize) { throw ValidationError("--batch-size must be in 1...\(RunSpec.maxEpisodeBatchSize)") }
        if let prefetch, !(0...256).contains(prefetch) { throw ValidationError("--prefetch must be in 0...256") }
        if let maxInFlight, !(0...1_000).contains(maxInFlight) { throw ValidationError("--max-in-flight must be in 0...1000") }
        if let episodeParallelism, !(1...1_000).contains(episodeParallelism) {
            throw ValidationError("--episode-parallelism must be in 1...1000")
        }
        guard (10...60_000).contains(idlePollMilliseconds) else { throw ValidationError("--idle-poll-ms must be in 10...60000") }
        guard (0...60_000).contains(latencyMilliseconds) else { throw ValidationError("--latency-ms must be in 0...60000") }
        if live && (latencyMilliseconds > 0 || fault5xx > 0 || fault429 > 0 || faultReset > 0) {
            throw ValidationError("--latency-ms and --fault-* shape the simulator; drop them with --live")
        }
        do { try faults.validate() } catch { throw ValidationError(error.detail) }
    }

    var faults: SimulatorFaults {
        SimulatorFaults(
            latencyMilliseconds: latencyMilliseconds, serverErrorRate: fault5xx, tooManyRequestsRate: fault429,
            resetRate: faultReset)
    }

    /// Politeness for a simulated run: the simulator is ours and local, so the defaults are sized to measure the
    /// machinery (in-flight and rate caps that do not bind); `--live` keeps the catalogs' and the coordinator's
    /// polite defaults.
    /// Sized from the daily crawl at 30 ms latency (docs/bench/cluster.md, section 4): with 16 units and 32
    /// requests in flight per worker the crawl was paced by its request pattern, not by CPU.
    static let simulatedRate = 50_000.0
    static let simulatedMaxInFlight = 128
    static let simulatedEpisodeParallelism = 20
    static let simulatedConcurrency = 32
    static let simulatedPrefetch = 4

    func run() async throws {
        let started = ContinuousClock.now
        let startedWall = systemTimestamp()
        let databaseURL = try ClusterSupport.databaseURL(self.databaseURL)
        let rootPath = URL(fileURLWithPath: dataRoot).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: rootPath + "/logs", withIntermediateDirectories: true)

        var simulator: PlatformSimulator?
        var crawlDate = date
        if !live {
            let configuration = SimulatorConfiguration(
                seed: seed, scale: scale, date: date ?? "2026-11-25", faults: faults)
            let sim = try await PlatformSimulator.start(configuration: configuration, host: "127.0.0.1", port: 0)
            simulator = sim
            crawlDate = sim.date
            print("simulator at \(sim.baseURL) (seed \(seed), scale \(scale.rawValue), date \(sim.date))")
            fflush(nil)
        }
        let spec = try ClusterSupport.runSpec(platforms: platforms, mode: mode, date: crawlDate)
        let secret = Self.randomSecret()
        let port = try freeLoopbackPort()
        let address = "tcp://127.0.0.1:\(port)"
        let cluster = LocalCluster(
            executable: try Self.executablePath(), logDirectory: rootPath + "/logs",
            environment: ["WEBTOON_CLUSTER_SECRET": secret, "DATABASE_URL": databaseURL])

        let outcome: Result<RunStatus, any Error>
        do {
            var coordinatorArguments = [
                "coordinator", "--listen", address, "--schema", schema, "--platforms", spec.platforms.joined(separator: ","),
                "--mode", spec.mode.rawValue, "--date", spec.crawlDate, "--exit-when-done",
                "--max-attempts", "\(maxAttempts)", "--lease-seconds", "\(leaseSeconds)", "--idle-poll-ms", "\(idlePollMilliseconds)",
                "--initial-rate", "\(rate ?? (live ? 2 : Self.simulatedRate))", "--max-rate", "\(rate ?? (live ? 10 : Self.simulatedRate))",
                "--log-level", logLevel,
            ]
            if resume { coordinatorArguments.append("--resume") }
            if let batchSize { coordinatorArguments += ["--batch-size", "\(batchSize)"] }
            try cluster.start(name: "coordinator", coordinatorArguments)
            for index in 1...workers {
                var arguments = [
                    "worker", "--coordinator", address, "--data-root", "file://" + rootPath, "--concurrency", "\(concurrency ?? (live ? 4 : Self.simulatedConcurrency))",
                    "--prefetch", "\(prefetch ?? (live ? 2 : Self.simulatedPrefetch))", "--episode-parallelism", "\(episodeParallelism ?? (live ? 4 : Self.simulatedEpisodeParallelism))",
                    "--platforms", spec.platforms.joined(separator: ","), "--id", "worker-\(index)", "--log-level", logLevel,
                ]
                if let limit = maxInFlight ?? (live ? nil : Self.simulatedMaxInFlight), limit > 0 { arguments += ["--max-in-flight", "\(limit)"] }
                if let simulator { arguments += ["--base-url", simulator.baseURL] }
                try cluster.start(name: "worker-\(index)", arguments)
            }
            outcome = await Self.superviseWithSignals(cluster: cluster, address: address, secret: Array(secret.utf8), run: spec.defaultID)
        }
        let finishSeen = ContinuousClock.now
        await cluster.stopAll(grace: .seconds(10))
        await simulator?.shutdown()
        let stopped = ContinuousClock.now
        let elapsed = stopped - started

        let status = try outcome.get()
        print(Self.describe(status, elapsed: elapsed, dataRoot: rootPath))
        var timing = Self.crawlTiming(status, startedWall: startedWall, untilFinishSeen: finishSeen - started, stopping: stopped - finishSeen)
        let resources = ClusterSupport.Resources.current()
        print(
            "this process (\(live ? "supervisor" : "simulator + supervisor")): cpu user \(Self.fixed(resources.userSeconds, 2)) s, "
                + "sys \(Self.fixed(resources.systemSeconds, 2)) s, peak RSS \(resources.maxRSSKiB / 1024) MiB")
        fflush(nil)
        if status.counts.dead > 0 {
            print(timing.joined(separator: ", "))
            throw ExitCode(2)
        }
        // Reduce the ledger's accepted outputs, load the warehouse and build the models.
        guard !noLoad else {
            print(timing.joined(separator: ", ") + ", total \(Self.fixed(Self.seconds(ContinuousClock.now - started), 2)) s")
            return
        }
        var options = WarehouseOptions()
        options.databaseURL = databaseURL
        options.schema = schema
        options.warehouseSuffix = warehouseSuffix
        options.replaceChangedRun = replaceChangedRun
        options.logLevel = logLevel
        let logger = ClusterSupport.logger("webtoon.run", level: logLevel)
        var phase = ContinuousClock.now
        func lap(_ name: String) {
            let now = ContinuousClock.now
            timing.append("\(name) \(Self.fixed(Self.seconds(now - phase), 2)) s")
            phase = now
        }
        try await ReducePipeline.complete(
            run: status.id.rawValue, dataRoot: rootPath, memoryBudget: memoryBudget, options: options, logger: logger,
            finished: lap)
        print(timing.joined(separator: ", ") + ", total \(Self.fixed(Self.seconds(ContinuousClock.now - started), 2)) s")
    }

    /// Where a run's wall time went, from the ledger's own timestamps: start-up (simulator, coordinator
    /// migrations) until the run was created, the crawl (run created → finished, as the ledger recorded it), the
    /// supervisor noticing the end, and stopping the processes.
    static func crawlTiming(_ status: RunStatus, startedWall: Timestamp, untilFinishSeen: Duration, stopping: Duration) -> [String] {
        guard let finished = status.finishedAt else { return ["timing: the run has no finish time"] }
        // With --resume the run may have been created by an earlier invocation: count the crawl from our start.
        let created = max(status.createdAt, startedWall)
        let crawl = Double(finished.millis(since: created)) / 1000
        let startup = Double(created.millis(since: startedWall)) / 1000
        let noticed = max(0, seconds(untilFinishSeen) - startup - crawl)
        return [
            "timing: start-up \(fixed(startup, 2)) s",
            "crawl \(fixed(crawl, 2)) s (\(fixed(Double(status.totals.stats.requests) / max(crawl, 0.001), 0)) requests/s)",
            "end noticed \(fixed(noticed, 2)) s", "stop \(fixed(seconds(stopping), 2)) s",
        ]
    }

    /// Waits for the run to finish (showing progress), or for SIGINT/SIGTERM, or for the coordinator to die.
    static func superviseWithSignals(
        cluster: LocalCluster, address: String, secret: [UInt8], run: RunID
    ) async -> Result<RunStatus, any Error> {
        await withTaskGroup(of: Result<RunStatus, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await supervise(cluster: cluster, address: address, secret: secret, run: run)) } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
                for await signal in signals {
                    return .failure(ValidationError("stopped by \(signal); restart with --resume to continue the run"))
                }
                return nil
            }
            var result: Result<RunStatus, any Error> = .failure(CancellationError())
            for await value in group {
                if let value {
                    result = value
                    break
                }
            }
            group.cancelAll()
            return result
        }
    }

    static func supervise(cluster: LocalCluster, address: String, secret: [UInt8], run: RunID) async throws -> RunStatus {
        // In the background: the coordinator was just started and may not listen yet.
        let client = try await CoordinatorClient(
            coordinatorURL: address, secret: secret, sender: "webtoon-run", timeout: .seconds(1), connection: .background)
        defer { client.close() }
        let terminal = isatty(STDERR_FILENO) != 0
        let started = ContinuousClock.now
        var lastLine = ContinuousClock.now - .seconds(10)
        while true {
            try await Task.sleep(for: .milliseconds(250))
            if let exited = cluster.exited(name: "coordinator") {
                throw ValidationError("the coordinator exited with status \(exited) before the run finished; see its log")
            }
            guard let status = try? await client.status(includeWorkers: false),
                let current = status.runs.first(where: { $0.id == run })
            else { continue }
            let counts = current.counts
            let total = counts.pending + counts.leased + counts.done + counts.dead
            if current.state == .finished {
                if terminal { writeStandardError("\r\u{1B}[K") }
                return current
            }
            let now = ContinuousClock.now
            guard now - lastLine >= (terminal ? .milliseconds(250) : .seconds(5)) else { continue }
            lastLine = now
            let seconds = seconds(now - started)
            let rate = Double(counts.done + counts.dead) / max(seconds, 0.001)
            let eta = current.etaMillis.map { "\($0 / 1000) s" } ?? "?"
            let line = "units \(counts.done + counts.dead)/\(total) (leased \(counts.leased), dead \(counts.dead)), \(fixed(rate, 1)) units/s, ETA \(eta)"
            writeStandardError(terminal ? "\r\u{1B}[K" + line : line + "\n")
        }
    }

    static func describe(_ status: RunStatus, elapsed: Duration, dataRoot: String) -> String {
        let t = status.totals
        let c = status.counts
        let seconds = seconds(elapsed)
        return [
            "run \(status.id): units \(c.done + c.dead) (done \(c.done), dead \(c.dead))",
            "requests \(t.stats.requests), retries \(t.stats.retries), 429 \(t.stats.status429), 403 \(t.stats.status403), "
                + "5xx \(t.stats.status5xx), fetched \(t.stats.bytes) bytes",
            "rows " + t.rowsByTable.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
            "files \(t.files), \(t.outputBytes) bytes under \(dataRoot)/optimized; lease expiries \(t.leaseExpiries), failures \(t.failures)",
            "wall time \(fixed(seconds, 2)) s, \(fixed(Double(t.stats.requests) / max(seconds, 0.001), 1)) requests/s",
        ].joined(separator: "\n")
    }

    static func writeStandardError(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { CrawlCommand.fixed(value, digits) }

    static func randomSecret() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &rng), radix: 16) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }

    /// This executable's own path (children are the same binary).
    static func executablePath() throws -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments[0]
    }
}

/// Child processes of one local cluster, each logging to `<logDirectory>/<name>.log`.
final class LocalCluster: Sendable {
    let executable: String
    let logDirectory: String
    let environment: [String: String]
    private let children = Mutex<[String: Process]>([:])

    init(executable: String, logDirectory: String, environment: [String: String]) {
        self.executable = executable
        self.logDirectory = logDirectory
        self.environment = environment
    }

    func start(name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let logPath = "\(logDirectory)/\(name).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw ValidationError("cannot create \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        children.withLock { $0[name] = process }
    }

    /// The exit status of a child that ended, nil while it runs.
    func exited(name: String) -> Int32? {
        children.withLock { children in
            guard let process = children[name], !process.isRunning else { return nil }
            return process.terminationStatus
        }
    }

    /// SIGTERM to every child still running (workers drain, the coordinator stops), SIGKILL after `grace`.
    func stopAll(grace: Duration) async {
        let processes = children.withLock { Array($0.values) }
        // Workers first, so their goodbyes reach a live coordinator.
        for process in processes where process.isRunning && process.arguments?.first == "worker" { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while processes.contains(where: { $0.isRunning && $0.arguments?.first == "worker" }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while processes.contains(where: \.isRunning) { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
