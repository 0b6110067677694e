import Foundation
import Logging
import PQKit
import ReducerCore
import Testing
import Warehouse

/// The server under test. Unset or unreachable is a failure, never a skip.
func databaseURL() throws -> String {
    try #require(
        ProcessInfo.processInfo.environment["DATABASE_URL"],
        "DATABASE_URL must name a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:55432/webtoon")
}

func connect() async throws -> PGConnection {
    let connection = try await PGConnection.connect(try databaseURL())
    // DROP … CASCADE notices would bury the test output.
    try await connection.execute("SET client_min_messages TO warning")
    return connection
}

let testLogger = Logger(label: "WarehouseIntegrationTests")

/// Runs `body` with fresh, migrated schemas `warehouse_t<random>`, `site_…`, `dashboard_…` and drops them after,
/// from a fresh connection (the test's may be the one that was killed).
func withWarehouse<T>(
    migrate: Bool = true, _ body: (PGConnection, WarehouseSchemas) async throws -> T
) async throws -> T {
    let schemas = WarehouseSchemas(suffix: "t" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
    let connection = try await connect()
    func cleanUp() async throws {
        let cleaner = try await connect()
        for name in [
            schemas.warehouse, schemas.site, schemas.dashboard, schemas.site + "_next", schemas.dashboard + "_next",
        ] {
            try await cleaner.execute("DROP SCHEMA IF EXISTS " + (try await cleaner.quoteIdentifier(name)) + " CASCADE")
        }
        await cleaner.close()
        await connection.close()
    }
    do {
        if migrate { _ = try await Migrator(schemas: schemas, logger: testLogger).migrate(on: connection) }
        let value = try await body(connection, schemas)
        try await cleanUp()
        return value
    } catch {
        try? await cleanUp()
        throw error
    }
}

/// `schema.table`, quoted.
func qualified(_ connection: PGConnection, _ schema: String, _ table: String) async throws -> String {
    try await connection.quoteIdentifier(schema) + "." + connection.quoteIdentifier(table)
}

func scalar<T: PGTextDecodable>(_ connection: PGConnection, _ sql: String, _ params: [PGValue?] = []) async throws -> T?
{
    try await connection.query(sql, params).rows.first?.value(0, as: T.self)
}

/// An md5 over every row of the table in key order: equal before and after means identical content.
func contentHash(_ connection: PGConnection, _ table: String) async throws -> String {
    let hash: String? = try await scalar(
        connection, "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM \(table) t")
    return hash ?? "none"
}

func day(_ text: String) -> CalendarDay { CalendarDay(text)! }

/// Microseconds since 1970 for a KST crawl at 09:00 of `day` plus `offset` seconds.
func fetchTime(_ day: CalendarDay, _ offset: Int64 = 0) -> Int64 {
    (Int64(day.daysSinceEpoch) * 86_400 + offset) * 1_000_000
}

func episode(
    _ platform: String, _ titleID: Int64, _ episodeID: Int64, on day: CalendarDay, likes: Int64?, comments: Int64?,
    published: CalendarDay? = nil, title: String? = nil
) -> EpisodeRow {
    EpisodeRow(
        platform: platform, titleID: titleID, episodeID: episodeID, no: episodeID % 1000,
        title: title ?? "\(platform) \(titleID) #\(episodeID)", likes: likes, comments: comments,
        rating: platform == "naver" ? 9.5 : nil, imageURL: "https://img.example/\(episodeID)",
        publishedDate: published, snapshotDate: day, fetchedAt: fetchTime(day),
        missingReason: likes == nil || comments == nil ? "likes: HTTP 500 after 3 attempts" : nil)
}

func title(
    _ platform: String, _ id: Int64, on day: CalendarDay, releaseDay: Int, name: String, views: Int64?
) -> TitleRow {
    TitleRow(
        platform: platform, id: id, title: name, author: "작가 / 그림", views: views,
        favoriteCount: platform == "naver" ? 1234 : nil, imageURL: "https://img.example/t\(id)",
        releaseDay: releaseDay, isCompleted: releaseDay == 7, restricted: false, ageRating: nil, snapshotDate: day,
        fetchedAt: fetchTime(day))
}

/// A tiny deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The leaf partitions (one per loaded slice) under `<schema>.<parent>`, e.g. `episodes_kakao`.
func leaves(_ connection: PGConnection, _ schema: String, _ parent: String) async throws -> [String] {
    try await connection.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            + "WHERE i.inhparent = $1::regclass ORDER BY 1",
        [.text(try await qualified(connection, schema, parent))]
    ).rows.compactMap { $0[0] }
}
