/// The processed tables the reducer writes (`processed/TABLE/year=/month=/day=/platform=/`) and the warehouse loads.
public enum ProcessedTable: String, Sendable, CaseIterable, CustomStringConvertible {
    case titles, genres, episodes, comments
    public var description: String { rawValue }
}

/// The platforms a row may belong to. Every key starts with the platform: Naver and Kakao ids collide.
public let acceptedPlatforms: Set<String> = ["naver", "kakao"]

/// One row of a processed table.
///
/// Rows sort and deduplicate on `(snapshotDate, platform, natural key…)`: within a (day, platform) slice each natural
/// key appears once, and among duplicates the row with the latest `fetchedAt` wins (then the larger encoded row, so the
/// choice never depends on input order).
public protocol ProcessedRow: Sendable, Hashable {
    static var table: ProcessedTable { get }
    var platform: String { get }
    /// The KST crawl day this row describes (one per job, carried from the job, never from a clock).
    var snapshotDate: CalendarDay { get }
    /// When the source response was fetched, in microseconds since 1970-01-01 UTC; the newer fetch wins.
    var fetchedAt: Int64 { get }
    /// Appends the natural key after `(snapshotDate, platform)`, which the sorter adds itself.
    func appendNaturalKey(to key: inout SortKeyEncoder)
    func encode(to writer: inout RowWriter)
    static func decode(from reader: inout RowReader) throws(ReducerError) -> Self
    /// Domain checks that do not need other rows (platform accepted, release day in 0...7, reasons for NULLs…).
    func validate() throws(ReducerError)
}

extension ProcessedRow {
    /// The full sort key: `(snapshotDate, platform, natural key…)`, in memcmp order.
    public func appendSortKey(to key: inout SortKeyEncoder) {
        key.append(snapshotDate)
        key.append(platform)
        appendNaturalKey(to: &key)
    }

    func invalid(_ detail: String) -> ReducerError {
        ReducerError(code: .invalidRow, operation: "validate row", subject: Self.table.rawValue, detail: detail)
    }

    func validatePlatform() throws(ReducerError) {
        guard acceptedPlatforms.contains(platform) else {
            throw invalid("platform '\(platform)' is not naver or kakao")
        }
    }
}

/// A title as listed on one day. A title in several weekday lists has one row per list (`releaseDay` 0 = Monday …
/// 6 = Sunday), so no weekday is lost; finished/completed titles have `releaseDay` 7.
public struct TitleRow: ProcessedRow {
    public static let table = ProcessedTable.titles
    public var platform: String
    public var id: Int64
    public var title: String
    public var author: String
    /// Kakao decorator `viewCount`; nil for Naver, whose list `viewCount` is always 0 and is never taken as views.
    public var views: Int64?
    /// Naver `favoriteCount`; nil for Kakao.
    public var favoriteCount: Int64?
    public var imageURL: String
    public var releaseDay: Int
    public var isCompleted: Bool
    /// Naver adult title whose episodes an anonymous client cannot list.
    public var restricted: Bool
    public var ageRating: String?
    public var snapshotDate: CalendarDay
    public var fetchedAt: Int64

    public init(
        platform: String, id: Int64, title: String, author: String, views: Int64?, favoriteCount: Int64?,
        imageURL: String, releaseDay: Int, isCompleted: Bool, restricted: Bool, ageRating: String?,
        snapshotDate: CalendarDay, fetchedAt: Int64
    ) {
        self.platform = platform
        self.id = id
        self.title = title
        self.author = author
        self.views = views
        self.favoriteCount = favoriteCount
        self.imageURL = imageURL
        self.releaseDay = releaseDay
        self.isCompleted = isCompleted
        self.restricted = restricted
        self.ageRating = ageRating
        self.snapshotDate = snapshotDate
        self.fetchedAt = fetchedAt
    }

    public func appendNaturalKey(to key: inout SortKeyEncoder) {
        key.append(id)
        key.append(releaseDay)
    }

    public func encode(to writer: inout RowWriter) {
        writer.write(platform)
        writer.write(id)
        writer.write(title)
        writer.write(author)
        writer.write(views)
        writer.write(favoriteCount)
        writer.write(imageURL)
        writer.write(UInt8(truncatingIfNeeded: releaseDay))
        writer.write(isCompleted)
        writer.write(restricted)
        writer.write(ageRating)
        writer.write(snapshotDate)
        writer.write(fetchedAt)
    }

    public static func decode(from reader: inout RowReader) throws(ReducerError) -> TitleRow {
        let row = TitleRow(
            platform: try reader.readString(), id: try reader.readInt64(), title: try reader.readString(),
            author: try reader.readString(), views: try reader.readOptionalInt64(),
            favoriteCount: try reader.readOptionalInt64(), imageURL: try reader.readString(),
            releaseDay: Int(try reader.readUInt8()), isCompleted: try reader.readBool(),
            restricted: try reader.readBool(), ageRating: try reader.readOptionalString(),
            snapshotDate: try reader.readDay(), fetchedAt: try reader.readInt64())
        try reader.finish()
        return row
    }

    public func validate() throws(ReducerError) {
        try validatePlatform()
        guard (0...7).contains(releaseDay) else { throw invalid("title \(platform)/\(id): release day \(releaseDay)") }
        if let views, views < 0 { throw invalid("title \(platform)/\(id): negative views \(views)") }
    }
}

/// One genre (tag or SEO keyword, without its leading `#`) of a title on one day.
public struct GenreRow: ProcessedRow {
    public static let table = ProcessedTable.genres
    public var platform: String
    public var titleID: Int64
    public var genreName: String
    public var snapshotDate: CalendarDay
    public var fetchedAt: Int64

    public init(platform: String, titleID: Int64, genreName: String, snapshotDate: CalendarDay, fetchedAt: Int64) {
        self.platform = platform
        self.titleID = titleID
        self.genreName = genreName
        self.snapshotDate = snapshotDate
        self.fetchedAt = fetchedAt
    }

    public func appendNaturalKey(to key: inout SortKeyEncoder) {
        key.append(titleID)
        key.append(genreName)
    }

    public func encode(to writer: inout RowWriter) {
        writer.write(platform)
        writer.write(titleID)
        writer.write(genreName)
        writer.write(snapshotDate)
        writer.write(fetchedAt)
    }

    public static func decode(from reader: inout RowReader) throws(ReducerError) -> GenreRow {
        let row = GenreRow(
            platform: try reader.readString(), titleID: try reader.readInt64(), genreName: try reader.readString(),
            snapshotDate: try reader.readDay(), fetchedAt: try reader.readInt64())
        try reader.finish()
        return row
    }

    public func validate() throws(ReducerError) {
        try validatePlatform()
        guard !genreName.isEmpty, !genreName.hasPrefix("#") else {
            throw invalid("title \(platform)/\(titleID): genre '\(genreName)' is empty or starts with '#'")
        }
    }
}

/// One episode as seen on one day. A count that could not be fetched stays nil and `missingReason` says why: the
/// reducer never invents or zero-fills a value.
public struct EpisodeRow: ProcessedRow {
    public static let table = ProcessedTable.episodes
    public var platform: String
    public var titleID: Int64
    /// Naver article `no`; Kakao global episode id.
    public var episodeID: Int64
    /// Per-title episode number.
    public var no: Int64
    public var title: String
    public var likes: Int64?
    public var comments: Int64?
    /// Naver average star score; nil for Kakao, which has none.
    public var rating: Double?
    public var imageURL: String
    public var publishedDate: CalendarDay?
    public var snapshotDate: CalendarDay
    public var fetchedAt: Int64
    /// Why `likes` or `comments` is nil (e.g. `likes: HTTP 404`); nil when both are present.
    public var missingReason: String?

    public init(
        platform: String, titleID: Int64, episodeID: Int64, no: Int64, title: String, likes: Int64?,
        comments: Int64?, rating: Double?, imageURL: String, publishedDate: CalendarDay?,
        snapshotDate: CalendarDay, fetchedAt: Int64, missingReason: String?
    ) {
        self.platform = platform
        self.titleID = titleID
        self.episodeID = episodeID
        self.no = no
        self.title = title
        self.likes = likes
        self.comments = comments
        self.rating = rating
        self.imageURL = imageURL
        self.publishedDate = publishedDate
        self.snapshotDate = snapshotDate
        self.fetchedAt = fetchedAt
        self.missingReason = missingReason
    }

    public func appendNaturalKey(to key: inout SortKeyEncoder) {
        key.append(titleID)
        key.append(episodeID)
    }

    public func encode(to writer: inout RowWriter) {
        writer.write(platform)
        writer.write(titleID)
        writer.write(episodeID)
        writer.write(no)
        writer.write(title)
        writer.write(likes)
        writer.write(comments)
        writer.write(rating)
        writer.write(imageURL)
        writer.write(publishedDate)
        writer.write(snapshotDate)
        writer.write(fetchedAt)
        writer.write(missingReason)
    }

    public static func decode(from reader: inout RowReader) throws(ReducerError) -> EpisodeRow {
        let row = EpisodeRow(
            platform: try reader.readString(), titleID: try reader.readInt64(), episodeID: try reader.readInt64(),
            no: try reader.readInt64(), title: try reader.readString(), likes: try reader.readOptionalInt64(),
            comments: try reader.readOptionalInt64(), rating: try reader.readOptionalDouble(),
            imageURL: try reader.readString(), publishedDate: try reader.readOptionalDay(),
            snapshotDate: try reader.readDay(), fetchedAt: try reader.readInt64(),
            missingReason: try reader.readOptionalString())
        try reader.finish()
        return row
    }

    public func validate() throws(ReducerError) {
        try validatePlatform()
        let name = "episode \(platform)/\(titleID)/\(episodeID)"
        if likes == nil || comments == nil, missingReason?.isEmpty ?? true {
            throw invalid("\(name): likes or comments is missing without a missing reason")
        }
        if let likes, likes < 0 { throw invalid("\(name): negative likes \(likes)") }
        if let comments, comments < 0 { throw invalid("\(name): negative comments \(comments)") }
    }
}

/// One comment of an episode on one day (optional table).
public struct CommentRow: ProcessedRow {
    public static let table = ProcessedTable.comments
    public var platform: String
    public var titleID: Int64
    public var episodeID: Int64
    /// The platform's comment id (Naver cbox ids are strings).
    public var commentID: String
    public var author: String?
    public var body: String
    public var likes: Int64?
    /// When the comment was written, in microseconds since 1970-01-01 UTC, if the platform says.
    public var createdAt: Int64?
    public var snapshotDate: CalendarDay
    public var fetchedAt: Int64

    public init(
        platform: String, titleID: Int64, episodeID: Int64, commentID: String, author: String?, body: String,
        likes: Int64?, createdAt: Int64?, snapshotDate: CalendarDay, fetchedAt: Int64
    ) {
        self.platform = platform
        self.titleID = titleID
        self.episodeID = episodeID
        self.commentID = commentID
        self.author = author
        self.body = body
        self.likes = likes
        self.createdAt = createdAt
        self.snapshotDate = snapshotDate
        self.fetchedAt = fetchedAt
    }

    public func appendNaturalKey(to key: inout SortKeyEncoder) {
        key.append(titleID)
        key.append(episodeID)
        key.append(commentID)
    }

    public func encode(to writer: inout RowWriter) {
        writer.write(platform)
        writer.write(titleID)
        writer.write(episodeID)
        writer.write(commentID)
        writer.write(author)
        writer.write(body)
        writer.write(likes)
        writer.write(createdAt)
        writer.write(snapshotDate)
        writer.write(fetchedAt)
    }

    public static func decode(from reader: inout RowReader) throws(ReducerError) -> CommentRow {
        let row = CommentRow(
            platform: try reader.readString(), titleID: try reader.readInt64(), episodeID: try reader.readInt64(),
            commentID: try reader.readString(), author: try reader.readOptionalString(), body: try reader.readString(),
            likes: try reader.readOptionalInt64(), createdAt: try reader.readOptionalInt64(),
            snapshotDate: try reader.readDay(), fetchedAt: try reader.readInt64())
        try reader.finish()
        return row
    }

    public func validate() throws(ReducerError) {
        try validatePlatform()
        guard !commentID.isEmpty else { throw invalid("comment of \(platform)/\(titleID)/\(episodeID): empty id") }
    }
}
