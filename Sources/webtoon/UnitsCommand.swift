import ArgumentParser
import ClusterCore
import ClusterKit
import Foundation
import Logging
import PQKit

/// `webtoon units`: inspect and replay units in the ledger (PostgreSQL) directly.
struct UnitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "units",
        abstract: "List units in the ledger, or send dead units back to pending.",
        subcommands: [UnitsListCommand.self, UnitsRetryCommand.self],
        defaultSubcommand: UnitsListCommand.self
    )
}

struct LedgerOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL of the ledger (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "PostgreSQL schema of the ledger tables.")
    var schema: String = "cluster"

    @Option(help: "Only this run id (e.g. 2026-11-25.daily.kakao+naver).")
    var run: String?

    func validate() throws {
        try ClusterSupport.validateSchema(schema)
        if let run, RunID(rawValue: run) == nil { throw ValidationError("--run must match [a-z0-9._+-]{1,96}") }
    }
}

struct UnitsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List units (by default: counts per run, platform, kind and state).")

    @OptionGroup var ledger: LedgerOptions

    @Flag(help: "List dead units with their last error.")
    var dead = false

    func run() async throws {
        let connection = try await PGConnection.connect(try ClusterSupport.databaseURL(ledger.databaseURL))
        let s = try await connection.quoteIdentifier(ledger.schema)
        let filter = ledger.run.map { [PGValue?.some(.text($0))] } ?? []
        if dead {
            let result = try await connection.query(
                "SELECT id, run_id, platform, kind, attempts, coalesce(last_error, '') FROM \(s).unit_states WHERE state = 'dead'"
                    + (ledger.run == nil ? "" : " AND run_id = $1") + " ORDER BY run_id, platform, kind, id", filter)
            for row in result.rows {
                let fields = try (0..<6).map { try row.value($0, as: String.self) ?? "" }
                print(fields.joined(separator: "\t"))
            }
            print("\(result.rows.count) dead unit(s)")
        } else {
            let result = try await connection.query(
                "SELECT run_id, platform, kind, state, count(*)::text FROM \(s).unit_states"
                    + (ledger.run == nil ? "" : " WHERE run_id = $1") + " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4", filter)
            for row in result.rows {
                print(try (0..<5).map { try row.value($0, as: String.self) ?? "" }.joined(separator: "\t"))
            }
        }
        await connection.close()
    }
}

/// Replay of dead units. Online (`--coordinator`): an authenticated `retryDead` message to the running coordinator,
/// which applies it through its ledger and commits before answering, so workers get the units at once. Offline
/// (no `--coordinator`): edits the ledger through the same state machine, and therefore refuses while a
/// coordinator holds the ledger (its memory would not know); then restart the coordinator with `--resume`.
struct UnitsRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Send dead units back to pending (attempts reset), through the running coordinator or offline.",
        discussion: """
            With --coordinator the running coordinator applies the retry (durably, before it answers) and its workers \
            pick the units up; the secret comes from --secret-file or $WEBTOON_CLUSTER_SECRET. Without it the ledger \
            is edited directly, which needs the coordinator stopped; then start it with --resume.
            """)

    @OptionGroup var ledger: LedgerOptions

    @Option(help: "A running coordinator's nng address (tcp://HOST:PORT or tls+tcp://HOST:PORT): retry through it.")
    var coordinator: String?

    @Option(name: .customLong("secret-file"), help: "File holding the cluster secret (default: $WEBTOON_CLUSTER_SECRET); with --coordinator.")
    var secretFile: String?

    @OptionGroup var tls: CoordinatorTLSOptions

    @Flag(name: .customLong("all-dead"), help: "Retry every dead unit (of --run, if given).")
    var allDead = false

    @Argument(help: "Unit ids (32 hex digits) to retry.")
    var ids: [String] = []

    func validate() throws {
        guard allDead != !ids.isEmpty else { throw ValidationError("give unit ids or --all-dead (not both)") }
        for id in ids where UnitID(rawValue: id) == nil { throw ValidationError("\(id) is not a unit id (32 lowercase hex digits)") }
        if let coordinator, !(coordinator.hasPrefix("tcp://") || coordinator.hasPrefix("tls+tcp://")) {
            throw ValidationError("--coordinator must be tcp://HOST:PORT or tls+tcp://HOST:PORT")
        }
    }

    func run() async throws {
        let units = allDead ? nil : ids.compactMap(UnitID.init(rawValue:))
        let run = ledger.run.flatMap(RunID.init(rawValue:))
        if let coordinator {
            let client = try await CoordinatorClient(
                coordinatorURL: coordinator, tls: try tls.config(for: coordinator),
                secret: try ClusterSupport.secret(file: secretFile), sender: "units-retry")
            defer { client.close() }
            let retried = try await client.retryDead(units: units, run: run)
            for id in retried { print(id) }
            print("\(retried.count) unit(s) back to pending in the running coordinator")
            return
        }
        let url = try ClusterSupport.databaseURL(ledger.databaseURL)
        let lock = try await PGConnection.connect(url)
        guard try await ClusterSupport.tryLedgerLock(lock, schema: ledger.schema) else {
            await lock.close()
            throw ValidationError(
                "a coordinator is running on schema \(ledger.schema); retry through it with --coordinator tcp://HOST:PORT, "
                    + "or stop it, retry, then restart it with --resume")
        }
        let connection = try await PGConnection.connect(url)
        let store = try PostgresLedgerStore(connection: connection, schema: ledger.schema, logger: Logger(label: "webtoon.units"))
        var state = try await store.loadLedger(config: LedgerConfig())
        let retried = state.retry(ids: units, run: run, now: systemTimestamp())
        try await store.persist(state.drainChanges())
        await connection.close()
        await lock.close()
        for id in retried { print(id) }
        print("\(retried.count) unit(s) back to pending; start the coordinator with --resume")
    }
}
