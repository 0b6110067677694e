public import PQKit
public import ReducerCore

/// A processed row that loads into `<warehouse>.<table>` with binary COPY.
public protocol WarehouseRow: ProcessedRow {
    /// Column names in COPY order; every one exists in the warehouse table.
    static var columns: [String] { get }
    /// Appends exactly `columns.count` fields, each with its column's binary width.
    func writeFields(to row: inout PGCopyEncoder) throws(PGError)
}

extension PGCopyEncoder {
    mutating func date(_ day: CalendarDay) throws(PGError) {
        // A corrupt file can hold any Int32 of days; PGDate takes years 1...9999.
        guard let value = PGDate(daysSinceUnixEpoch: Int(day.daysSinceEpoch)) else {
            throw PGError(
                code: .invalidArgument, operation: "COPY binary encoding",
                message: "date \(day.daysSinceEpoch) days since 1970 is outside years 1...9999")
        }
        date(value)
    }
    mutating func optional<T>(_ value: T?, _ write: (inout PGCopyEncoder, T) throws(PGError) -> Void) throws(PGError) {
        if let value { try write(&self, value) } else { null() }
    }
}

extension CalendarDay {
    /// This day as a bind parameter.
    var parameter: PGValue { .date(PGDate(daysSinceUnixEpoch: Int(daysSinceEpoch))!) }
}

extension TitleRow: WarehouseRow {
    public static let columns = [
        "platform", "id", "snapshot_date", "release_day", "title", "author", "views", "favorite_count", "image_url",
        "is_completed", "restricted", "age_rating", "fetched_at",
    ]
    public func writeFields(to row: inout PGCopyEncoder) throws(PGError) {
        row.text(platform)
        row.int8(id)
        try row.date(snapshotDate)
        row.int4(Int32(releaseDay))
        row.text(title)
        row.text(author)
        try row.optional(views) { $0.int8($1) }
        try row.optional(favoriteCount) { $0.int8($1) }
        row.text(imageURL)
        row.bool(isCompleted)
        row.bool(restricted)
        try row.optional(ageRating) { $0.text($1) }
        try row.timestamptz(microsecondsSinceUnixEpoch: fetchedAt)
    }
}

extension GenreRow: WarehouseRow {
    public static let columns = ["platform", "title_id", "snapshot_date", "genre_name", "fetched_at"]
    public func writeFields(to row: inout PGCopyEncoder) throws(PGError) {
        row.text(platform)
        row.int8(titleID)
        try row.date(snapshotDate)
        row.text(genreName)
        try row.timestamptz(microsecondsSinceUnixEpoch: fetchedAt)
    }
}

extension EpisodeRow: WarehouseRow {
    public static let columns = [
        "platform", "title_id", "episode_id", "snapshot_date", "no", "title", "likes", "comments", "rating",
        "image_url", "published_date", "missing_reason", "fetched_at",
    ]
    public func writeFields(to row: inout PGCopyEncoder) throws(PGError) {
        row.text(platform)
        row.int8(titleID)
        row.int8(episodeID)
        try row.date(snapshotDate)
        row.int8(no)
        row.text(title)
        try row.optional(likes) { $0.int8($1) }
        try row.optional(comments) { $0.int8($1) }
        try row.optional(rating) { $0.float8($1) }
        row.text(imageURL)
        try row.optional(publishedDate) { (row, day) throws(PGError) in try row.date(day) }
        try row.optional(missingReason) { $0.text($1) }
        try row.timestamptz(microsecondsSinceUnixEpoch: fetchedAt)
    }
}

extension CommentRow: WarehouseRow {
    public static let columns = [
        "platform", "title_id", "episode_id", "comment_id", "snapshot_date", "author", "body", "likes", "created_at",
        "fetched_at",
    ]
    public func writeFields(to row: inout PGCopyEncoder) throws(PGError) {
        row.text(platform)
        row.int8(titleID)
        row.int8(episodeID)
        row.text(commentID)
        try row.date(snapshotDate)
        try row.optional(author) { $0.text($1) }
        row.text(body)
        try row.optional(likes) { $0.int8($1) }
        try row.optional(createdAt) { (row, micros) throws(PGError) in
            try row.timestamptz(microsecondsSinceUnixEpoch: micros)
        }
        try row.timestamptz(microsecondsSinceUnixEpoch: fetchedAt)
    }
}
