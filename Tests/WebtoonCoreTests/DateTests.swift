import Testing
import WebtoonCore

@Suite struct DateTests {
    @Test func parsesAndPrintsCalendarDays() throws {
        #expect(CrawlDate("2026-11-25")?.description == "2026-11-25")
        #expect(CrawlDate("2024-02-29") != nil)
        for bad in ["2025-02-29", "2026-13-01", "2026-1-01", "2026-11-25 ", "abcd-ef-gh", "", "2026-00-10"] {
            #expect(CrawlDate(bad) == nil, "\(bad)")
        }
        #expect(try #require(CrawlDate("2026-03-09")).pathComponent == "2026/03/09")
    }

    @Test func weekdaysAreMondayZero() {
        #expect(CrawlDate("2026-11-23")?.weekday == 0)  // Monday
        #expect(CrawlDate("2026-11-25")?.weekday == 2)
        #expect(CrawlDate("2026-11-29")?.weekday == 6)
        #expect(CrawlDate("1970-01-01")?.weekday == 3)
        #expect(CrawlDate("2000-02-29")?.weekday == 1)
    }

    @Test func daysRoundTripAndStepOneAtATime() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let days = Int64(generator.next() % 80_000) - 20_000
            let date = CrawlDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
            #expect(CrawlDate(date.description) == date)
            #expect(date.adding(days: 1).weekday == (date.weekday + 1) % 7)
        }
    }

    @Test func kstDayOfInstants() {
        // 2026-11-24T15:00:00Z is 2026-11-25 00:00 KST.
        #expect(CrawlDate(kstDayOfEpochMilliseconds: 1_795_532_400_000).description == "2026-11-25")
        #expect(CrawlDate(kstDayOfEpochMilliseconds: 1_795_532_399_999).description == "2026-11-24")
        #expect(CrawlDate(kstDayOfEpochMilliseconds: -1).description == "1970-01-01")
    }

    @Test func naverShortDatesAreKSTDays() {
        #expect(CrawlDate.naverShortDate("25.02.09")?.description == "2025-02-09")
        for bad in ["25.2.09", "25-02-09", "25.02.30", "", "2025.02.09", "ab.cd.ef"] {
            #expect(CrawlDate.naverShortDate(bad) == nil, "\(bad)")
        }
    }

    @Test func isoTimestampsKeepTheirOffset() {
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-10T00:00:00+09:00")?.description == "2021-05-10")
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-09T15:00:00Z")?.description == "2021-05-10")
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-09T14:59:59.999Z")?.description == "2021-05-09")
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-09T10:30:00-05:00")?.description == "2021-05-10")
        #expect(CrawlDate.kstDay(ofISO8601: "2025-02-09T23:10:11+0900")?.description == "2025-02-09")
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-09T23:00:00")?.description == "2021-05-09")  // no offset: KST
        // Just before midnight KST, with a fraction: still the earlier day (the fraction is not rounded up).
        #expect(CrawlDate.kstDay(ofISO8601: "2021-05-09T14:59:59.9999999Z")?.description == "2021-05-09")
        #expect(CrawlDate.epochMicroseconds(ofISO8601: "1970-01-01T09:00:00.000001") == 1)
        #expect(CrawlDate.epochMicroseconds(ofISO8601: "1970-01-01T00:00:00.5-00:30") == 1_800_500_000)
        #expect(CrawlDate.kstDay(ofISO8601: "1969-12-31T23:59:59.5")?.description == "1969-12-31")
        for bad in ["2021-05-10", "2021-05-10T25:00:00Z", "2021-05-10T00:00:00+9", "2021-05-10T00:00:00Zjunk", "x"] {
            #expect(CrawlDate.kstDay(ofISO8601: bad) == nil, "\(bad)")
        }
    }
}
