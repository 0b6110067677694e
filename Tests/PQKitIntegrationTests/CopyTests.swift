import Foundation
import PQKit
import Testing

/// A generated row of the mixed-type table; row `id` is always the same, so checks can regenerate it.
struct MixedRow: Equatable {
    var id: Int64
    var small: Int16?
    var medium: Int32?
    var big: Int64?
    var flag: Bool?
    var ratio: Double?
    var title: String?
    var payload: [UInt8]?
    var day: PGDate?
    var at: Int64?

    static let columns = ["id", "small", "medium", "big", "flag", "ratio", "title", "payload", "day", "at"]
    static let createColumns =
        "(id int8, small int2, medium int4, big int8, flag bool, ratio float8, title text, payload bytea, day date,"
        + " at timestamptz)"
    static let titles = [
        "웹툰 제목", "tab\there", "line\nbreak", "back\\slash", "\\N", "cr\rlf\r\n", "", "plain ascii", "화산귀환 🎉",
        "mixed\t\\\n웹", "\\.",
    ]

    init(id: Int64) {
        var g = SplitMix64(seed: UInt64(id) &* 0x2545_F491_4F6C_DD1D)
        func present() -> Bool { g.next() % 11 != 0 }
        self.id = id
        small = present() ? Int16(truncatingIfNeeded: g.next()) : nil
        medium = present() ? Int32(truncatingIfNeeded: g.next()) : nil
        big = present() ? Int64(bitPattern: g.next()) : nil
        flag = present() ? g.next() % 3 == 0 : nil
        ratio = present() ? Double(Int64(bitPattern: g.next()) >> 40) / 8 : nil
        title = present() ? Self.titles[Int(g.next() % UInt64(Self.titles.count))] + "#\(id)" : nil
        payload = present() ? (0..<Int(g.next() % 9)).map { _ in UInt8(truncatingIfNeeded: g.next()) } : nil
        day = present() ? PGDate(daysSinceUnixEpoch: 10_957 - 36_524 + Int(g.next() % 73_000)) : nil
        at = present() ? Int64(g.next() % 4_000_000_000_000_000) : nil
    }

    init(_ row: PGRow) throws {
        id = try #require(try row.value("id", as: Int64.self))
        small = try row.value("small")
        medium = try row.value("medium")
        big = try row.value("big")
        flag = try row.value("flag")
        ratio = try row.value("ratio")
        title = try row.value("title")
        payload = try row.value("payload")
        day = try row.value("day")
        at = try row.value("at_micros")
    }

    func encode(into row: inout PGCopyEncoder) throws {
        row.int8(id)
        if let small { row.int2(small) } else { row.null() }
        if let medium { row.int4(medium) } else { row.null() }
        if let big { row.int8(big) } else { row.null() }
        if let flag { row.bool(flag) } else { row.null() }
        if let ratio { row.float8(ratio) } else { row.null() }
        if let title { row.text(title) } else { row.null() }
        if let payload { row.bytea(payload) } else { row.null() }
        if let day { row.date(day) } else { row.null() }
        if let at { try row.timestamptz(microsecondsSinceUnixEpoch: at) } else { row.null() }
    }
}

/// Per-column aggregates, computed in Swift from the generated rows and in SQL from the table.
struct Checksums: Equatable, CustomStringConvertible {
    var values: [String] = []
    var description: String { values.joined(separator: " ") }

    static let sql =
        "SELECT count(*), count(small), sum(small), count(medium), sum(medium), count(big), sum(big), count(flag),"
        + " count(*) FILTER (WHERE flag), count(ratio), sum(ratio), count(title), sum(length(title)),"
        + " sum(octet_length(title)), count(*) FILTER (WHERE title LIKE '%\t%' OR title LIKE E'%\\\\%'),"
        + " count(payload), sum(length(payload)), count(day), sum(day - DATE '2000-01-01'), count(at),"
        + " sum((extract(epoch FROM at) * 1000000)::int8)"

    static func of(rows: Int64) -> Checksums {
        var counts = [Int](repeating: 0, count: 9)
        var small = 0, medium = 0, flags = 0, length = 0, octets = 0, special = 0, payload = 0, days = 0
        var big: Int128 = 0, at: Int128 = 0
        var ratio = 0.0
        for id in 1...rows {
            let row = MixedRow(id: id)
            if let v = row.small { counts[0] += 1; small += Int(v) }
            if let v = row.medium { counts[1] += 1; medium += Int(v) }
            if let v = row.big { counts[2] += 1; big += Int128(v) }
            if let v = row.flag { counts[3] += 1; flags += v ? 1 : 0 }
            if let v = row.ratio { counts[4] += 1; ratio += v }
            if let v = row.title {
                counts[5] += 1
                length += v.unicodeScalars.count
                octets += v.utf8.count
                if v.contains("\t") || v.contains("\\") { special += 1 }
            }
            if let v = row.payload { counts[6] += 1; payload += v.count }
            if let v = row.day { counts[7] += 1; days += Int(v.daysSincePostgresEpoch) }
            if let v = row.at { counts[8] += 1; at += Int128(v) }
        }
        let parts: [Any] = [
            rows, counts[0], small, counts[1], medium, counts[2], big, counts[3], flags, counts[4], ratio, counts[5],
            length, octets, special, counts[6], payload, counts[7], days, counts[8], at,
        ]
        return Checksums(values: parts.map { "\($0)" })
    }

    static func of(_ connection: PGConnection, table: String) async throws -> Checksums {
        let row = try #require(try await connection.query(Self.sql + " FROM " + table).rows.first)
        var values = row.values.map { $0 ?? "NULL" }
        values[10] = "\(try #require(try row.value(10, as: Double.self)))"  // float8 text → Swift's spelling
        return Checksums(values: values)
    }
}

@Suite struct CopyTests {
    static let rowCount: Int64 = 1_000_000

    @Test(arguments: [PGCopyFormat.binary, .text])
    func millionMixedRowsArriveIntact(format: PGCopyFormat) async throws {
        async let expected = Checksums.of(rows: Self.rowCount)
        let actual = try await withScratchSchema { connection, schema, quotedSchema in
            let tableName = "Mixed \"Rows\" \(format)"
            let table = quotedSchema + "." + (try await connection.quoteIdentifier(tableName))
            try await connection.execute("CREATE TABLE " + table + " " + MixedRow.createColumns)
            let copied = try await connection.copyIn(
                table: tableName, schema: schema, columns: MixedRow.columns, format: format
            ) { writer in
                for id in 1...Self.rowCount {
                    let row = MixedRow(id: id)
                    try await writer.writeRow(fieldCount: MixedRow.columns.count) { try row.encode(into: &$0) }
                }
                #expect(writer.rowsWritten == Int(Self.rowCount))
            }
            #expect(copied == Int(Self.rowCount))
            let actual = try await Checksums.of(connection, table: table)

            // Every field of a sample of rows, compared exactly.
            let sample = try await connection.query(
                "SELECT *, (extract(epoch FROM at) * 1000000)::int8 AS at_micros FROM " + table
                    + " WHERE id % $1 = 0 ORDER BY id", [.int(997)])
            #expect(sample.rows.count == Int(Self.rowCount / 997))
            for row in sample.rows {
                let got = try MixedRow(row)
                let want = MixedRow(id: got.id)
                if got != want {
                    Issue.record("row \(got.id): got \(got), want \(want)")
                    break
                }
            }
            return actual
        }
        #expect(actual == (await expected))
    }

    @Test func badInputInCopyReportsSQLStateAndLine() async throws {
        try await withScratchSchema { connection, _, schema in
            let table = schema + ".n"
            try await connection.execute("CREATE TABLE " + table + " (id int8, name text)")
            let error = await #expect(throws: PGError.self) {
                try await connection.copyIn("COPY " + table + " FROM STDIN", format: .text) { writer in
                    try await writer.writeRow([.int(1), .text("one")])
                    try await writer.writeRow([.int(2), .text("two")])
                    try await writer.writeRow([.text("three"), .text("bad")])
                    try await writer.writeRow([.int(4), nil])
                }
            }
            #expect(error?.code == .server)
            #expect(error?.sqlState == "22P02")
            #expect(error?.operation == "COPY")
            #expect(error?.context?.contains("line 3") == true)
            #expect(error?.description.contains("line 3") == true)
            #expect(try await count(connection, table) == 0)
            #expect(try await connection.query("SELECT 1").rows.count == 1)
        }
    }

    @Test func producerThrowingAbortsTheCopyAndKeepsTheConnection() async throws {
        struct ProducerFailed: Error, Equatable { let atRow: Int }
        try await withScratchSchema { connection, _, schema in
            let table = schema + ".p"
            try await connection.execute("CREATE TABLE " + table + " " + MixedRow.createColumns)
            try await connection.copyIn("COPY " + table + " FROM STDIN (FORMAT binary)", format: .binary) { writer in
                for id in 1...10 as ClosedRange<Int64> {
                    try await writer.writeRow(fieldCount: 10) { try MixedRow(id: id).encode(into: &$0) }
                }
            }
            for format in [PGCopyFormat.binary, .text] {
                let error = await #expect(throws: ProducerFailed.self) {
                    try await connection.copyIn(
                        "COPY " + table + " FROM STDIN WITH (FORMAT \(format.rawValue))", format: format
                    ) { writer in
                        for id in 1...100_000 as ClosedRange<Int64> {
                            try await writer.writeRow(fieldCount: 10) { try MixedRow(id: id).encode(into: &$0) }
                        }
                        throw ProducerFailed(atRow: writer.rowsWritten)
                    }
                }
                #expect(error == ProducerFailed(atRow: 100_000))
                #expect(try await count(connection, table) == 10)
            }
            // A row whose encoding throws is dropped whole, then the error aborts the COPY.
            await #expect(throws: PGError.self) {
                try await connection.copyIn("COPY " + table + " (id, at) FROM STDIN", format: .text) { writer in
                    try await writer.writeRow(fieldCount: 2) { row in
                        row.int8(1)
                        try row.timestamptz(microsecondsSinceUnixEpoch: .max)
                    }
                }
            }
            #expect(try await count(connection, table) == 10)
        }
    }

    @Test func connectionKilledMidCopyCommitsNothingAndSaysSo() async throws {
        try await withScratchSchema { connection, _, schema in
            let table = schema + ".k"
            try await connection.execute("CREATE TABLE " + table + " " + MixedRow.createColumns)
            try await connection.copyIn("COPY " + table + " FROM STDIN", format: .text) { writer in
                for id in 1...10 as ClosedRange<Int64> {
                    try await writer.writeRow(fieldCount: 10) { try MixedRow(id: id).encode(into: &$0) }
                }
            }
            let killer = try await connect()
            let pid = try #require(try await connection.query("SELECT pg_backend_pid()").rows.first?.value(0, as: Int64.self))
            let limit: Int64 = 3_000_000
            var written = 0
            let error = await #expect(throws: PGError.self) {
                try await connection.copyIn("COPY " + table + " FROM STDIN (FORMAT binary)", format: .binary) { writer in
                    for id in 1...limit {
                        try await writer.writeRow(fieldCount: 10) { try MixedRow(id: id).encode(into: &$0) }
                        written = writer.rowsWritten
                        if id == 50_000 {
                            let killed = try await killer.query("SELECT pg_terminate_backend($1)", [.int(pid)])
                            #expect(try killed.rows.first?.value(0, as: Bool.self) == true)
                        }
                    }
                }
            }
            #expect(error?.code == .connectionLost)
            #expect(error?.operation == "COPY")
            #expect(written < Int(limit), "the producer was not stopped after the server connection died")
            #expect(try await count(killer, table) == 10)
            let after = await #expect(throws: PGError.self) { try await connection.query("SELECT 1") }
            #expect(after?.code == .connectionLost || after?.code == .server)
            await killer.close()
        }
    }

    @Test func copyInRefusesStatementsThatAreNotCopyFromStdin() async throws {
        try await withScratchSchema { connection, _, schema in
            let table = schema + ".c"
            try await connection.execute("CREATE TABLE " + table + " (id int8)")
            let notCopy = await #expect(throws: PGError.self) {
                try await connection.copyIn("SELECT 1", format: .text) { _ in }
            }
            #expect(notCopy?.code == .protocolViolation)
            let viaQuery = await #expect(throws: PGError.self) {
                try await connection.query("COPY " + table + " FROM STDIN")
            }
            #expect(viaQuery?.code == .protocolViolation)
            #expect(try await connection.execute("INSERT INTO " + table + " VALUES ($1)", [.int(1)]) == 1)
            // COPY inside a transaction commits with it, and rolls back with it.
            struct Undo: Error {}
            await #expect(throws: Undo.self) {
                try await connection.withTransaction { tx in
                    let rows = try await tx.copyIn(table: "c", schema: schema.trimmingCharacters(in: ["\""]), columns: ["id"], format: .text) { writer in
                        for id in 2...1000 as ClosedRange<Int64> { try await writer.writeRow([.int(id)]) }
                    }
                    #expect(rows == 999)
                    throw Undo()
                }
            }
            #expect(try await count(connection, table) == 1)
        }
    }
}
