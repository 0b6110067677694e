import Logging
import PQKit
import Synchronization
import Testing

/// Keeps every log record so a test can read what the library reported.
final class CapturingLogHandler: LogHandler, Sendable {
    let records = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        records.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
    }
}

@Suite struct LoggingTests {
    @Test func copyAndConnectionEventsReachTheCallersLogger() async throws {
        let handler = CapturingLogHandler()
        let logger = Logger(label: "pqkit-test", factory: { _ in handler })
        let connection = try await PGConnection.connect(try databaseURL(), logger: logger)
        let schema = "pqkit_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let quoted = try await connection.quoteIdentifier(schema)
        try await connection.execute("CREATE SCHEMA " + quoted)
        try await connection.execute("CREATE TABLE " + quoted + ".l (id int8)")
        let rows = try await connection.copyIn(table: "l", schema: schema, columns: ["id"], format: .binary) {
            writer in
            for id in 1...3 as ClosedRange<Int64> { try await writer.writeRow([.int(id)]) }
        }
        #expect(rows == 3)
        try await connection.execute("DROP SCHEMA " + quoted + " CASCADE")
        await connection.close()
        let records = handler.records.withLock { $0 }
        #expect(records.map(\.message) == ["connected", "COPY done", "closing"])
        let copy = try #require(records.first { $0.message == "COPY done" })
        #expect(copy.metadata["rows"] == "3")
        // Header, 3 rows of one int8 (2 + 4 + 8 bytes) and the trailer.
        #expect(copy.metadata["bytes"] == "\(PGCopyEncoder.binaryHeader.count + 3 * 14 + 2)")
    }
}
