import CLibPQ
import Foundation
import Logging

/// A PostgreSQL connection over libpq. It owns a dedicated thread on which every libpq call for it runs, so callers
/// `await` and nothing blocks Swift's cooperative pool. Calls are executed one at a time, in submission order.
///
/// Statements are sent only with `PQexecParams`: values travel as parameters, never spliced into SQL. Identifiers
/// that must be dynamic (a COPY target table) go through `quoteIdentifier`, which uses `PQescapeIdentifier`.
/// Every connection runs with `client_encoding=UTF8`, `DateStyle=ISO, MDY` and `TimeZone=UTC`, which the text
/// decoders rely on.
///
/// A connection is one PostgreSQL session: calls from several tasks are serialised, but a transaction or COPY spans
/// several calls, so give each concurrent task its own connection (another task's query would otherwise run inside
/// your transaction, or fail in the middle of your COPY).
public final class PGConnection: Sendable {
    let thread: PGConnectionThread
    /// `host:port/database` of the server, never credentials: safe to log.
    public let endpoint: String
    let logger: Logger

    private init(thread: PGConnectionThread, endpoint: String, logger: Logger) {
        self.thread = thread
        self.endpoint = endpoint
        var logger = logger
        logger[metadataKey: "pq.endpoint"] = "\(endpoint)"
        self.logger = logger
    }

    deinit {
        thread.stop { state in Self.finish(state) }
    }

    /// Connects with a URL (`postgresql://user@host:port/db?...`) or a keyword/value conninfo string.
    /// `logger` receives debug events (connect, COPY totals, close); by default nothing is logged.
    public static func connect(
        _ urlOrConninfo: String,
        logger: Logger = Logger(label: "PQKit", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> PGConnection {
        let thread = PGConnectionThread(name: "pq")
        do {
            let endpoint = try await thread.run(operation: "connect") { state throws(PGError) in
                try open(state, urlOrConninfo)
            }
            let connection = PGConnection(thread: thread, endpoint: endpoint, logger: logger)
            connection.logger.debug("connected")
            return connection
        } catch {
            thread.stop { state in finish(state) }
            logger.debug("connect failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// Runs one statement with `params` bound to `$1`, `$2`, ... and returns its rows.
    public func query(_ sql: String, _ params: [PGValue?] = []) async throws -> PGResult {
        try await thread.run(operation: "query") { state throws(PGError) in
            try Self.execute(Self.live(state, "query"), sql, params, operation: "query")
        }
    }

    /// Runs one statement and returns the number of rows it affected (0 when the command reports none).
    @discardableResult
    public func execute(_ sql: String, _ params: [PGValue?] = []) async throws -> Int {
        try await query(sql, params).affectedRows ?? 0
    }

    /// `name` as a quoted SQL identifier (`PQescapeIdentifier`), for the few places SQL needs a dynamic name.
    public func quoteIdentifier(_ name: String) async throws -> String {
        try await thread.run(operation: "quote identifier") { state throws(PGError) in
            try Self.quote(Self.live(state, "quote identifier"), name)
        }
    }

    /// Runs `body` inside `BEGIN`/`COMMIT`. A throw from `body` rolls back and is rethrown. If the server already
    /// aborted the transaction (a failed statement whose error `body` swallowed), COMMIT rolls back and this throws.
    nonisolated(nonsending) public func withTransaction<T>(
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await thread.run(operation: "begin") { state throws(PGError) in
            let conn = try Self.live(state, "begin")
            guard PQtransactionStatus(conn) == PQTRANS_IDLE else {
                throw PGError(
                    code: .invalidArgument, operation: "begin",
                    message: "a transaction is already open on this connection; nested transactions are not supported")
            }
            _ = try Self.execute(conn, "BEGIN", [], operation: "begin")
        }
        let value: T
        do {
            value = try await body(self)
        } catch {
            // If the connection is gone the server has rolled back already; the caller's error is the news.
            _ = try? await thread.run(operation: "rollback") { state throws(PGError) in
                try Self.execute(Self.live(state, "rollback"), "ROLLBACK", [], operation: "rollback")
            }
            throw error
        }
        let tag = try await thread.run(operation: "commit") { state throws(PGError) in
            try Self.execute(Self.live(state, "commit"), "COMMIT", [], operation: "commit").commandTag
        }
        guard tag == "COMMIT" else {
            throw PGError(
                code: .server, operation: "commit",
                message: "the transaction had already failed, so COMMIT rolled it back (server said \(tag))")
        }
        return value
    }

    /// Streams rows into `COPY <table> (<columns>) FROM STDIN` and returns the number of rows the server stored.
    ///
    /// `produce` writes rows through the writer; rows are batched into ~256 KiB buffers, and one buffer is sent on
    /// the connection thread while the next is encoded. Sending blocks that thread (never the pool) when the
    /// server is slower than the producer, and the producer waits for the previous buffer: that is the
    /// backpressure. If `produce` throws, the COPY is aborted with `PQputCopyEnd(errormsg)` (nothing is stored)
    /// and the producer's error is rethrown; a lost connection throws `PGError` with code `.connectionLost`.
    /// A COPY outside a transaction is atomic by itself; inside `withTransaction` it commits with the transaction.
    /// Cancelling the calling task aborts the COPY at the next batch boundary (it throws `CancellationError`).
    @discardableResult
    nonisolated(nonsending) public func copyIn(
        _ copyStatement: String, format: PGCopyFormat, _ produce: (PGCopyWriter) async throws -> Void
    ) async throws -> Int {
        try await thread.run(operation: "COPY") { state throws(PGError) in
            try Self.beginCopy(Self.live(state, "COPY"), copyStatement)
        }
        let writer = PGCopyWriter(connection: self, format: format)
        let start = ContinuousClock.now
        do {
            try await produce(writer)
            try await writer.flush(final: true)
        } catch {
            let sendFailure = await writer.abandon()
            let reason = sendFailure.map { "\($0)" } ?? "producer failed: \(error)"
            _ = try? await thread.run(operation: "COPY abort") { state throws(PGError) in
                Self.abortCopy(state.conn, reason: reason)
            }
            logger.debug(
                "COPY aborted, nothing stored",
                metadata: ["rows.written": "\(writer.rowsWritten)", "error": "\(sendFailure ?? error)"])
            throw sendFailure ?? error
        }
        let rows = try await thread.run(operation: "COPY") { state throws(PGError) in
            try Self.endCopy(Self.live(state, "COPY"))
        }
        logger.debug(
            "COPY done",
            metadata: [
                "rows": "\(rows)", "bytes": "\(writer.bytesSent)", "format": "\(format.rawValue)",
                "duration": "\(ContinuousClock.now - start)",
            ])
        return rows
    }

    /// `copyIn` for a table named at run time: the statement is built with `quoteIdentifier` for the schema,
    /// table and every column, and the format option is one of two constants. `freeze` asks for `COPY … FREEZE`
    /// (rows stored already frozen), which the server allows only for a table created or truncated in the current
    /// transaction.
    @discardableResult
    nonisolated(nonsending) public func copyIn(
        table: String, schema: String? = nil, columns: [String], format: PGCopyFormat, freeze: Bool = false,
        _ produce: (PGCopyWriter) async throws -> Void
    ) async throws -> Int {
        let statement = try await thread.run(operation: "COPY") { state throws(PGError) in
            let conn = try Self.live(state, "COPY")
            var target = try Self.quote(conn, table)
            if let schema { target = try Self.quote(conn, schema) + "." + target }
            let list = try columns.map { (name: String) throws(PGError) -> String in try Self.quote(conn, name) }
            let columnList = list.isEmpty ? "" : " (" + list.joined(separator: ", ") + ")"
            let options =
                (format == .binary ? " WITH (FORMAT binary" : " WITH (FORMAT text") + (freeze ? ", FREEZE true)" : ")")
            return "COPY " + target + columnList + " FROM STDIN" + options
        }
        return try await copyIn(statement, format: format, produce)
    }

    /// Closes the connection after the calls already queued; later calls throw `.closed`.
    public func close() async {
        logger.debug("closing")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = thread.stop { state in
                Self.finish(state)
                continuation.resume()
            }
            if !accepted { continuation.resume() }
        }
    }

    /// Hands one encoded COPY buffer to the connection thread without waiting; `completion` reports the outcome.
    func sendCopyData(_ bytes: [UInt8], completion: PGCompletion) {
        let accepted = thread.submit { state in
            do throws(PGError) {
                try Self.putCopyData(Self.live(state, "COPY"), bytes)
                completion.complete(nil)
            } catch {
                completion.complete(error)
            }
        }
        if !accepted {
            completion.complete(PGError(code: .closed, operation: "COPY", message: "the connection is closed"))
        }
    }
}
