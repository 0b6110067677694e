import Foundation
import PQKit
import Testing

/// The server under test. Unset or unreachable is a failure, never a skip.
func databaseURL() throws -> String {
    try #require(
        ProcessInfo.processInfo.environment["DATABASE_URL"],
        "DATABASE_URL must name a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:55432/webtoon")
}

func connect() async throws -> PGConnection {
    try await PGConnection.connect(try databaseURL())
}

/// Runs `body` with a fresh schema `pqkit_test_<random>` (quoted with PQescapeIdentifier) and drops it afterwards.
func withScratchSchema<T>(
    _ body: (PGConnection, _ schema: String, _ quotedSchema: String) async throws -> T
) async throws -> T {
    let connection = try await connect()
    let schema = "pqkit_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let quoted = try await connection.quoteIdentifier(schema)
    try await connection.execute("CREATE SCHEMA " + quoted)
    do {
        let value = try await body(connection, schema, quoted)
        try await connection.execute("DROP SCHEMA " + quoted + " CASCADE")
        await connection.close()
        return value
    } catch {
        // The test's connection may be the one that broke: clean up from a fresh one.
        let cleaner = try await connect()
        try await cleaner.execute("DROP SCHEMA IF EXISTS " + quoted + " CASCADE")
        await cleaner.close()
        await connection.close()
        throw error
    }
}

func count(_ connection: PGConnection, _ table: String) async throws -> Int {
    try #require(try await connection.query("SELECT count(*) FROM " + table).rows.first?.value(0, as: Int.self))
}
