import PQKit
import ParquetKit
import ReducerCore
import Testing

@testable import Warehouse

/// The columnar encoder (`ProcessedSliceEncoder`, `webtoon load`'s path) against the row encoder it replaced
/// (`SliceEncoder`), without a database: random slices of every warehouse table, handed over in random pieces, must
/// give byte-identical binary COPY batches, the same row count and fingerprint, and for a row `validate()` refuses
/// the same error.
@Suite struct ColumnarEncodingTests {
    /// Random values, about half of them edge cases a load must carry unchanged.
    struct Values {
        var g: SplitMix64
        /// Integers stay within Int32, so that files may store them narrow.
        var smallIntegers = false

        mutating func chance(_ oneIn: UInt64) -> Bool { g.next() % oneIn == 0 }
        mutating func pick<T>(_ choices: [T]) -> T { choices[Int(g.next() % UInt64(choices.count))] }

        static let pieces = [
            "", "a", "plain ascii", "웹툰 제목", "🎉", "e\u{301}", "\t", "\n", "\r\n", "\\", "\\N", "\"'", ",", "\u{0}",
            "\u{FFFD}", "#", " ", String(repeating: "긴", count: 300),
        ]
        mutating func text() -> String { (0..<Int(g.next() % 4)).map { _ in pick(Self.pieces) }.joined() }
        mutating func optionalText() -> String? { chance(4) ? nil : text() }
        mutating func nonEmptyText() -> String {
            let value = text()
            return value.isEmpty ? "x" : value
        }

        mutating func int64() -> Int64 {
            if smallIntegers {
                return chance(2)
                    ? pick([0, 1, -1, Int64(Int32.min), Int64(Int32.max)])
                    : Int64(Int32.random(in: .min ... .max, using: &g))
            }
            return chance(2)
                ? pick([.min, .min + 1, -1, 0, 1, Int64(Int32.max) + 1, Int64(Int32.min) - 1, .max])
                : Int64(bitPattern: g.next())
        }
        /// A count (`validate()` refuses negative ones), nil a quarter of the time.
        mutating func count() -> Int64? {
            if chance(4) { return nil }
            let value = int64()
            return value == .min ? 0 : abs(value)
        }
        mutating func double() -> Double? {
            if chance(5) { return nil }
            return chance(2)
                ? pick([
                    0, -0.0, .nan, -.nan, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                    -.greatestFiniteMagnitude, 9.99, Double(bitPattern: 0x7FF0_0000_0000_0001),
                ])
                : Double(bitPattern: g.next())
        }
        /// A day PostgreSQL's `date` holds: years 1...9999.
        mutating func day() -> CalendarDay {
            let days = PGCopyEncoder.encodableDays
            let edges = [days.lowerBound, days.upperBound, -1, 0, 10_957, 11_016, 20_782]
            return CalendarDay(daysSinceEpoch: Int32(chance(2) ? pick(edges) : Int.random(in: days, using: &g)))
        }
        /// Microseconds since 1970 that binary `timestamptz` holds.
        mutating func micros() -> Int64 {
            let range = PGCopyEncoder.encodableBinaryMicroseconds
            return chance(2)
                ? pick([range.lowerBound, range.upperBound, -1, 0, 946_684_800_000_000, 1_795_000_000_123_456])
                : Int64.random(in: range, using: &g)
        }
    }

    /// How a case spoils one of its rows, if it does.
    enum Spoiled { case no, byValidate, byEncoding }

    static func title(_ v: inout Values, _ platform: String, _ day: CalendarDay) -> TitleRow {
        TitleRow(
            platform: platform, id: v.int64(), title: v.text(), author: v.text(), views: v.count(),
            favoriteCount: v.chance(4) ? nil : v.int64(), imageURL: v.text(), releaseDay: Int(v.g.next() % 8),
            isCompleted: v.chance(2), restricted: v.chance(3), ageRating: v.optionalText(), snapshotDate: day,
            fetchedAt: v.micros())
    }

    static func genre(_ v: inout Values, _ platform: String, _ day: CalendarDay) -> GenreRow {
        var name = v.nonEmptyText()
        if name.hasPrefix("#") { name = "g" + name }
        return GenreRow(
            platform: platform, titleID: v.int64(), genreName: name, snapshotDate: day, fetchedAt: v.micros())
    }

    static func episode(_ v: inout Values, _ platform: String, _ day: CalendarDay) -> EpisodeRow {
        let likes = v.count()
        let comments = v.count()
        return EpisodeRow(
            platform: platform, titleID: v.int64(), episodeID: v.int64(), no: v.int64(), title: v.text(), likes: likes,
            comments: comments, rating: v.double(), imageURL: v.text(), publishedDate: v.chance(4) ? nil : v.day(),
            snapshotDate: day, fetchedAt: v.micros(),
            missingReason: likes == nil || comments == nil ? v.nonEmptyText() : v.optionalText())
    }

    static func comment(_ v: inout Values, _ platform: String, _ day: CalendarDay) -> CommentRow {
        CommentRow(
            platform: platform, titleID: v.int64(), episodeID: v.int64(), commentID: v.nonEmptyText(),
            author: v.optionalText(), body: v.text(), likes: v.chance(4) ? nil : v.int64(),
            createdAt: v.chance(4) ? nil : v.micros(), snapshotDate: day, fetchedAt: v.micros())
    }

    /// Rows `rows` as `ProcessedColumnReader` hands them over: columns in `parquetColumns` order, null slots holding
    /// placeholders, and sometimes integers stored in the other width (as a file may hold them), with the file
    /// types to match (`platform` sometimes filled in from the path).
    static func columns<Row: ParquetRow>(
        _ rows: ArraySlice<Row>, firstRow: Int, _ v: inout Values
    ) -> (ProcessedColumns, [ParquetType?]) {
        let cells = rows.map(\.parquetValues)
        var batch: [ColumnValues] = []
        var fileTypes: [ParquetType?] = []
        var positions: [String: Int] = [:]
        for (position, column) in Row.parquetColumns.enumerated() {
            positions[column.name] = position
            let values = cells.map { $0[position] }
            var fileType: ParquetType? = column.type
            switch column.type {
            case .string:
                let strings: [String?] = values.map { if case .string(let s) = $0 { return s } else { return nil } }
                batch.append(.strings(strings))
                if column.name == "platform", v.chance(2) { fileType = nil }
            case .int64:
                let numbers: [Int64?] = values.map { if case .int64(let n) = $0 { return n } else { return nil } }
                let narrow: [Int32??] = numbers.map { $0.map { Int32(exactly: $0) } }
                if v.chance(2), !narrow.contains(where: { $0 == .some(nil) }) {
                    batch.append(.int32s(narrow.map { $0 ?? nil }))
                    fileType = .int32
                } else {
                    batch.append(.int64s(numbers))
                }
            case .int32:
                let numbers: [Int32?] = values.map { if case .int32(let n) = $0 { return n } else { return nil } }
                if v.chance(2) {
                    batch.append(.int64s(numbers.map { $0.map(Int64.init) }))
                    fileType = .int64
                } else {
                    batch.append(.int32s(numbers))
                }
            case .date:
                let days: [Int32?] = values.map { if case .date(let d) = $0 { return d } else { return nil } }
                batch.append(.int32s(days))
            case .timestamp:
                let micros: [Int64?] = values.map { if case .timestamp(let t) = $0 { return t } else { return nil } }
                batch.append(.int64s(micros))
            case .double:
                let numbers: [Double?] = values.map { if case .double(let d) = $0 { return d } else { return nil } }
                batch.append(.doubles(numbers))
            case .boolean:
                let flags: [Bool?] = values.map { if case .boolean(let b) = $0 { return b } else { return nil } }
                batch.append(.booleans(flags))
            case .list: preconditionFailure("\(Row.table).\(column.name): no warehouse table has a list column")
            }
            fileTypes.append(fileType)
        }
        let columns = ProcessedColumns(
            batch: ColumnBatch(batch), positions: positions, source: "random.parquet", rowGroup: 0, firstRow: firstRow)
        return (columns, fileTypes)
    }

    /// Records an issue unless `condition` holds; returns `condition`, so a failing property stops at its first case.
    static func check(
        _ condition: Bool, _ message: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        if !condition { Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation) }
        return condition
    }

    /// Encodes `rows` both ways, a random piece at a time, taking batches at random piece boundaries; checks for the
    /// same batches, count and fingerprint (false if they differ). `errors` gets those of the first piece either
    /// path refused.
    static func encodeBothWays<Row: ColumnarLoadRow>(
        _ rows: [Row], platform: String, day: CalendarDay, _ v: inout Values, case label: String,
        errors: inout (rows: (any Error)?, columns: (any Error)?)?
    ) -> Bool {
        var byRows = SliceEncoder<Row>(platform: platform, snapshotDate: day)
        var byColumns = ProcessedSliceEncoder<Row>(platform: platform, snapshotDate: day)
        func sameBatch() -> Bool {
            let expected = byRows.takeBatch()
            let actual = byColumns.takeBatch()
            let common = min(actual.bytes.count, expected.bytes.count)
            let differ =
                (0..<common).first { actual.bytes[$0] != expected.bytes[$0] }
                ?? (actual.bytes.count == expected.bytes.count ? nil : common)
            let at = differ ?? 0
            return check(actual.rows == expected.rows, "\(label): \(actual.rows) rows, expected \(expected.rows)")
                && check(
                    differ == nil,
                    "\(label): COPY bytes differ at byte \(at) of \(expected.bytes.count): columnar "
                        + "\(Array(actual.bytes[at...].prefix(16))), rows \(Array(expected.bytes[at...].prefix(16)))")
        }
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + 1 + Int(v.g.next() % 97))
            let (columns, fileTypes) = Self.columns(rows[start..<end], firstRow: start, &v)
            var rowError: (any Error)?
            do { for row in rows[start..<end] { try byRows.append(row) } } catch { rowError = error }
            var columnError: (any Error)?
            do { try byColumns.append(columns, fileTypes: fileTypes) } catch { columnError = error }
            if rowError != nil || columnError != nil {
                errors = (rowError, columnError)
                return true
            }
            if v.chance(3), !sameBatch() { return false }
            start = end
        }
        return sameBatch() && check(byColumns.rows == rows.count, "\(label): \(byColumns.rows) rows")
            && check(
                byColumns.checksum == byRows.checksum,
                "\(label): fingerprint \(byColumns.checksum), rows give \(byRows.checksum)")
    }

    /// One random case of `Row`: a slice of up to 300 rows, perhaps with one row `validate()` refuses or one
    /// value PostgreSQL cannot hold.
    static func checkRandomSlice<Row: ColumnarLoadRow>(
        _ make: (inout Values, String, CalendarDay) -> Row, case index: Int, _ v: inout Values,
        spoil: (inout Row, inout Values, Spoiled) -> Void
    ) -> Bool {
        let platform = v.pick(["naver", "kakao"])
        let day = v.day()
        v.smallIntegers = v.chance(3)
        var rows = (0..<Int(v.g.next() % 301)).map { _ in make(&v, platform, day) }
        var spoiled = Spoiled.no
        if !rows.isEmpty, v.chance(4) {
            spoiled = v.chance(2) ? .byValidate : .byEncoding
            let at = Int(v.g.next() % UInt64(rows.count))
            spoil(&rows[at], &v, spoiled)
        }
        let label = "\(Row.table) case \(index) (\(rows.count) rows, spoiled \(spoiled))"
        var errors: (rows: (any Error)?, columns: (any Error)?)?
        guard encodeBothWays(rows, platform: platform, day: day, &v, case: label, errors: &errors) else { return false }
        let rowError = errors?.rows.map { String(describing: $0) }
        let columnError = errors?.columns.map { String(describing: $0) }
        switch spoiled {
        case .no:
            return check(
                errors == nil, "\(label): refused by rows: \(rowError ?? "-"), by columns: \(columnError ?? "-")")
        case .byValidate:
            // Both paths throw `validate()`'s own error for the same row.
            return check(
                rowError != nil && columnError == rowError,
                "\(label): rows \(rowError ?? "-"), columns \(columnError ?? "-")")
        case .byEncoding:
            return check(
                rowError != nil && columnError != nil,
                "\(label): rows \(rowError ?? "-"), columns \(columnError ?? "-")")
        }
    }

    static let cases = 300

    @Test func titlesEncodeTheSameByColumnsAsByRows() {
        var v = Values(g: SplitMix64(seed: 0x7469_746C_65))
        for index in 0..<Self.cases {
            let held = Self.checkRandomSlice(Self.title, case: index, &v) { row, v, spoiled in
                if spoiled == .byValidate {
                    if v.chance(2) { row.releaseDay = v.pick([-1, 8, 256]) } else { row.views = -1 }
                } else {
                    row.fetchedAt = .min
                }
            }
            if !held { break }
        }
    }

    @Test func genresEncodeTheSameByColumnsAsByRows() {
        var v = Values(g: SplitMix64(seed: 0x6765_6E72_65))
        for index in 0..<Self.cases {
            let held = Self.checkRandomSlice(Self.genre, case: index, &v) { row, v, spoiled in
                if spoiled == .byValidate {
                    row.genreName = v.pick(["", "#", "#tag"])
                } else {
                    row.fetchedAt = PGCopyEncoder.encodableBinaryMicroseconds.lowerBound - 1
                }
            }
            if !held { break }
        }
    }

    @Test func episodesEncodeTheSameByColumnsAsByRows() {
        var v = Values(g: SplitMix64(seed: 0x6570_6973_6F64_65))
        for index in 0..<Self.cases {
            let held = Self.checkRandomSlice(Self.episode, case: index, &v) { row, v, spoiled in
                if spoiled == .byValidate {
                    switch v.g.next() % 3 {
                    case 0: row.likes = -1
                    case 1: row.comments = .min
                    default:
                        row.likes = nil
                        row.missingReason = v.pick([nil, ""])
                    }
                } else if v.chance(2) {
                    row.publishedDate = CalendarDay(daysSinceEpoch: Int32(PGCopyEncoder.encodableDays.upperBound + 1))
                } else {
                    row.publishedDate = CalendarDay(daysSinceEpoch: .min)
                }
            }
            if !held { break }
        }
    }

    @Test func commentsEncodeTheSameByColumnsAsByRows() {
        var v = Values(g: SplitMix64(seed: 0x636F_6D6D_656E_74))
        for index in 0..<Self.cases {
            let held = Self.checkRandomSlice(Self.comment, case: index, &v) { row, v, spoiled in
                if spoiled == .byValidate {
                    row.commentID = ""
                } else {
                    row.createdAt = .min
                }
            }
            if !held { break }
        }
    }
}
