import Foundation
import Testing
@testable import WebtoonSimulator

@Suite struct CatalogTests {
    static let day = CalendarDay(iso: "2026-11-25")!

    @Test func sameSeedGivesIdenticalGroundTruthAndDifferentSeedDoesNot() throws {
        let a = try SimulatorCatalog(configuration: .init(seed: 42, scale: .small, date: "2026-11-25"))
        let b = try SimulatorCatalog(configuration: .init(seed: 42, scale: .small, date: "2026-11-25"))
        let c = try SimulatorCatalog(configuration: .init(seed: 43, scale: .small, date: "2026-11-25"))
        for mode in GroundTruthMode.allCases {
            #expect(a.groundTruthJSON(mode: mode) == b.groundTruthJSON(mode: mode))
            #expect(a.groundTruth(mode: mode) == b.groundTruth(mode: mode))
        }
        #expect(a.groundTruthJSON(mode: .full) != c.groundTruthJSON(mode: .full))
    }

    @Test(arguments: GroundTruthMode.allCases)
    func writtenGroundTruthDecodesToTheSameValue(mode: GroundTruthMode) throws {
        let catalog = try SimulatorCatalog(configuration: .init(seed: 7, scale: .small, date: "2026-11-26"))
        let decoded = try JSONDecoder().decode(GroundTruth.self, from: Data(catalog.groundTruthJSON(mode: mode)))
        let value = catalog.groundTruth(mode: mode)
        #expect(decoded == value)
        #expect(value.crawlDate == "2026-11-26")
        #expect(value.mode == mode.rawValue)
        let titleKeys = value.titles.map { "\($0.platform)|\(String(format: "%012d", $0.id))" }
        #expect(titleKeys == titleKeys.sorted())
        let episodeKeys = value.episodes.map {
            "\($0.platform)|\(String(format: "%012d|%012d", $0.titleId, $0.episodeId))"
        }
        #expect(episodeKeys == episodeKeys.sorted())
        #expect(Set(episodeKeys).count == episodeKeys.count)
    }

    @Test func nextDayPublishesThatWeekdaysTitlesAndGrowsLikes() throws {
        let today = try SimulatorCatalog(configuration: .init(seed: 42, scale: .small, date: "2026-11-25"))
        let tomorrow = try SimulatorCatalog(configuration: .init(seed: 42, scale: .small, date: "2026-11-26"))
        let before = today.groundTruth(mode: .full)
        let after = tomorrow.groundTruth(mode: .full)
        let thursday = 3  // 2026-11-26
        let oldKeys = Set(before.episodes.map { "\($0.platform)|\($0.titleId)|\($0.episodeId)" })
        let new = after.episodes.filter { !oldKeys.contains("\($0.platform)|\($0.titleId)|\($0.episodeId)") }
        let publishing = after.titles.filter { $0.weekdays.contains(thursday) && !$0.restricted }
        #expect(!new.isEmpty)
        #expect(new.allSatisfy { $0.publishedDate == "2026-11-26" })
        // Every visible Thursday title gains exactly one episode, and no other title gains any.
        let gained = Dictionary(grouping: new, by: { "\($0.platform)|\($0.titleId)" }).mapValues(\.count)
        #expect(gained == Dictionary(uniqueKeysWithValues: publishing.map { ("\($0.platform)|\($0.id)", 1) }))
        let likesBefore = Dictionary(uniqueKeysWithValues: before.episodes.map {
            ("\($0.platform)|\($0.titleId)|\($0.episodeId)", $0.likes)
        })
        for episode in after.episodes {
            guard let old = likesBefore["\(episode.platform)|\(episode.titleId)|\(episode.episodeId)"] else { continue }
            #expect(episode.likes > old)
        }
        // Daily mode lists exactly the titles of the crawl date's weekday, with at most 20 episodes each.
        let daily = tomorrow.groundTruth(mode: .daily)
        #expect(Set(daily.titles.map(\.id)) == Set(after.titles.filter { $0.weekdays.contains(thursday) }.map(\.id)))
        let perTitle = Dictionary(grouping: daily.episodes, by: { "\($0.platform)|\($0.titleId)" })
        #expect(perTitle.values.allSatisfy { $0.count <= 20 })
    }

    @Test func smallCatalogHasEveryQuirk() throws {
        let truth = try SimulatorCatalog(configuration: .init(seed: 1234, scale: .small)).groundTruth(mode: .full)
        let naver = truth.titles.filter { $0.platform == "naver" }
        let kakao = truth.titles.filter { $0.platform == "kakao" }
        #expect(naver.count(where: { !$0.completed }) == 30 && naver.count(where: \.completed) == 20)
        #expect(kakao.count(where: { !$0.completed }) == 30 && kakao.count(where: \.completed) == 20)
        let episodesByTitle = Dictionary(grouping: truth.episodes, by: { "\($0.platform)|\($0.titleId)" })
        let restricted = naver.filter(\.restricted)
        #expect(!restricted.isEmpty)
        #expect(restricted.allSatisfy { episodesByTitle["naver|\($0.id)"] == nil && $0.ageRating == "RATE_18" })
        let dailyPass = naver.filter(\.dailyPass)
        #expect(!dailyPass.isEmpty)
        #expect(dailyPass.allSatisfy { (episodesByTitle["naver|\($0.id)"]?.count ?? 0) <= 3 })
        #expect(naver.contains { $0.weekdays.count > 1 })
        #expect(kakao.contains { $0.weekdays.count > 1 })
        #expect(kakao.contains { $0.ageRating == "ADULT" })
        // Gaps: some Naver title's newest `no` exceeds its article count.
        #expect(episodesByTitle.contains { key, episodes in
            key.hasPrefix("naver|") && episodes.map(\.no).max()! > episodes.count
        })
        // Extras: articles that are not numbered episodes.
        #expect(truth.episodes.contains { $0.platform == "naver" && SimCatalog.extraLabels.contains($0.title) })
        // Ids collide across platforms, so every key must carry the platform.
        #expect(!Set(naver.map(\.id)).isDisjoint(with: kakao.map(\.id)))
        #expect(truth.episodes.contains { $0.comments == 0 })
        #expect(truth.titles.allSatisfy { $0.genres == Array(Set($0.genres)).sorted() && !$0.genres.isEmpty })
        #expect(truth.titles.allSatisfy { !$0.genres.contains { $0.hasPrefix("#") } })
        let maxEpisodes = episodesByTitle.values.map(\.count).max() ?? 0
        #expect(maxEpisodes <= 70)
    }

    @Test func fullScaleBuildsQuicklyWithRealisticSizes() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let catalog = SimCatalog(seed: 42, scale: .full)
        let elapsed = clock.now - start
        #expect(elapsed < .seconds(2), "building the full title list took \(elapsed)")
        #expect(catalog.naver.count == 3_900 && catalog.kakao.count == 3_050)
        let counts = (catalog.naver + catalog.kakao).map { $0.schedule.count(on: Self.day) }
        let mean = Double(counts.reduce(0, +)) / Double(counts.count)
        #expect((90...160).contains(mean), "mean episodes per title \(mean)")
        #expect(counts.max()! <= 1_000 && counts.max()! >= 500)
        let perDay = (0..<7).map { d in catalog.kakao.count(where: { $0.weekdays.contains(d) }) }
        #expect(perDay.allSatisfy { (120...200).contains($0) }, "Kakao titles per day \(perDay)")
    }

    @Test func scheduleCountsAndDatesAgree() {
        var random = SplitMix64(seed: 99)
        let catalog = SimCatalog(seed: 5, scale: .small)
        for _ in 0..<300 {
            let title = (catalog.naver + catalog.kakao)[Int(random.next() % UInt64(catalog.naver.count * 2))]
            let count = title.schedule.count(on: Self.day)
            guard count > 0 else { continue }
            let k = Int(random.next() % UInt64(count))
            let date = title.schedule.date(ofEpisode: k)
            #expect(title.schedule.count(on: date) == k + 1)
            #expect(title.schedule.count(on: date + -1) == k)
            #expect(title.schedule.days.contains(date.weekday))
            if title.platform == .naver {
                let episode = catalog.episode(title, index: k, on: Self.day)
                #expect(catalog.naverIndex(of: title, no: episode.no) == k)
            }
        }
    }

    @Test func calendarRoundTripsAndKnowsWeekdays() {
        var random = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            let day = CalendarDay(number: Int(random.next() % 200_000) - 100_000)
            #expect(CalendarDay(iso: day.iso) == day)
        }
        #expect(CalendarDay(iso: "2026-11-25")?.weekday == 2)  // Wednesday
        #expect(CalendarDay(iso: "1970-01-01")?.number == 0)
        #expect(CalendarDay(iso: "2024-02-29") != nil)
        #expect(CalendarDay(iso: "2025-02-29") == nil)
        #expect(CalendarDay(iso: "2026-13-01") == nil)
        #expect(CalendarDay(iso: "26-11-25") == nil)
        #expect(CalendarDay(iso: "2026-11-25")?.naverShort == "26.11.25")
    }

    @Test func jsonWriterOutputDecodesToTheSameValues() throws {
        var random = SplitMix64(seed: 11)
        let alphabet: [Character] = ["a", "Z", "0", "\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "웹", "툰", "#", " ", "😀"]
        for _ in 0..<500 {
            let text = String((0..<Int(random.next() % 20)).map { _ in alphabet[Int(random.next() % 14)] })
            let number = Int64(bitPattern: random.next()) >> (random.next() % 64)
            let hundredths = Int(random.next() % 100_000)
            var w = JSONWriter()
            w.object { w in
                w.field("text", text)
                w.field("number", number)
                w.key("rating")
                w.hundredths(hundredths)
                w.array("list") { w in
                    w.bool(true)
                    w.null()
                    w.int(-1)
                }
            }
            struct Decoded: Decodable { let text: String; let number: Int64; let rating: Double; let list: [JSONValue] }
            let bytes = w.bytes
            let decoded = try JSONDecoder().decode(Decoded.self, from: Data(bytes))
            #expect(decoded.text == text)
            #expect(decoded.number == number)
            #expect(decoded.rating == Double(hundredths) / 100)
            #expect(decoded.list == [.bool(true), .null, .number(-1)])
        }
    }

    @Test func faultPlannerHitsTheRequestedRates() {
        let faults = SimulatorFaults(serverErrorRate: 0.1, tooManyRequestsRate: 0.05, resetRate: 0.02,
                                     truncateRate: 0.03, malformedRate: 0.04)
        var planner = FaultPlanner(faults: faults, seed: 42)
        var counts: [SimFault: Int] = [:]
        let n = 20_000
        for i in 0..<n { counts[planner.decide(sequence: UInt64(i), kakao: false, nowNanos: 1), default: 0] += 1 }
        for (fault, rate) in [(SimFault.serverError, 0.1), (.tooManyRequests, 0.05), (.reset, 0.02), (.truncate, 0.03),
                              (.malformed, 0.04)] {
            let observed = Double(counts[fault] ?? 0) / Double(n)
            #expect(abs(observed - rate) < 0.01, "\(fault): \(observed) for \(rate)")
        }
        #expect(throws: SimulatorError.self) { try SimulatorFaults(serverErrorRate: 1.5).validate() }
        #expect(throws: SimulatorError.self) { try SimulatorFaults(latencyMilliseconds: -1).validate() }
        #expect(throws: SimulatorError.self) { try SimulatorConfiguration(date: "2026-02-30").validatedDay() }
    }

    @Test func kakaoTokenBucketBansBurstsForTheCooldown() {
        var planner = FaultPlanner(
            faults: SimulatorFaults(kakao403AboveRequestsPerSecond: 10, kakaoCooldownMilliseconds: 1_000), seed: 1)
        let ms: UInt64 = 1_000_000
        var t: UInt64 = 1_000 * ms
        var outcomes: [SimFault] = []
        for _ in 0..<15 { outcomes.append(planner.decide(sequence: 0, kakao: true, nowNanos: t)) }
        #expect(outcomes.prefix(10).allSatisfy { $0 == .none })
        #expect(outcomes[10] == .kakaoBurst403)
        t += 500 * ms
        #expect(planner.decide(sequence: 0, kakao: true, nowNanos: t) == .kakaoBurst403)
        #expect(planner.decide(sequence: 0, kakao: false, nowNanos: t) == .none)
        t += 600 * ms
        #expect(planner.decide(sequence: 0, kakao: true, nowNanos: t) == .none)
        // Below the rate: never banned.
        for _ in 0..<50 {
            t += 150 * ms
            #expect(planner.decide(sequence: 0, kakao: true, nowNanos: t) == .none)
        }
    }
}
