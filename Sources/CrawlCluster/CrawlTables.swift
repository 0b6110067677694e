import ParquetKit
import WebtoonCore

/// The Parquet tables a crawl writes, one folder each under `<dataRoot>/optimized/`.
///
/// Files live in hive partitions `year=YYYY/month=MM/day=DD/platform=P` of the crawl date, so `platform` is a
/// partition key and not a stored column (hive readers such as pyarrow and DuckDB restore it from the path);
/// every row still keeps its `crawl_date`. A record field that is optional is a nullable column.
public enum CrawlTable: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case titles
    case titleDetails = "title_details"
    case genres
    case episodes
    case episodeStats = "episode_stats"
    case comments

    public var description: String { rawValue }

    public var schema: ParquetSchema { Self.schemas[self]! }

    // Built once; the column lists are constants, so construction cannot fail at run time (tested).
    private static let schemas: [CrawlTable: ParquetSchema] = {
        var result: [CrawlTable: ParquetSchema] = [:]
        for table in CrawlTable.allCases {
            result[table] = try! ParquetSchema(table.columns)
        }
        return result
    }()

    var columns: [ParquetColumn] {
        switch self {
        case .titles:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("name", .string), ParquetColumn("author", .string),
                ParquetColumn("thumbnail_url", .string), ParquetColumn("weekdays", .list(.int32)),
                ParquetColumn("completed", .boolean), ParquetColumn("adult", .boolean),
                ParquetColumn("crawl_date", .date), ParquetColumn("fetched_at", .timestamp),
            ]
        case .titleDetails:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("age_rating", .string, nullable: true),
                ParquetColumn("restricted", .boolean), ParquetColumn("daily_pass", .boolean),
                ParquetColumn("finished", .boolean, nullable: true),
                ParquetColumn("favorite_count", .int64, nullable: true), ParquetColumn("views", .int64, nullable: true),
                ParquetColumn("synopsis", .string, nullable: true), ParquetColumn("publish_weekdays", .list(.int32)),
                ParquetColumn("total_episode_count", .int64, nullable: true),
                ParquetColumn("visible_episode_count", .int64), ParquetColumn("crawl_date", .date),
                ParquetColumn("fetched_at", .timestamp),
            ]
        case .genres:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("name", .string), ParquetColumn("source", .string),
                ParquetColumn("crawl_date", .date),
            ]
        case .episodes:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("episode_id", .int64), ParquetColumn("no", .int64),
                ParquetColumn("title", .string), ParquetColumn("published_date", .date, nullable: true),
                ParquetColumn("published_source", .string, nullable: true),
                ParquetColumn("thumbnail_url", .string, nullable: true), ParquetColumn("paid", .boolean, nullable: true),
                ParquetColumn("crawl_date", .date), ParquetColumn("fetched_at", .timestamp),
            ]
        case .episodeStats:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("episode_id", .int64),
                ParquetColumn("likes", .int64, nullable: true), ParquetColumn("comments", .int64, nullable: true),
                ParquetColumn("rating", .double, nullable: true), ParquetColumn("rating_count", .int64, nullable: true),
                ParquetColumn("views", .int64, nullable: true), ParquetColumn("missing_reason", .string, nullable: true),
                ParquetColumn("crawl_date", .date), ParquetColumn("fetched_at", .timestamp),
            ]
        case .comments:
            [
                ParquetColumn("title_id", .int64), ParquetColumn("episode_id", .int64),
                ParquetColumn("comment_id", .string), ParquetColumn("text", .string), ParquetColumn("likes", .int64),
                ParquetColumn("created_at", .string, nullable: true), ParquetColumn("crawl_date", .date),
            ]
        }
    }
}

/// Where one group of rows goes: a table and the partition of its platform and crawl date.
public struct TablePartitionKey: Hashable, Sendable {
    public let table: CrawlTable
    public let platform: Platform
    public let crawlDate: CrawlDate
}

/// Records ⇄ Parquet rows, both ways (the reducer and the tests read what workers wrote).
public enum CrawlRows {
    /// The rows of a batch grouped by table and partition, in record order; empty groups are absent.
    public static func rows(of batch: RecordBatch) -> [TablePartitionKey: [[ParquetValue]]] {
        var result: [TablePartitionKey: [[ParquetValue]]] = [:]
        func add(_ table: CrawlTable, _ platform: Platform, _ date: CrawlDate, _ row: [ParquetValue]) {
            result[TablePartitionKey(table: table, platform: platform, crawlDate: date), default: []].append(row)
        }
        for r in batch.titles {
            add(.titles, r.platform, r.crawlDate, [
                .int64(r.titleId), .string(r.name), .string(r.author), .string(r.thumbnailUrl), intList(r.weekdays),
                .boolean(r.completed), .boolean(r.adult), date(r.crawlDate), timestamp(r.fetchedAt),
            ])
        }
        for r in batch.titleDetails {
            add(.titleDetails, r.platform, r.crawlDate, [
                .int64(r.titleId), string(r.ageRating), .boolean(r.restricted), .boolean(r.dailyPass), bool(r.finished),
                int64(r.favoriteCount), int64(r.views), string(r.synopsis), intList(r.publishWeekdays),
                int64(r.totalEpisodeCount.map(Int64.init)), .int64(Int64(r.visibleEpisodeCount)), date(r.crawlDate),
                timestamp(r.fetchedAt),
            ])
        }
        for r in batch.genres {
            add(.genres, r.platform, r.crawlDate, [.int64(r.titleId), .string(r.name), .string(r.source), date(r.crawlDate)])
        }
        for r in batch.episodes {
            add(.episodes, r.platform, r.crawlDate, [
                .int64(r.titleId), .int64(r.episodeId), .int64(r.no), .string(r.title),
                r.publishedDate.map(date) ?? .null, string(r.publishedSource), string(r.thumbnailUrl), bool(r.paid),
                date(r.crawlDate), timestamp(r.fetchedAt),
            ])
        }
        for r in batch.episodeStats {
            add(.episodeStats, r.platform, r.crawlDate, [
                .int64(r.titleId), .int64(r.episodeId), int64(r.likes), int64(r.comments), r.rating.map { .double($0) } ?? .null,
                int64(r.ratingCount), int64(r.views), string(r.missingReason), date(r.crawlDate), timestamp(r.fetchedAt),
            ])
        }
        for r in batch.comments {
            add(.comments, r.platform, r.crawlDate, [
                .int64(r.titleId), .int64(r.episodeId), .string(r.commentId), .string(r.text), .int64(r.likes),
                string(r.createdAt), date(r.crawlDate),
            ])
        }
        return result
    }

    /// Appends the records of one file's rows (`platform` from its partition) to `batch`.
    public static func append(
        rows: [[ParquetValue]], table: CrawlTable, platform: Platform, to batch: inout RecordBatch
    ) throws(CrawlClusterError) {
        for row in rows {
            var cells = Cells(row: row, table: table)
            switch table {
            case .titles:
                batch.titles.append(
                    TitleRecord(
                        platform: platform, titleId: try cells.int64(), name: try cells.string(), author: try cells.string(),
                        thumbnailUrl: try cells.string(), weekdays: try cells.intList(), completed: try cells.bool(),
                        adult: try cells.bool(), crawlDate: try cells.date(), fetchedAt: try cells.timestamp()))
            case .titleDetails:
                batch.titleDetails.append(
                    TitleDetailRecord(
                        platform: platform, titleId: try cells.int64(), ageRating: try cells.optionalString(),
                        restricted: try cells.bool(), dailyPass: try cells.bool(), finished: try cells.optionalBool(),
                        favoriteCount: try cells.optionalInt64(), views: try cells.optionalInt64(),
                        synopsis: try cells.optionalString(), publishWeekdays: try cells.intList(),
                        totalEpisodeCount: try cells.optionalInt64().map { Int($0) },
                        visibleEpisodeCount: Int(try cells.int64()), crawlDate: try cells.date(),
                        fetchedAt: try cells.timestamp()))
            case .genres:
                batch.genres.append(
                    GenreRecord(
                        platform: platform, titleId: try cells.int64(), name: try cells.string(), source: try cells.string(),
                        crawlDate: try cells.date()))
            case .episodes:
                batch.episodes.append(
                    EpisodeRecord(
                        platform: platform, titleId: try cells.int64(), episodeId: try cells.int64(), no: try cells.int64(),
                        title: try cells.string(), publishedDate: try cells.optionalDate(),
                        publishedSource: try cells.optionalString(), thumbnailUrl: try cells.optionalString(),
                        paid: try cells.optionalBool(), crawlDate: try cells.date(), fetchedAt: try cells.timestamp()))
            case .episodeStats:
                batch.episodeStats.append(
                    EpisodeStatsRecord(
                        platform: platform, titleId: try cells.int64(), episodeId: try cells.int64(),
                        likes: try cells.optionalInt64(), comments: try cells.optionalInt64(),
                        rating: try cells.optionalDouble(), ratingCount: try cells.optionalInt64(),
                        views: try cells.optionalInt64(), missingReason: try cells.optionalString(),
                        crawlDate: try cells.date(), fetchedAt: try cells.timestamp()))
            case .comments:
                batch.comments.append(
                    CommentRecord(
                        platform: platform, titleId: try cells.int64(), episodeId: try cells.int64(),
                        commentId: try cells.string(), text: try cells.string(), likes: try cells.int64(),
                        createdAt: try cells.optionalString(), crawlDate: try cells.date()))
            }
        }
    }

    private static func string(_ value: String?) -> ParquetValue { value.map { .string($0) } ?? .null }
    private static func int64(_ value: Int64?) -> ParquetValue { value.map { .int64($0) } ?? .null }
    private static func bool(_ value: Bool?) -> ParquetValue { value.map { .boolean($0) } ?? .null }
    private static func intList(_ values: [Int]) -> ParquetValue { .list(values.map { .int32(Int32(clamping: $0)) }) }
    private static func date(_ value: CrawlDate) -> ParquetValue { .date(Int32(clamping: value.daysSinceEpoch)) }
    private static func timestamp(_ millis: Int64) -> ParquetValue { .timestamp(millis.multipliedReportingOverflow(by: 1000).partialValue) }
}

/// Reads one row's cells in schema order, naming the table and column of anything unexpected.
private struct Cells {
    let row: [ParquetValue]
    let table: CrawlTable
    var index = 0

    init(row: [ParquetValue], table: CrawlTable) {
        self.row = row
        self.table = table
    }

    private mutating func next() throws(CrawlClusterError) -> ParquetValue {
        guard index < row.count else {
            throw CrawlClusterError(.badRow, "table \(table): row has \(row.count) cells, expected more")
        }
        defer { index += 1 }
        return row[index]
    }

    private func mismatch(_ value: ParquetValue, _ expected: String) -> CrawlClusterError {
        let column = index - 1 < table.columns.count && index >= 1 ? table.columns[index - 1].name : "#\(index - 1)"
        return CrawlClusterError(.badRow, "table \(table), column \(column): expected \(expected), found \(value)")
    }

    mutating func int64() throws(CrawlClusterError) -> Int64 {
        let value = try next()
        guard case .int64(let v) = value else { throw mismatch(value, "int64") }
        return v
    }
    mutating func optionalInt64() throws(CrawlClusterError) -> Int64? {
        let value = try next()
        if case .null = value { return nil }
        guard case .int64(let v) = value else { throw mismatch(value, "int64 or null") }
        return v
    }
    mutating func optionalDouble() throws(CrawlClusterError) -> Double? {
        let value = try next()
        if case .null = value { return nil }
        guard case .double(let v) = value else { throw mismatch(value, "double or null") }
        return v
    }
    mutating func string() throws(CrawlClusterError) -> String {
        let value = try next()
        guard case .string(let v) = value else { throw mismatch(value, "string") }
        return v
    }
    mutating func optionalString() throws(CrawlClusterError) -> String? {
        let value = try next()
        if case .null = value { return nil }
        guard case .string(let v) = value else { throw mismatch(value, "string or null") }
        return v
    }
    mutating func bool() throws(CrawlClusterError) -> Bool {
        let value = try next()
        guard case .boolean(let v) = value else { throw mismatch(value, "boolean") }
        return v
    }
    mutating func optionalBool() throws(CrawlClusterError) -> Bool? {
        let value = try next()
        if case .null = value { return nil }
        guard case .boolean(let v) = value else { throw mismatch(value, "boolean or null") }
        return v
    }
    mutating func intList() throws(CrawlClusterError) -> [Int] {
        let value = try next()
        guard case .list(let items) = value else { throw mismatch(value, "list<int32>") }
        var result: [Int] = []
        for item in items {
            guard case .int32(let v) = item else { throw mismatch(value, "list<int32>") }
            result.append(Int(v))
        }
        return result
    }
    mutating func date() throws(CrawlClusterError) -> CrawlDate {
        let value = try next()
        guard case .date(let days) = value else { throw mismatch(value, "date") }
        return CrawlDate(daysSinceEpoch: Int64(days))
    }
    mutating func optionalDate() throws(CrawlClusterError) -> CrawlDate? {
        let value = try next()
        if case .null = value { return nil }
        guard case .date(let days) = value else { throw mismatch(value, "date or null") }
        return CrawlDate(daysSinceEpoch: Int64(days))
    }
    mutating func timestamp() throws(CrawlClusterError) -> Int64 {
        let value = try next()
        guard case .timestamp(let micros) = value else { throw mismatch(value, "timestamp") }
        return micros / 1000
    }
}
