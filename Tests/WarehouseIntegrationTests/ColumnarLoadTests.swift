import Foundation
import PQKit
import ParquetKit
import ReducerCore
import Testing

@testable import Warehouse

/// The columnar load of processed files (`webtoon load`'s path) against the row path it replaced: the same files
/// loaded both ways into two warehouses give the same tables row for row, the same fingerprint, and the same
/// failures.
@Suite struct ColumnarLoadTests {
    static let snapshot = day("2026-11-25")
    static let texts = [
        "", "웹툰 제목", "tab\there", "line\nbreak\r\n", "back\\slash", "🎉 emoji e\u{301}", "quote \"'", "a,b", "\\N",
    ]

    static func episodes(_ count: Int, platform: String = "kakao") -> [EpisodeRow] {
        let ratings: [Double?] = [nil, 0, -0.0, 9.99, .nan, .infinity, -.infinity, .leastNonzeroMagnitude]
        let published: [CalendarDay?] = [
            nil, CalendarDay(year: 1, month: 1, day: 1), CalendarDay(year: 9999, month: 12, day: 31),
            CalendarDay(year: 1969, month: 12, day: 31), snapshot,
        ]
        let fetched: [Int64] = [
            fetchTime(snapshot), -62_135_596_800_000_000, 253_402_300_799_999_999, 0, -1, fetchTime(snapshot) + 1,
        ]
        return (0..<count).map { i in
            let likes: Int64? = i % 5 == 0 ? nil : [0, 1, Int64.max, Int64(i)][i % 4]
            let comments: Int64? = i % 7 == 0 ? nil : Int64(i % 1000)
            let missing = likes == nil || comments == nil
            return EpisodeRow(
                platform: platform, titleID: [Int64.min, -1, 0, Int64.max, Int64(i / 10)][i % 5],
                episodeID: Int64(i), no: Int64(i % 3 - 1), title: texts[i % texts.count] + "\(i)", likes: likes,
                comments: comments, rating: ratings[i % ratings.count], imageURL: texts[(i / 3) % texts.count],
                publishedDate: published[i % published.count], snapshotDate: snapshot,
                fetchedAt: fetched[i % fetched.count],
                missingReason: missing ? ["likes: HTTP 500", "comments: 404 ", "빈 값"][i % 3] : i % 11 == 0 ? "" : nil)
        }
    }

    static func titles(_ count: Int) -> [TitleRow] {
        (0..<count).map { i in
            TitleRow(
                platform: "naver", id: [Int64.min, 0, Int64.max, Int64(i)][i % 4] &+ Int64(i / 4 * 4),
                title: texts[i % texts.count], author: texts[(i + 3) % texts.count], views: i % 3 == 0 ? nil : Int64(i),
                favoriteCount: i % 4 == 0 ? nil : [0, Int64.max][i % 2], imageURL: "https://img.example/t\(i)",
                releaseDay: i % 8, isCompleted: i % 8 == 7, restricted: i % 5 == 0,
                ageRating: i % 2 == 0 ? nil : texts[i % texts.count], snapshotDate: snapshot,
                fetchedAt: fetchTime(snapshot, Int64(i)))
        }
    }

    static func genres(_ count: Int) -> [GenreRow] {
        (0..<count).map { i in
            GenreRow(
                platform: "kakao", titleID: Int64(i / 3),
                genreName: ["로맨스", "a#b", "판타지 ", "e\u{301}"][i % 3] + "\(i)",
                snapshotDate: snapshot, fetchedAt: fetchTime(snapshot, -Int64(i)))
        }
    }

    static func comments(_ count: Int) -> [CommentRow] {
        (0..<count).map { i in
            CommentRow(
                platform: "naver", titleID: Int64(i / 100), episodeID: Int64(i / 10), commentID: "c\(i)",
                author: i % 3 == 0 ? nil : texts[i % texts.count], body: texts[(i + 1) % texts.count] + "\n\(i)",
                likes: i % 4 == 0 ? nil : Int64(i),
                createdAt: i % 5 == 0 ? nil : fetchTime(snapshot, -86_400 * Int64(i)),
                snapshotDate: snapshot, fetchedAt: fetchTime(snapshot))
        }
    }

    /// Writes `rows` as a processed partition file would hold them: without `platform` unless `keepPlatform`, a row
    /// group every `groupRows` rows.
    static func write<Row: ParquetRow>(
        _ rows: some Collection<Row>, to path: String, groupRows: Int, keepPlatform: Bool = false
    ) throws -> String {
        let keep = Row.parquetColumns.indices.filter { keepPlatform || Row.parquetColumns[$0].name != "platform" }
        let writer = try ParquetWriter(path: path, schema: try ParquetSchema(keep.map { Row.parquetColumns[$0] }))
        for (index, row) in rows.enumerated() {
            let values = row.parquetValues
            try writer.append(row: keep.map { values[$0] })
            if index % groupRows == groupRows - 1 { try writer.flushRowGroup() }
        }
        _ = try writer.close()
        return path
    }

    /// Runs `body` with a scratch folder and a second migrated warehouse beside the first.
    static func withTwoWarehouses(
        _ body: (String, PGConnection, WarehouseSchemas, WarehouseSchemas) async throws -> Void
    ) async throws {
        try await withWarehouse { connection, schemas in
            let folder = NSTemporaryDirectory() + "columnar-load-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let other = WarehouseSchemas(suffix: "c" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
            _ = try await Migrator(schemas: other, logger: testLogger).migrate(on: connection)
            do {
                try await body(folder, connection, schemas, other)
            } catch {
                try? await dropSchemas(other, connection)
                throw error
            }
            try await dropSchemas(other, connection)
        }
    }

    static func dropSchemas(_ schemas: WarehouseSchemas, _ connection: PGConnection) async throws {
        for name in [schemas.warehouse, schemas.site, schemas.dashboard] {
            try await connection.execute(
                "DROP SCHEMA IF EXISTS " + (try await connection.quoteIdentifier(name)) + " CASCADE")
        }
    }

    /// Every row of `table` as PostgreSQL prints it (NULLs, dates, NaN and all), sorted.
    static func contents(_ connection: PGConnection, _ schema: String, _ table: String) async throws -> [String] {
        let name = try await qualified(connection, schema, table)
        return try await connection.query("SELECT t::text FROM \(name) t ORDER BY 1").rows.map { $0[0] ?? "NULL" }
    }

    /// Loads `files` by rows into `byRows` and by columns into `byColumns`; both must agree in everything.
    static func expectSameLoads<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, files: [String], platform: String, rows: Int, runID: String = "run",
        on connection: PGConnection, _ byRows: WarehouseSchemas, _ byColumns: WarehouseSchemas,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let rowPath = try await WarehouseLoader(schemas: byRows, logger: testLogger).loadProcessedFiles(
            Row.self, files: files, on: connection, runID: runID, snapshotDate: snapshot, platform: platform,
            reading: .rows)
        let columnPath = try await WarehouseLoader(schemas: byColumns, logger: testLogger).loadProcessedFiles(
            Row.self, files: files, on: connection, runID: runID, snapshotDate: snapshot, platform: platform)
        #expect(rowPath.rows == rows, sourceLocation: sourceLocation)
        #expect(columnPath.rows == rows, sourceLocation: sourceLocation)
        #expect(columnPath.checksum == rowPath.checksum, sourceLocation: sourceLocation)
        let expected = try await contents(connection, byRows.warehouse, Row.table.rawValue)
        let loaded = try await contents(connection, byColumns.warehouse, Row.table.rawValue)
        #expect(expected.count == rows, sourceLocation: sourceLocation)
        #expect(loaded == expected, sourceLocation: sourceLocation)
    }

    @Test func everyTableLoadsTheSameByColumnsAsByRows() async throws {
        try await Self.withTwoWarehouses { folder, connection, byRows, byColumns in
            // Episodes: two files, row groups smaller and larger than a slice (8192 rows), a short last group.
            let episodes = Self.episodes(30_000)
            let files = [
                try Self.write(episodes[..<12_000], to: folder + "/e0.parquet", groupRows: 5_000),
                try Self.write(episodes[12_000...], to: folder + "/e1.parquet", groupRows: 17_000),
            ]
            try await Self.expectSameLoads(
                EpisodeRow.self, files: files, platform: "kakao", rows: 30_000, on: connection, byRows, byColumns)
            let nulls =
                try await scalar(
                    connection,
                    "SELECT count(*) FILTER (WHERE likes IS NULL AND missing_reason IS NOT NULL) || '/' "
                        + "|| count(*) FILTER (WHERE published_date = '0001-01-01') || '/' "
                        + "|| count(*) FILTER (WHERE rating = 'NaN') FROM "
                        + (try await qualified(connection, byColumns.warehouse, "episodes"))) as String?
            #expect(nulls == "6000/6000/3750")

            let titles = try Self.write(Self.titles(3_000), to: folder + "/t.parquet", groupRows: 1_000)
            try await Self.expectSameLoads(
                TitleRow.self, files: [titles], platform: "naver", rows: 3_000, on: connection, byRows, byColumns)
            let genres = try Self.write(Self.genres(2_000), to: folder + "/g.parquet", groupRows: 2_000)
            try await Self.expectSameLoads(
                GenreRow.self, files: [genres], platform: "kakao", rows: 2_000, on: connection, byRows, byColumns)
            let comments = try Self.write(Self.comments(9_000), to: folder + "/c.parquet", groupRows: 9_000)
            try await Self.expectSameLoads(
                CommentRow.self, files: [comments], platform: "naver", rows: 9_000, on: connection, byRows, byColumns)
            // An empty file adds nothing.
            let empty = try Self.write([EpisodeRow](), to: folder + "/empty.parquet", groupRows: 1)
            try await Self.expectSameLoads(
                EpisodeRow.self, files: [empty, files[0]], platform: "kakao", rows: 12_000, runID: "run-2",
                on: connection, byRows, byColumns)
        }
    }

    /// Files the reducer would not write but the row path read: `platform` stored in the file, integers as int32,
    /// and text that is not UTF-8 (the row path decoded it with U+FFFD replacements).
    @Test func unusualFilesLoadAsTheRowPathLoadedThem() async throws {
        try await Self.withTwoWarehouses { folder, connection, byRows, byColumns in
            let withPlatform = try Self.write(
                Self.episodes(3_000), to: folder + "/p.parquet", groupRows: 1_000, keepPlatform: true)
            try await Self.expectSameLoads(
                EpisodeRow.self, files: [withPlatform], platform: "kakao", rows: 3_000, on: connection, byRows,
                byColumns)

            // Genres with int32 title ids and malformed UTF-8 names (overlong, surrogate, truncated, stray byte).
            let count = 400
            let broken: [[UInt8]] = [
                Array("정상".utf8), [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0x80], Array("ok".utf8) + [0xFF],
                [0xF4, 0x90, 0x80, 0x80], Array("🎉".utf8),
            ]
            var names: [UInt8] = []
            var offsets = [0]
            for i in 0..<count {
                names += broken[i % broken.count] + Array("-\(i)".utf8)
                offsets.append(names.count)
            }
            let schema = try ParquetSchema([
                ParquetColumn("title_id", .int32), ParquetColumn("snapshot_date", .date),
                ParquetColumn("genre_name", .string), ParquetColumn("fetched_at", .timestamp),
            ])
            let path = folder + "/narrow.parquet"
            let writer = try ParquetWriter(path: path, schema: schema)
            try writer.write(
                ColumnBatch([
                    ColumnValues(.int32((0..<count).map { Int32($0) - 200 })),
                    ColumnValues(.int32(Array(repeating: Self.snapshot.daysSinceEpoch, count: count))),
                    ColumnValues(.byteArray(try #require(ByteArrayColumn(validatingBytes: names, offsets: offsets)))),
                    ColumnValues(.int64((0..<count).map { fetchTime(Self.snapshot, Int64($0)) })),
                ]))
            _ = try writer.close()
            try await Self.expectSameLoads(
                GenreRow.self, files: [path], platform: "naver", rows: count, on: connection, byRows, byColumns)
            let replaced =
                try await scalar(
                    connection,
                    "SELECT count(*) FROM \(try await qualified(connection, byColumns.warehouse, "genres")) "
                        + "WHERE genre_name LIKE '%\u{FFFD}%'") as Int64?
            #expect(replaced == Int64(count / broken.count * 6))
        }
    }

    /// A row `validate()` refuses, a NULL in a required column, a day `PGDate` cannot hold, a row of another slice:
    /// the columnar load fails as the row path does (the same `validate()` error), names the file where the row path
    /// did, and the slice keeps what it had.
    @Test func badRowsFailTheLoadAndKeepTheSlice() async throws {
        try await Self.withTwoWarehouses { folder, connection, byRows, byColumns in
            let good = try Self.write(Self.episodes(10_000), to: folder + "/good.parquet", groupRows: 4_000)
            try await Self.expectSameLoads(
                EpisodeRow.self, files: [good], platform: "kakao", rows: 10_000, on: connection, byRows, byColumns)
            let table = try await qualified(connection, byColumns.warehouse, "episodes")
            let ledger = try await qualified(connection, byColumns.warehouse, "loads")
            let before = [try await contentHash(connection, table), try await contentHash(connection, ledger)]

            func failures(_ file: String) async throws -> (rows: any Error, columns: any Error) {
                var errors: [any Error] = []
                for (schemas, reading) in [(byRows, WarehouseLoader.ProcessedFileReading.rows), (byColumns, .columns)] {
                    do {
                        _ = try await WarehouseLoader(schemas: schemas, logger: testLogger).loadProcessedFiles(
                            EpisodeRow.self, files: [good, file], on: connection, runID: "bad",
                            snapshotDate: Self.snapshot,
                            platform: "kakao", reading: reading)
                        Issue.record("\(file) loaded by \(reading)")
                    } catch {
                        errors.append(error)
                    }
                }
                try #require(errors.count == 2, "both paths must refuse \(file)")
                return (errors[0], errors[1])
            }

            var negative = Self.episodes(9_000)
            negative[8_500].likes = -5
            let invalid = try await failures(
                try Self.write(negative, to: folder + "/negative.parquet", groupRows: 9_000))
            #expect(String(describing: invalid.columns) == String(describing: invalid.rows))
            #expect((invalid.columns as? ReducerError)?.code == .invalidRow)

            var unexplained = Self.episodes(100)
            unexplained[40].missingReason = ""
            unexplained[40].likes = nil
            let reason = try await failures(try Self.write(unexplained, to: folder + "/reason.parquet", groupRows: 50))
            #expect(String(describing: reason.columns) == String(describing: reason.rows))

            var outside = Self.episodes(100)
            outside[70].snapshotDate = Self.snapshot.adding(days: 1)
            let slice = try await failures(try Self.write(outside, to: folder + "/outside.parquet", groupRows: 100))
            #expect((slice.columns as? WarehouseError)?.code == .rowOutsideSlice)
            #expect((slice.rows as? WarehouseError)?.code == .rowOutsideSlice)

            // The title column declared nullable in the file, one NULL in it: both paths name the file.
            let nullTitle = folder + "/null-title.parquet"
            let columns = EpisodeRow.parquetColumns.dropFirst().map { column in
                column.name == "title" ? ParquetColumn("title", .string, nullable: true) : column
            }
            let writer = try ParquetWriter(path: nullTitle, schema: try ParquetSchema(columns))
            for (index, row) in Self.episodes(50).enumerated() {
                var values = Array(row.parquetValues.dropFirst())
                if index == 33 { values[4] = .null }
                try writer.append(row: values)
            }
            _ = try writer.close()
            let null = try await failures(nullTitle)
            for error in [null.rows, null.columns] {
                #expect((error as? ReducerError)?.subject == nullTitle)
                #expect(String(describing: error).contains("column title: expected a non-null"))
            }

            // A published date past 9999-12-31: the row path threw too (it used to trap).
            var late = Self.episodes(20)
            late[5].publishedDate = CalendarDay(daysSinceEpoch: Int32.max)
            let far = try await failures(try Self.write(late, to: folder + "/late.parquet", groupRows: 20))
            #expect(String(describing: far.columns).contains("outside years 1...9999"))
            #expect(String(describing: far.columns).contains(folder + "/late.parquet"))
            #expect(String(describing: far.rows).contains("outside years 1...9999"))

            // A column of the wrong type.
            let typed = folder + "/typed.parquet"
            let wrong = EpisodeRow.parquetColumns.dropFirst().map { column in
                column.name == "no" ? ParquetColumn("no", .string) : column
            }
            let typedWriter = try ParquetWriter(path: typed, schema: try ParquetSchema(wrong))
            for row in Self.episodes(10) {
                var values = Array(row.parquetValues.dropFirst())
                values[3] = .string("x")
                try typedWriter.append(row: values)
            }
            _ = try typedWriter.close()
            let mistyped = try await failures(typed)
            for error in [mistyped.rows, mistyped.columns] {
                #expect((error as? ReducerError)?.subject == typed)
                #expect(String(describing: error).contains("column no: expected"))
            }

            #expect([try await contentHash(connection, table), try await contentHash(connection, ledger)] == before)
            #expect(try await leaves(connection, byColumns.warehouse, "episodes_kakao").count == 1)
        }
    }

    /// `webtoon load` goes through `loadProcessedFiles` for every table; each must take the columnar path, whose
    /// fingerprint fields and COPY columns cover exactly the file's columns (`ColumnarEncodingTests` checks that
    /// both encode as the row path does).
    @Test func everyWarehouseTableHasAColumnarLayoutMatchingItsEncoding() throws {
        let types: [any ColumnarLoadRow.Type] = [TitleRow.self, GenreRow.self, EpisodeRow.self, CommentRow.self]
        #expect(Set(types.map { $0.table }) == Set(ProcessedTable.allCases))
        func check<Row: ColumnarLoadRow>(_: Row.Type) {
            let names = Set(Row.parquetColumns.map(\.name))
            #expect(Row.encodedFields.map(\.column).count == names.count, "\(Row.table): a field twice")
            #expect(Set(Row.encodedFields.map(\.column)) == names, "\(Row.table)")
            #expect(Set(Row.columns) == names, "\(Row.table)")
        }
        check(TitleRow.self)
        check(GenreRow.self)
        check(EpisodeRow.self)
        check(CommentRow.self)
    }

    /// The UTF-8 repair the columnar load shares with the reducer (`UTF8Repair`) against the standard library's
    /// validation and `String(decoding:)`, on random and boundary-heavy inputs.
    @Test func utf8RepairAgreesWithTheStandardLibrary() {
        var g = SplitMix64(seed: 0x0075_7466_38)
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("é".utf8), Array("웹".utf8), Array("🎉".utf8), [0x80], [0xC0, 0x80],
            [0xE0, 0x80, 0x80],
            [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5], [0xFF], [0xE2, 0x82], Array("abcdefghij".utf8),
        ]
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            var offsets = [0]
            for _ in 0..<Int(g.next() % 6) {
                for _ in 0..<Int(g.next() % 4) { bytes += pieces[Int(g.next() % UInt64(pieces.count))] }
                offsets.append(bytes.count)
            }
            // Cut some values inside a character.
            if g.next() % 3 == 0, offsets.count > 2 {
                let index = 1 + Int(g.next() % UInt64(offsets.count - 2))
                offsets[index] = max(offsets[index - 1], offsets[index] - 1)
            }
            let column = ByteArrayColumn(validatingBytes: bytes, offsets: offsets)!
            let expected = (0..<column.count).allSatisfy {
                String(validating: column.bytes(at: $0), as: UTF8.self) != nil
            }
            let repaired = UTF8Repair.repaired(column)
            #expect((repaired == nil) == expected, "\(bytes) \(offsets)")
            if let repaired {
                #expect((0..<column.count).map { repaired.string(at: $0) } == (0..<column.count).map { column.string(at: $0) })
                #expect((0..<repaired.count).allSatisfy { String(validating: repaired.bytes(at: $0), as: UTF8.self) != nil })
            }
        }
    }
}
