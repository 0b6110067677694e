import Foundation
import PQKit
import Testing

@Suite struct QueryTests {
    @Test func parametersRoundTripWithTheirTypes() async throws {
        let connection = try await connect()
        let instant = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let result = try await connection.query(
            "SELECT $1::int8 AS i, $2::float8 AS f, $3::bool AS b, $4::text AS t, $5::bytea AS y, $6::date AS d,"
                + " $7::timestamptz AS ts, $8::text AS n, $9::float8 AS inf, $10::int4 + 1 AS narrowed",
            [
                .int(.min), .double(-1.5e-300), .bool(true), .text("웹툰 'quoted' \"x\" \\ \t\n;DROP TABLE x"),
                .bytes([0, 1, 0xFF, 0x5C]), .date(PGDate(year: 1999, month: 12, day: 31)!), .timestamp(instant),
                nil, .double(.infinity), .int(41),
            ])
        let row = try #require(result.rows.first)
        #expect(result.rows.count == 1 && result.affectedRows == 1 && result.commandTag == "SELECT 1")
        #expect(result.columns.map(\.name) == ["i", "f", "b", "t", "y", "d", "ts", "n", "inf", "narrowed"])
        #expect(result.columns.first?.typeOID == 20)
        #expect(try row.value("i", as: Int64.self) == .min)
        #expect(try row.value("f", as: Double.self) == -1.5e-300)
        #expect(try row.value("b", as: Bool.self) == true)
        #expect(try row.value("t", as: String.self) == "웹툰 'quoted' \"x\" \\ \t\n;DROP TABLE x")
        #expect(try row.value("y", as: [UInt8].self) == [0, 1, 0xFF, 0x5C])
        #expect(try row.value("d", as: PGDate.self) == PGDate(year: 1999, month: 12, day: 31))
        let ts = try #require(try row.value("ts", as: Date.self))
        #expect(abs(ts.timeIntervalSince(instant)) < 0.000_001)
        #expect(try row.value("n", as: String.self) == nil)
        #expect(try row.value("inf", as: Double.self) == .infinity)
        #expect(try row.value("narrowed", as: Int.self) == 42)
        let decodeError = #expect(throws: PGError.self) { try row.value("t", as: Int.self) }
        #expect(decodeError?.code == .decoding)
        #expect(throws: PGError.self) { try row.value("missing", as: Int.self) }
        let nul = await #expect(throws: PGError.self) { try await connection.query("SELECT $1", [.text("a\u{0}b")]) }
        #expect(nul?.code == .invalidArgument)
        await connection.close()
    }

    @Test func undefinedTableCarriesSQLStateAndOperation() async throws {
        let connection = try await connect()
        let error = await #expect(throws: PGError.self) {
            try await connection.query("SELECT * FROM pqkit_no_such_table_for_sure")
        }
        #expect(error?.code == .server)
        #expect(error?.sqlState == "42P01")
        #expect(error?.operation == "query")
        #expect(error?.message.contains("pqkit_no_such_table_for_sure") == true)
        // The connection is still usable after a server error.
        #expect(try await connection.query("SELECT 1").rows.first?.value(0, as: Int.self) == 1)
        await connection.close()
    }

    @Test func uniqueViolationCarriesDetail() async throws {
        try await withScratchSchema { connection, _, schema in
            try await connection.execute("CREATE TABLE " + schema + ".u (id int8 PRIMARY KEY, name text)")
            #expect(try await connection.execute("INSERT INTO " + schema + ".u VALUES ($1, $2), ($3, $4)", [.int(1), .text("a"), .int(2), nil]) == 2)
            let error = await #expect(throws: PGError.self) {
                try await connection.execute("INSERT INTO " + schema + ".u VALUES ($1, $2)", [.int(1), .text("again")])
            }
            #expect(error?.sqlState == "23505")
            #expect(error?.detail == "Key (id)=(1) already exists.")
            #expect(error?.description.contains("[23505]") == true)
            #expect(try await connection.execute("UPDATE " + schema + ".u SET name = $1", [.text("z")]) == 2)
        }
    }

    @Test func transactionsCommitOnSuccessAndRollBackOnThrow() async throws {
        struct Boom: Error {}
        try await withScratchSchema { connection, _, schema in
            let table = schema + ".t"
            try await connection.execute("CREATE TABLE " + table + " (id int8)")
            let value = try await connection.withTransaction { tx in
                try await tx.execute("INSERT INTO " + table + " VALUES ($1)", [.int(1)])
                return "done"
            }
            #expect(value == "done")
            await #expect(throws: Boom.self) {
                try await connection.withTransaction { tx in
                    try await tx.execute("INSERT INTO " + table + " VALUES ($1)", [.int(2)])
                    throw Boom()
                }
            }
            #expect(try await count(connection, table) == 1)

            // A swallowed server error leaves the transaction aborted: COMMIT must not look like success.
            let aborted = await #expect(throws: PGError.self) {
                try await connection.withTransaction { tx in
                    try await tx.execute("INSERT INTO " + table + " VALUES ($1)", [.int(3)])
                    _ = try? await tx.query("SELECT * FROM pqkit_missing_table")
                }
            }
            #expect(aborted?.operation == "commit")
            #expect(try await count(connection, table) == 1)

            let nested = await #expect(throws: PGError.self) {
                try await connection.withTransaction { tx in try await tx.withTransaction { _ in } }
            }
            #expect(nested?.message.contains("already open") == true)
            #expect(try await connection.query("SELECT 1").rows.count == 1)
        }
    }

    @Test func unreachableServerNamesHostAndPortButNotThePassword() async throws {
        // Port 1 on loopback: nothing listens there (a privileged port no test server uses).
        let error = await #expect(throws: PGError.self) {
            try await PGConnection.connect("postgresql://postgres:s3cretpw@127.0.0.1:1/webtoon?connect_timeout=5")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.operation == "connect to 127.0.0.1:1/webtoon")
        #expect(error?.description.contains("127.0.0.1") == true)
        #expect(error?.description.contains("s3cretpw") == false)

        let malformed = await #expect(throws: PGError.self) {
            try await PGConnection.connect("postgresql://postgres:s3cretpw@[::1/webtoon")
        }
        #expect(malformed?.code == .connectionFailed)
        #expect(malformed?.description.contains("s3cretpw") == false)
    }

    @Test func closedConnectionRefusesCalls() async throws {
        let connection = try await connect()
        await connection.close()
        await connection.close()
        let error = await #expect(throws: PGError.self) { try await connection.query("SELECT 1") }
        #expect(error?.code == .closed)
    }

    /// Blocking libpq calls run on the connections' own threads: four 0.5 s sleeps overlap even though the
    /// cooperative pool has only two threads, and a pool task keeps running meanwhile.
    @Test func blockingCallsDoNotOccupyTheCooperativePool() async throws {
        var connections: [PGConnection] = []
        for _ in 0..<4 { connections.append(try await connect()) }
        let clock = ContinuousClock()
        let start = clock.now
        let ticks = try await withThrowingTaskGroup(of: Int.self) { group in
            for connection in connections {
                group.addTask {
                    _ = try await connection.query("SELECT pg_sleep($1)", [.double(0.5)])
                    return 0
                }
            }
            group.addTask {
                var ticks = 0
                while clock.now - start < .milliseconds(400) {
                    try await Task.sleep(for: .milliseconds(10))
                    ticks += 1
                }
                return ticks
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        #expect(elapsed < .milliseconds(1_500), "four 0.5 s queries took \(elapsed)")
        #expect(ticks >= 10)
        for connection in connections { await connection.close() }
    }
}
