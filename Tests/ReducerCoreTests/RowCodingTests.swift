import ReducerCore
import Testing

@Suite struct CalendarDayTests {
    @Test func epochAndKnownDays() throws {
        #expect(CalendarDay(year: 1970, month: 1, day: 1)?.daysSinceEpoch == 0)
        #expect(CalendarDay(year: 1969, month: 12, day: 31)?.daysSinceEpoch == -1)
        // PostgreSQL's date epoch 2000-01-01 lies 30 years (7 of them leap years) after 1970-01-01.
        let postgresEpoch: Int32 = 30 * 365 + 7
        #expect(CalendarDay(year: 2000, month: 1, day: 1)?.daysSinceEpoch == postgresEpoch)
        #expect(CalendarDay("2024-02-29")?.description == "2024-02-29")
    }

    @Test(arguments: ["2025-02-29", "2025-13-01", "2025-00-10", "2025-1-01", "20250101", "2025-01-32", "abcd-ef-gh"])
    func rejectsInvalidText(text: String) { #expect(CalendarDay(text) == nil) }

    @Test func componentsRoundTripOverManyYears() throws {
        var previous: CalendarDay?
        for year in [1, 1899, 1900, 1999, 2000, 2024, 2100, 9999] {
            for month in 1...12 {
                for day in [1, 15, 28] {
                    let value = try #require(CalendarDay(year: year, month: month, day: day))
                    #expect(value.components == (year, month, day))
                    #expect(CalendarDay(value.description) == value)
                    if let previous { #expect(previous < value) }
                    previous = value
                }
            }
        }
        // Consecutive days step by exactly one across month and year ends.
        var day = try #require(CalendarDay(year: 2023, month: 12, day: 1))
        var seen = Set<String>()
        for _ in 0..<800 {
            let next = day.adding(days: 1)
            #expect(next.daysSinceEpoch == day.daysSinceEpoch + 1)
            #expect(seen.insert(next.description).inserted)
            #expect(CalendarDay(next.description) == next)
            day = next
        }
    }
}

@Suite struct RowCodingTests {
    static let day = CalendarDay(year: 2026, month: 11, day: 25)!

    static func randomRows(seed: UInt64) -> (TitleRow, GenreRow, EpisodeRow, CommentRow) {
        var g = SplitMix64(seed: seed)
        let title = TitleRow(
            platform: "naver", id: Int64.random(in: .min ... .max, using: &g), title: g.text(maxLength: 30),
            author: g.text(maxLength: 10), views: g.maybe(Int64.random(in: 0...1 << 40, using: &g)),
            favoriteCount: g.maybe(Int64.random(in: 0...1 << 20, using: &g)), imageURL: g.text(maxLength: 30),
            releaseDay: Int.random(in: 0...7, using: &g), isCompleted: Bool.random(using: &g),
            restricted: Bool.random(using: &g), ageRating: g.maybe(g.text(maxLength: 8)), snapshotDate: day,
            fetchedAt: Int64.random(in: 0...1 << 52, using: &g))
        let genre = GenreRow(
            platform: "kakao", titleID: Int64.random(in: 0...1 << 40, using: &g),
            genreName: "로맨스" + g.text(maxLength: 5),
            snapshotDate: day, fetchedAt: 7)
        let episode = randomEpisode(using: &g, keySpace: 1000, day: day)
        let comment = CommentRow(
            platform: "naver", titleID: 1, episodeID: 2, commentID: "c" + g.text(maxLength: 10),
            author: g.maybe(g.text(maxLength: 8)), body: g.text(maxLength: 200),
            likes: g.maybe(Int64.random(in: 0...99, using: &g)), createdAt: g.maybe(1_700_000_000_000_000),
            snapshotDate: day, fetchedAt: 3)
        return (title, genre, episode, comment)
    }

    func roundTrip<Row: ProcessedRow>(_ row: Row) throws {
        let bytes = encoded(row)
        let decoded = try bytes.withUnsafeBytes { raw in
            var reader = RowReader(raw, table: "t")
            return try Row.decode(from: &reader)
        }
        #expect(decoded == row)
        // Every strict prefix is refused, never mis-decoded.
        for cut in Set([0, 1, bytes.count / 2, bytes.count - 1]) where cut < bytes.count {
            #expect(throws: ReducerError.self) {
                try Array(bytes[0..<cut]).withUnsafeBytes { raw in
                    var reader = RowReader(raw, table: "t")
                    _ = try Row.decode(from: &reader)
                }
            }
        }
        let error = #expect(throws: ReducerError.self) {
            try (bytes + [0]).withUnsafeBytes { raw in
                var reader = RowReader(raw, table: "t")
                _ = try Row.decode(from: &reader)
            }
        }
        #expect(error?.code == .invalidRow)
    }

    @Test(arguments: 0..<40)
    func everyRowTypeRoundTrips(seed: UInt64) throws {
        let (title, genre, episode, comment) = Self.randomRows(seed: seed)
        try roundTrip(title)
        try roundTrip(genre)
        try roundTrip(episode)
        try roundTrip(comment)
    }

    @Test func forgedStringLengthIsAnErrorNotAnAllocation() throws {
        var writer = RowWriter()
        writer.write(Int32.max)  // a string claiming 2 GiB
        writer.write(UInt8(65))
        let error = #expect(throws: ReducerError.self) {
            try writer.bytes.withUnsafeBytes { raw in
                var reader = RowReader(raw, table: "titles")
                _ = try reader.readString()
            }
        }
        #expect(error?.code == .invalidRow)
        #expect(error?.subject == "titles")
    }

    @Test func sortKeyBytesOrderLikeTheTypedFields() {
        var g = SplitMix64(seed: 42)
        var samples: [(Int64, String, Int64)] = []
        let edges: [Int64] = [.min, -1, 0, 1, .max]
        for _ in 0..<400 {
            let a = Bool.random(using: &g) ? edges.randomElement(using: &g)! : Int64.random(in: -50...50, using: &g)
            samples.append((a, g.text(maxLength: 4), Int64.random(in: -3...3, using: &g)))
        }
        func key(_ s: (Int64, String, Int64)) -> [UInt8] {
            var k = SortKeyEncoder()
            k.append(s.0)
            k.append(s.1)
            k.append(s.2)
            return k.bytes
        }
        for _ in 0..<4000 {
            let x = samples.randomElement(using: &g)!
            let y = samples.randomElement(using: &g)!
            let typed =
                x.0 != y.0 ? x.0 < y.0 : (x.1 != y.1 ? Array(x.1.utf8).lexicographicallyPrecedes(y.1.utf8) : x.2 < y.2)
            #expect(key(x).lexicographicallyPrecedes(key(y)) == typed, "\(x) vs \(y)")
            #expect((key(x) == key(y)) == (x == y))
        }
    }

    @Test func validationRefusesRowsOutsideTheirDomain() {
        let day = Self.day
        let (title, genre, episode, _) = Self.randomRows(seed: 1)
        var badTitle = title
        badTitle.releaseDay = 8
        var otherPlatform = title
        otherPlatform.platform = "line"
        var hashGenre = genre
        hashGenre.genreName = "#판타지"
        var silentlyMissing = episode
        silentlyMissing.likes = nil
        silentlyMissing.missingReason = nil
        var negative = episode
        negative.comments = -1
        negative.missingReason = "x"
        for row in [badTitle, otherPlatform] as [TitleRow] {
            #expect(throws: ReducerError.self) { try row.validate() }
        }
        #expect(throws: ReducerError.self) { try hashGenre.validate() }
        #expect(throws: ReducerError.self) { try silentlyMissing.validate() }
        #expect(throws: ReducerError.self) { try negative.validate() }
        var fine = episode
        fine.likes = nil
        fine.missingReason = "likes: timeout"
        #expect(throws: Never.self) { try fine.validate() }
        _ = day
    }
}
