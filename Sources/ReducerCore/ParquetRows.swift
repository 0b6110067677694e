public import ParquetKit

/// A processed row that reads from and writes to Parquet. Columns are named as in the warehouse tables; `platform`
/// (and the snapshot day's `year`/`month`/`day`) are hive partition keys in `processed/`, so files there omit
/// `platform`, and the reader takes it from the partition path instead.
public protocol ParquetRow: ProcessedRow {
    /// Every column, `platform` and `snapshot_date` included, in file order.
    static var parquetColumns: [ParquetColumn] { get }
    /// This row's cells in `parquetColumns` order.
    var parquetValues: [ParquetValue] { get }
    /// Builds a row from cells looked up by column name.
    init(parquet cells: ParquetCells) throws(ReducerError)
    /// The natural key columns after `(snapshot_date, platform)`, in `appendNaturalKey` order: at most 3, each an
    /// integer, date or string column. nil (the default) keeps the type on the row-by-row reduce path.
    static var naturalKeyColumns: [String]? { get }
    /// The first row in `rows` of `batch` (columns in `parquetColumns` order) that `validate()` might reject, or nil.
    /// The columnar reduce builds and validates only those rows, so a flagged row fails with `validate()`'s own error.
    /// The default flags every row (correct, but as slow as the row path).
    static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int?
}

extension ParquetRow {
    public static var naturalKeyColumns: [String]? { nil }
    public static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int? { rows.first }
}

/// The cells of one Parquet row by column name, with typed accessors that name the column and file on error.
public struct ParquetCells {
    private let index: [String: Int]
    private var values: [ParquetValue]
    let table: String
    var source: String

    init(index: [String: Int], table: String, source: String) {
        self.index = index
        self.values = Array(repeating: .null, count: index.count)
        self.table = table
        self.source = source
    }

    mutating func set(_ position: Int, _ value: ParquetValue) { values[position] = value }

    private func failure(_ column: String, _ detail: String) -> ReducerError {
        ReducerError(
            code: .invalidRow, operation: "read \(table) row", subject: source, detail: "column \(column): \(detail)")
    }

    private func cell(_ column: String) throws(ReducerError) -> ParquetValue {
        guard let position = index[column] else { throw failure(column, "missing from the file") }
        return values[position]
    }

    public func string(_ column: String) throws(ReducerError) -> String {
        guard case .string(let value) = try cell(column) else { throw failure(column, "expected a non-null string") }
        return value
    }
    public func optionalString(_ column: String) throws(ReducerError) -> String? {
        switch try cell(column) {
        case .null: nil
        case .string(let value): value
        default: throw failure(column, "expected a string")
        }
    }
    public func int64(_ column: String) throws(ReducerError) -> Int64 {
        guard let value = try optionalInt64(column) else { throw failure(column, "expected a non-null integer") }
        return value
    }
    public func optionalInt64(_ column: String) throws(ReducerError) -> Int64? {
        switch try cell(column) {
        case .null: nil
        case .int64(let value): value
        case .int32(let value): Int64(value)
        default: throw failure(column, "expected an integer")
        }
    }
    public func optionalDouble(_ column: String) throws(ReducerError) -> Double? {
        switch try cell(column) {
        case .null: nil
        case .double(let value): value
        default: throw failure(column, "expected a double")
        }
    }
    public func bool(_ column: String) throws(ReducerError) -> Bool {
        guard case .boolean(let value) = try cell(column) else { throw failure(column, "expected a non-null boolean") }
        return value
    }
    public func day(_ column: String) throws(ReducerError) -> CalendarDay {
        guard let value = try optionalDay(column) else { throw failure(column, "expected a non-null date") }
        return value
    }
    public func optionalDay(_ column: String) throws(ReducerError) -> CalendarDay? {
        switch try cell(column) {
        case .null: nil
        case .date(let days): CalendarDay(daysSinceEpoch: days)
        default: throw failure(column, "expected a date")
        }
    }
    public func timestamp(_ column: String) throws(ReducerError) -> Int64 {
        guard case .timestamp(let micros) = try cell(column) else {
            throw failure(column, "expected a non-null timestamp")
        }
        return micros
    }
    public func optionalTimestamp(_ column: String) throws(ReducerError) -> Int64? {
        switch try cell(column) {
        case .null: nil
        case .timestamp(let micros): micros
        default: throw failure(column, "expected a timestamp")
        }
    }
}

extension Optional where Wrapped == Int64 {
    var parquet: ParquetValue { map { .int64($0) } ?? .null }
}
extension Optional where Wrapped == String {
    var parquet: ParquetValue { map { .string($0) } ?? .null }
}
extension Optional where Wrapped == Double {
    var parquet: ParquetValue { map { .double($0) } ?? .null }
}
extension Optional where Wrapped == CalendarDay {
    var parquet: ParquetValue { map { .date($0.daysSinceEpoch) } ?? .null }
}

extension TitleRow: ParquetRow {
    public static let parquetColumns = [
        ParquetColumn("platform", .string), ParquetColumn("id", .int64), ParquetColumn("snapshot_date", .date),
        ParquetColumn("release_day", .int32), ParquetColumn("title", .string), ParquetColumn("author", .string),
        ParquetColumn("views", .int64, nullable: true), ParquetColumn("favorite_count", .int64, nullable: true),
        ParquetColumn("image_url", .string), ParquetColumn("is_completed", .boolean),
        ParquetColumn("restricted", .boolean), ParquetColumn("age_rating", .string, nullable: true),
        ParquetColumn("fetched_at", .timestamp),
    ]
    public var parquetValues: [ParquetValue] {
        [
            .string(platform), .int64(id), .date(snapshotDate.daysSinceEpoch), .int32(Int32(releaseDay)),
            .string(title), .string(author), views.parquet, favoriteCount.parquet, .string(imageURL),
            .boolean(isCompleted), .boolean(restricted), ageRating.parquet, .timestamp(fetchedAt),
        ]
    }
    public init(parquet c: ParquetCells) throws(ReducerError) {
        self.init(
            platform: try c.string("platform"), id: try c.int64("id"), title: try c.string("title"),
            author: try c.string("author"), views: try c.optionalInt64("views"),
            favoriteCount: try c.optionalInt64("favorite_count"), imageURL: try c.string("image_url"),
            releaseDay: Int(try c.int64("release_day")), isCompleted: try c.bool("is_completed"),
            restricted: try c.bool("restricted"), ageRating: try c.optionalString("age_rating"),
            snapshotDate: try c.day("snapshot_date"), fetchedAt: try c.timestamp("fetched_at"))
    }
}

extension GenreRow: ParquetRow {
    public static let parquetColumns = [
        ParquetColumn("platform", .string), ParquetColumn("title_id", .int64), ParquetColumn("snapshot_date", .date),
        ParquetColumn("genre_name", .string), ParquetColumn("fetched_at", .timestamp),
    ]
    public var parquetValues: [ParquetValue] {
        [
            .string(platform), .int64(titleID), .date(snapshotDate.daysSinceEpoch), .string(genreName),
            .timestamp(fetchedAt),
        ]
    }
    public init(parquet c: ParquetCells) throws(ReducerError) {
        self.init(
            platform: try c.string("platform"), titleID: try c.int64("title_id"), genreName: try c.string("genre_name"),
            snapshotDate: try c.day("snapshot_date"), fetchedAt: try c.timestamp("fetched_at"))
    }
}

extension EpisodeRow: ParquetRow {
    public static let parquetColumns = [
        ParquetColumn("platform", .string), ParquetColumn("title_id", .int64), ParquetColumn("episode_id", .int64),
        ParquetColumn("snapshot_date", .date), ParquetColumn("no", .int64), ParquetColumn("title", .string),
        ParquetColumn("likes", .int64, nullable: true), ParquetColumn("comments", .int64, nullable: true),
        ParquetColumn("rating", .double, nullable: true), ParquetColumn("image_url", .string),
        ParquetColumn("published_date", .date, nullable: true),
        ParquetColumn("missing_reason", .string, nullable: true), ParquetColumn("fetched_at", .timestamp),
    ]
    public var parquetValues: [ParquetValue] {
        [
            .string(platform), .int64(titleID), .int64(episodeID), .date(snapshotDate.daysSinceEpoch), .int64(no),
            .string(title), likes.parquet, comments.parquet, rating.parquet, .string(imageURL), publishedDate.parquet,
            missingReason.parquet, .timestamp(fetchedAt),
        ]
    }
    public init(parquet c: ParquetCells) throws(ReducerError) {
        self.init(
            platform: try c.string("platform"), titleID: try c.int64("title_id"), episodeID: try c.int64("episode_id"),
            no: try c.int64("no"), title: try c.string("title"), likes: try c.optionalInt64("likes"),
            comments: try c.optionalInt64("comments"), rating: try c.optionalDouble("rating"),
            imageURL: try c.string("image_url"), publishedDate: try c.optionalDay("published_date"),
            snapshotDate: try c.day("snapshot_date"), fetchedAt: try c.timestamp("fetched_at"),
            missingReason: try c.optionalString("missing_reason"))
    }
}

extension CommentRow: ParquetRow {
    public static let parquetColumns = [
        ParquetColumn("platform", .string), ParquetColumn("title_id", .int64), ParquetColumn("episode_id", .int64),
        ParquetColumn("comment_id", .string), ParquetColumn("snapshot_date", .date),
        ParquetColumn("author", .string, nullable: true), ParquetColumn("body", .string),
        ParquetColumn("likes", .int64, nullable: true), ParquetColumn("created_at", .timestamp, nullable: true),
        ParquetColumn("fetched_at", .timestamp),
    ]
    public var parquetValues: [ParquetValue] {
        [
            .string(platform), .int64(titleID), .int64(episodeID), .string(commentID),
            .date(snapshotDate.daysSinceEpoch), author.parquet, .string(body), likes.parquet,
            createdAt.map { .timestamp($0) } ?? .null, .timestamp(fetchedAt),
        ]
    }
    public init(parquet c: ParquetCells) throws(ReducerError) {
        self.init(
            platform: try c.string("platform"), titleID: try c.int64("title_id"), episodeID: try c.int64("episode_id"),
            commentID: try c.string("comment_id"), author: try c.optionalString("author"), body: try c.string("body"),
            likes: try c.optionalInt64("likes"), createdAt: try c.optionalTimestamp("created_at"),
            snapshotDate: try c.day("snapshot_date"), fetchedAt: try c.timestamp("fetched_at"))
    }
}

// Columnar reduce facts per row type: the natural key columns and a cheap scan for rows `validate()` may reject.

/// Position of `name` in `Row.parquetColumns` (names are fixed by the type, so a miss is a programming error).
func columnPosition<Row: ParquetRow>(_ name: String, of _: Row.Type) -> Int {
    Row.parquetColumns.firstIndex { $0.name == name }!
}

extension ColumnBatch {
    /// The int64 storage of column `c`, or nil for another storage kind.
    func int64s(_ c: Int) -> [Int64]? {
        if case .int64(let values) = columns[c].storage { values } else { nil }
    }
    func int32s(_ c: Int) -> [Int32]? {
        if case .int32(let values) = columns[c].storage { values } else { nil }
    }
    func byteArrays(_ c: Int) -> ByteArrayColumn? {
        if case .byteArray(let values) = columns[c].storage { values } else { nil }
    }
}

extension TitleRow {
    public static var naturalKeyColumns: [String]? { ["id", "release_day"] }
    public static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int? {
        guard let days = batch.int32s(columnPosition("release_day", of: Self.self)),
            let views = batch.int64s(columnPosition("views", of: Self.self))
        else { return rows.first }
        // Null slots hold 0, which passes both checks.
        return rows.first { !(0...7).contains(days[$0]) || views[$0] < 0 }
    }
}

extension GenreRow {
    public static var naturalKeyColumns: [String]? { ["title_id", "genre_name"] }
    public static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int? {
        guard let names = batch.byteArrays(columnPosition("genre_name", of: Self.self)) else { return rows.first }
        let offsets = names.offsets
        let bytes = names.bytes
        return rows.first { offsets[$0] == offsets[$0 + 1] || bytes[offsets[$0]] == UInt8(ascii: "#") }
    }
}

extension EpisodeRow {
    public static var naturalKeyColumns: [String]? { ["title_id", "episode_id"] }
    public static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int? {
        let likesColumn = columnPosition("likes", of: Self.self)
        let commentsColumn = columnPosition("comments", of: Self.self)
        let reasonColumn = columnPosition("missing_reason", of: Self.self)
        guard let likes = batch.int64s(likesColumn), let comments = batch.int64s(commentsColumn),
            let reasons = batch.byteArrays(reasonColumn)
        else { return rows.first }
        let likesValid = batch.columns[likesColumn].validity
        let commentsValid = batch.columns[commentsColumn].validity
        let reasonValid = batch.columns[reasonColumn].validity
        let offsets = reasons.offsets
        return rows.first { i in
            if likes[i] < 0 || comments[i] < 0 { return true }
            let missing = likesValid?[i] == false || commentsValid?[i] == false
            return missing && (reasonValid?[i] == false || offsets[i] == offsets[i + 1])
        }
    }
}

extension CommentRow {
    public static var naturalKeyColumns: [String]? { ["title_id", "episode_id", "comment_id"] }
    public static func firstSuspectRow(in batch: ColumnBatch, rows: Range<Int>) -> Int? {
        guard let ids = batch.byteArrays(columnPosition("comment_id", of: Self.self)) else { return rows.first }
        let offsets = ids.offsets
        return rows.first { offsets[$0] == offsets[$0 + 1] }
    }
}
