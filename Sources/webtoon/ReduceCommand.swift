import ArgumentParser
import ClusterCore
import ClusterKit
import CrawlCluster
import CrawlReduce
import Foundation
import Logging
import PQKit
import ReducerCore
import ServiceLifecycle
import UnixSignals
import Warehouse

/// Options every reduce/load/models command shares.
struct WarehouseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "PostgreSQL schema of the cluster ledger.")
    var schema: String = "cluster"

    @Option(
        name: .customLong("warehouse-suffix"),
        help: "Suffix of the warehouse/site/dashboard schemas (e.g. `t1` uses warehouse_t1…); none by default.")
    var warehouseSuffix: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "notice"

    @Flag(
        name: .customLong("replace-changed-run"),
        help: "When loading: replace slices this run id loaded before with other content (after a ledger reset re-crawled the run, or a reducer upgrade); refused otherwise.")
    var replaceChangedRun = false

    var schemas: WarehouseSchemas { warehouseSuffix.map { WarehouseSchemas(suffix: $0) } ?? WarehouseSchemas() }

    func connect() async throws -> PGConnection {
        try await PGConnection.connect(try ClusterSupport.databaseURL(databaseURL))
    }

    /// The ledger's accepted outputs of `run`.
    func acceptedOutputs(run: String, logger: Logger) async throws -> [AcceptedOutput] {
        try ClusterSupport.validateSchema(schema)
        guard let runID = RunID(rawValue: run) else { throw ValidationError("--run \"\(run)\" is not a run id") }
        let connection = try await connect()
        let outputs: [AcceptedOutput]
        do {
            outputs = try await PostgresLedgerStore(connection: connection, schema: schema, logger: logger)
                .acceptedOutputs(run: runID)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        guard !outputs.isEmpty else { throw ValidationError("run \(run) has no accepted outputs in schema \(schema)") }
        return outputs
    }
}

/// The reduce → load → models pipeline shared by `reduce`, `load` and `run`.
enum ReducePipeline {
    /// `outputs`: the run's accepted outputs when the caller has them already (read from the ledger otherwise).
    static func reduce(
        run: String, outputs known: [AcceptedOutput]? = nil, dataRoot: String, memoryBudget: String,
        options: WarehouseOptions, logger: Logger
    ) async throws -> RunReduceSummary {
        guard let budget = RunReducer.parseBytes(memoryBudget), budget >= 1 << 20 else {
            throw ValidationError("--memory-budget \"\(memoryBudget)\" must be a size of at least 1MiB, e.g. 1GiB")
        }
        let root = try DataRoot(url: dataRoot.hasPrefix("file://") ? dataRoot : "file://" + absolute(dataRoot))
        let outputs = if let known { known } else { try await options.acceptedOutputs(run: run, logger: logger) }
        let summary = try await RunReducer(dataRoot: root, memoryBudget: budget, logger: logger)
            .reduceOnDedicatedThread(outputs: outputs, runID: run)
        for table in summary.tables {
            print("reduced \(table.table): \(table.inputRows) rows in, \(table.outputRows) rows out, \(table.partitions.count) partitions")
        }
        return summary
    }

    /// `outputs` as for `reduce`.
    static func load(
        run: String, outputs known: [AcceptedOutput]? = nil, dataRoot: String, options: WarehouseOptions, logger: Logger
    ) async throws -> RunLoadSummary {
        let root = try DataRoot(url: dataRoot.hasPrefix("file://") ? dataRoot : "file://" + absolute(dataRoot))
        let outputs = if let known { known } else { try await options.acceptedOutputs(run: run, logger: logger) }
        let slices = try RunReducer.slices(of: outputs)
        let connection = try await options.connect()
        do {
            // A progress line on stderr: rewritten in place on a terminal, one line every 5 s otherwise.
            let terminal = isatty(STDERR_FILENO) != 0
            var shown = false
            let summary = try await RunLoader(
                schemas: options.schemas, replacingChangedRuns: options.replaceChangedRun, logger: logger
            ).load(
                processedRoot: root.path + "/processed", days: Set(slices.map(\.snapshotDate)), runID: run,
                on: connection, progressInterval: terminal ? .milliseconds(500) : .seconds(5)
            ) { progress in
                guard progress.rows < progress.totalRows else { return }
                shown = true
                let line = loadProgressLine(progress)
                RunCommand.writeStandardError(terminal ? "\r\u{1B}[K" + line : line + "\n")
            }
            if shown && terminal { RunCommand.writeStandardError("\r\u{1B}[K") }
            await connection.close()
            for table in ProcessedTable.allCases where summary.rowsPerTable[table] != nil {
                print("loaded \(table): \(summary.rowsPerTable[table]!) rows")
            }
            print("slices replaced: \(summary.replacedSlices) of \(summary.results.count)")
            return summary
        } catch {
            await connection.close()
            throw error
        }
    }

    /// `load 120000/500000 rows (episodes kakao 2026-11-25), 250000 rows/s, ETA 2 s`.
    static func loadProgressLine(_ p: RunLoadProgress) -> String {
        let eta = p.estimatedSecondsRemaining.map { "\(Int($0.rounded(.up))) s" } ?? "?"
        return "load \(p.rows)/\(p.totalRows) rows (\(p.table) \(p.platform) \(p.snapshotDate)), "
            + "\(Int(p.rowsPerSecond)) rows/s, ETA \(eta)"
    }

    /// The whole pipeline of one finished run (`webtoon run` and `reduce --watch`), noted as completed once its data
    /// tests passed, so a following reducer leaves it alone. The accepted outputs are read from the ledger once.
    /// `finished` is told each phase's name as it ends (reduce, load, models).
    static func complete(
        run: String, dataRoot: String, memoryBudget: String, options: WarehouseOptions, logger: Logger,
        finished: (String) -> Void = { _ in }
    ) async throws {
        let outputs = try await options.acceptedOutputs(run: run, logger: logger)
        let reduced = try await reduce(
            run: run, outputs: outputs, dataRoot: dataRoot, memoryBudget: memoryBudget, options: options, logger: logger)
        finished("reduce")
        let loaded = try await load(run: run, outputs: outputs, dataRoot: dataRoot, options: options, logger: logger)
        finished("load")
        try await buildModels(options: options, logger: logger)
        try await recordCompleted(run: run, reduced: reduced, loaded: loaded, options: options, logger: logger)
        finished("models")
    }

    private static func recordCompleted(
        run: String, reduced: RunReduceSummary, loaded: RunLoadSummary, options: WarehouseOptions, logger: Logger
    ) async throws {
        let connection = try await options.connect()
        do {
            try await CompletedRuns(schemas: options.schemas, logger: logger).record(
                runID: run, inputFiles: reduced.inputFiles, loadedRows: loaded.rowsPerTable.values.reduce(0, +),
                on: connection)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    static func buildModels(options: WarehouseOptions, logger: Logger) async throws {
        let connection = try await options.connect()
        do {
            let report = try await RunLoader(schemas: options.schemas, logger: logger).buildModels(on: connection)
            await connection.close()
            for name in report.tableRows.keys.sorted() { print("model \(name): \(report.tableRows[name]!) rows") }
            print("data tests passed: \(report.tests.count)")
        } catch {
            await connection.close()
            throw error
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// `webtoon reduce`: the accepted Parquet files of a run → `processed/` tables; with `--watch`, every run the
/// coordinator finishes → processed tables, warehouse load, models and data tests.
struct ReduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reduce",
        abstract: "Reduce the ledger's accepted outputs of a run into processed/ Parquet tables.",
        discussion: """
            With --run, reduces that run and stops (load it with `webtoon load`). With --watch, follows the ledger \
            until SIGTERM/SIGINT: each run the coordinator finishes is reduced, loaded and the models are rebuilt \
            and tested, once (completed runs are noted in the warehouse's completed_runs table, also by \
            `webtoon run`). A failing run is logged and retried after --retry-seconds.
            """)

    @Option(help: "Run id (e.g. 2026-11-25.daily.kakao+naver).")
    var run: String?

    @Flag(help: "Follow the ledger: reduce, load and model every finished run not completed yet, until SIGTERM.")
    var watch = false

    @Option(name: .customLong("poll-seconds"), help: "With --watch: seconds between looks at the ledger.")
    var pollSeconds: Double = 5

    @Option(name: .customLong("retry-seconds"), help: "With --watch: seconds before a failed run is tried again.")
    var retrySeconds: Double = 300

    @Option(name: .customLong("data-root"), help: "Data root: file:///absolute/path or a local folder.")
    var dataRoot: String = "webtoon-data"

    @Option(name: .customLong("memory-budget"), help: "Sort memory budget, e.g. 1GiB or 256MiB.")
    var memoryBudget: String = "1GiB"

    @OptionGroup var options: WarehouseOptions

    func validate() throws {
        guard (run != nil) != watch else { throw ValidationError("give --run ID (one run) or --watch (every finished run), not both") }
        guard pollSeconds >= 0.1, pollSeconds <= 3600 else { throw ValidationError("--poll-seconds must be between 0.1 and 3600") }
        guard retrySeconds >= 0, retrySeconds <= 86_400 else { throw ValidationError("--retry-seconds must be between 0 and 86400") }
        guard let budget = RunReducer.parseBytes(memoryBudget), budget >= 1 << 20 else {
            throw ValidationError("--memory-budget \"\(memoryBudget)\" must be a size of at least 1MiB, e.g. 1GiB")
        }
    }

    func run() async throws {
        let logger = ClusterSupport.logger("webtoon.reduce", level: options.logLevel)
        if let run {
            _ = try await ReducePipeline.reduce(
                run: run, dataRoot: dataRoot, memoryBudget: memoryBudget, options: options, logger: logger)
            return
        }
        let follower = ReduceFollower(
            dataRoot: dataRoot, memoryBudget: memoryBudget, options: options, poll: .milliseconds(Int64(pollSeconds * 1000)),
            retryAfter: .milliseconds(Int64(retrySeconds * 1000)), logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: follower, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// `webtoon reduce --watch` as a lifecycle service: polls the ledger for finished runs and completes each one
/// (reduce, load, models, data tests, noted in `completed_runs`); a run with dead units waits, as in `webtoon run`. A graceful shutdown lets the run in hand finish
/// (each step is atomic anyway) and then returns.
struct ReduceFollower: Service {
    let dataRoot: String
    let memoryBudget: String
    let options: WarehouseOptions
    let poll: Duration
    let retryAfter: Duration
    let logger: Logger

    func run() async throws {
        var queue = FollowQueue<ContinuousClock.Instant>(retryAfter: retryAfter)
        logger.notice("following the ledger for finished runs", metadata: ["schema": "\(options.schema)", "data_root": "\(dataRoot)"])
        while !Task.isShuttingDownGracefully {
            do {
                let (finished, completed) = try await lookAtLedger()
                let (due, held) = queue.next(finished: finished, completed: completed, now: .now)
                for run in held {
                    logger.warning(
                        "run finished with dead units; it is reduced once they are retried (webtoon units retry) and done",
                        metadata: ["run": "\(run.id)", "dead": "\(run.deadUnits)"])
                }
                for run in due {
                    guard !Task.isShuttingDownGracefully else { break }
                    do {
                        try await ReducePipeline.complete(
                            run: run, dataRoot: dataRoot, memoryBudget: memoryBudget, options: options, logger: logger)
                        queue.completed(run)
                        logger.notice("run completed: reduced, loaded, models built and tested", metadata: ["run": "\(run)"])
                    } catch {
                        queue.failed(run, at: .now)
                        logger.error(
                            "run failed; retrying later", metadata: ["run": "\(run)", "error": "\(error)", "retry_in": "\(retryAfter)"])
                    }
                }
            } catch {
                // The database may be restarting: keep following, the next look may succeed.
                logger.error("cannot read the ledger or the warehouse", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: poll) }
        }
    }

    /// Finished runs (ledger) and completed ones (warehouse).
    private func lookAtLedger() async throws -> ([FinishedRun], Set<String>) {
        try ClusterSupport.validateSchema(options.schema)
        let connection = try await options.connect()
        do {
            let finished = try await PostgresLedgerStore(connection: connection, schema: options.schema, logger: logger)
                .finishedRuns().map { FinishedRun(id: $0.run.rawValue, deadUnits: $0.deadUnits) }
            let completed = try await CompletedRuns(schemas: options.schemas, logger: logger).all(on: connection)
            await connection.close()
            return (finished, completed)
        } catch {
            await connection.close()
            throw error
        }
    }
}
