/// The platform a simulated title belongs to.
enum SimPlatform: String, Sendable {
    case naver, kakao
    var tag: UInt64 { self == .naver ? 0x4E41_5645_52 : 0x4B41_4B41_4F }
}

/// A Naver `curationTagList` entry.
struct NaverTag: Sendable, Hashable {
    let id: Int64
    let tagName: String
    let urlPath: String
    let curationType: String
}

/// A credited person: `role` is Kakao's `type` (AUTHOR, ILLUSTRATOR, PUBLISHER).
struct SimAuthor: Sendable, Hashable {
    let id: Int64
    let name: String
    let role: String
}

/// When a title's episodes come out: occurrences of its release weekdays, counted from a fixed anchor Monday, so
/// that the k-th episode's date and the number of episodes on any day are O(1) arithmetic.
struct EpisodeSchedule: Sendable, Hashable {
    /// Release weekdays, Monday = 0, ascending, at least one.
    let days: [Int]
    /// Occurrence index of episode 0.
    let firstOccurrence: Int
    /// Completed titles stop after this many episodes.
    let cap: Int?

    static let anchorMonday = CalendarDay(year: 2000, month: 1, day: 3)

    /// Number of release-day occurrences on or before `day`.
    static func occurrences(through day: CalendarDay, days: [Int]) -> Int {
        let delta = day - anchorMonday
        let weeks = delta >= 0 ? delta / 7 : (delta - 6) / 7
        let rest = delta - weeks * 7
        return weeks * days.count + days.count(where: { $0 <= rest })
    }

    func count(on day: CalendarDay) -> Int {
        let seen = Self.occurrences(through: day, days: days) - firstOccurrence
        return min(max(seen, 0), cap ?? Int.max)
    }

    func date(ofEpisode k: Int) -> CalendarDay {
        let occurrence = firstOccurrence + k
        let m = days.count
        let week = occurrence >= 0 ? occurrence / m : (occurrence - m + 1) / m
        return Self.anchorMonday + (week * 7 + days[occurrence - week * m])
    }
}

/// One synthetic title with everything both platforms' list, info and episode endpoints need.
struct SimTitle: Sendable {
    let platform: SimPlatform
    let id: Int64
    let name: String
    let seoId: String
    let authors: [SimAuthor]
    /// The ground-truth author string.
    let author: String
    /// Listed weekdays (Monday = 0); empty for finished/completed titles.
    let weekdays: [Int]
    let completed: Bool
    /// Naver: adult, RATE_18, article list answers 401. Kakao: adult flag only.
    let adult: Bool
    /// Naver 매일+: only the three newest articles are exposed.
    let dailyPass: Bool
    /// Naver `age.type`.
    let ageType: String
    /// Naver `curationTagList`.
    let tags: [NaverTag]
    /// Kakao `seoKeywords` without the leading `#`.
    let keywords: [String]
    /// Sorted, unique genres as the ground truth reports them.
    let genres: [String]
    let thumbnailUrl: String
    let schedule: EpisodeSchedule
    let starHundredths: Int
    /// Multiplies likes, comments and views.
    let popularity: Int
    /// A fixed rank key: lists sorted by `order=view` put higher values first.
    let viewKey: UInt64
    let waitForFree: Bool
    let synopsis: String
    /// Naver: articles from this index on belong to season 2 ("2부").
    let seasonBreak: Int?
    /// Naver: article indices whose `no` skips one (a deleted article before it).
    let gaps: [Int]
    /// Naver: article indices that are not numbered episodes (notices, specials).
    let extras: [Int]
    let baseCounter: Int64
    let counterRate: Int64
}

/// One episode as served on a given day.
struct SimEpisode: Sendable {
    let index: Int
    /// Naver article `no` or Kakao per-title `no`.
    let no: Int
    /// Naver: `no`; Kakao: the global episode id.
    let episodeId: Int64
    let title: String
    let volumeNo: Int
    let date: CalendarDay
    let likes: Int64
    /// Naver cbox `count.total`, Kakao `totalCount`.
    let comments: Int64
    let replies: Int64
    let ratingHundredths: Int
    let ratingCount: Int64
    let thumbnailUrl: String
}

/// The synthetic catalog: the title lists are built once (cheap even at full scale); episodes are derived on demand.
final class SimCatalog: Sendable {
    let seed: UInt64
    let scale: SimulatorScale
    /// Weekly titles first, then finished ones.
    let naver: [SimTitle]
    let kakao: [SimTitle]
    private let naverIndex: [Int64: Int]
    private let kakaoIndex: [Int64: Int]

    /// The day the episode-count distribution is pinned to; earlier days see fewer episodes, later days more.
    static let referenceDay = CalendarDay(year: 2026, month: 11, day: 25)
    /// Kakao episode ids are `contentId * kakaoEpisodeStride + no`.
    static let kakaoEpisodeStride: Int64 = 10_000

    init(seed: UInt64, scale: SimulatorScale) {
        self.seed = seed
        self.scale = scale
        let sizes = scale.sizes
        var naver: [SimTitle] = []
        naver.reserveCapacity(sizes.naverWeekly + sizes.naverFinished)
        var nextId: Int64 = 650_001
        for i in 0..<sizes.naverWeekly {
            naver.append(Self.makeNaver(seed: seed, index: i, id: nextId, completed: false, sizes: sizes))
            nextId += Int64(SimHash.int(SimHash.hash(seed, 1, UInt64(i)), in: 1...900))
        }
        nextId = 1_001
        for i in 0..<sizes.naverFinished {
            naver.append(Self.makeNaver(seed: seed, index: i, id: nextId, completed: true, sizes: sizes))
            nextId += Int64(SimHash.int(SimHash.hash(seed, 2, UInt64(i)), in: 1...150))
        }
        var kakao: [SimTitle] = []
        kakao.reserveCapacity(sizes.kakaoWeekly + sizes.kakaoCompleted)
        nextId = 1_001  // the first completed Kakao id equals the first finished Naver id: keys must include platform
        var completed: [SimTitle] = []
        for i in 0..<sizes.kakaoCompleted {
            completed.append(Self.makeKakao(seed: seed, index: i, id: nextId, completed: true, sizes: sizes))
            nextId += Int64(SimHash.int(SimHash.hash(seed, 3, UInt64(i)), in: 1...3))
        }
        nextId += 100
        for i in 0..<sizes.kakaoWeekly {
            kakao.append(Self.makeKakao(seed: seed, index: i, id: nextId, completed: false, sizes: sizes))
            nextId += Int64(SimHash.int(SimHash.hash(seed, 4, UInt64(i)), in: 1...5))
        }
        kakao += completed
        self.naver = naver
        self.kakao = kakao
        naverIndex = Dictionary(uniqueKeysWithValues: naver.enumerated().map { ($1.id, $0) })
        kakaoIndex = Dictionary(uniqueKeysWithValues: kakao.enumerated().map { ($1.id, $0) })
    }

    func title(_ platform: SimPlatform, id: Int64) -> SimTitle? {
        switch platform {
        case .naver: naverIndex[id].map { naver[$0] }
        case .kakao: kakaoIndex[id].map { kakao[$0] }
        }
    }

    // MARK: Episodes

    /// Episode `k` (0 = oldest) of `title` as seen on `day`.
    func episode(_ title: SimTitle, index k: Int, on day: CalendarDay) -> SimEpisode {
        let date = title.schedule.date(ofEpisode: k)
        let h = SimHash.hash(seed, title.platform.tag, UInt64(bitPattern: title.id), UInt64(k))
        var random = SimRandom(h)
        let age = Int64(max(0, day - date))
        let p = Int64(title.popularity)
        let likeBase = Int64(random.int(in: 20...400)) * p
        let likeRate = 1 + Int64(random.int(in: 0...30)) * p / 10
        let likes = likeBase + likeRate * min(age, 60) + max(0, age - 60)
        let silent = random.chance(0.05)
        let commentBase = Int64(random.int(in: 0...60)) * p / 5
        let commentRate = 1 + Int64(random.int(in: 0...6)) * p / 10
        let comments = silent ? 0 : commentBase + commentRate * min(age, 30) + max(0, age - 30) / 3
        let rating = min(1000, max(500, title.starHundredths + random.int(in: -40...10)))
        let ratingCount = Int64(random.int(in: 5...200)) * p + age * p
        let hex = Self.hex(random.next())
        switch title.platform {
        case .naver:
            let no = k + 1 + title.gaps.count(where: { $0 <= k })
            let (label, volume) = naverSubtitle(title, index: k)
            return SimEpisode(
                index: k, no: no, episodeId: Int64(no), title: label, volumeNo: volume, date: date, likes: likes,
                comments: comments, replies: comments / 9, ratingHundredths: rating, ratingCount: ratingCount,
                thumbnailUrl: "https://image-comic.pstatic.net/webtoon/\(title.id)/\(no)/thumbnail_202x120_\(hex).jpg")
        case .kakao:
            let label = k == 0 && title.id % 3 == 0 ? "프롤로그" : "\(k + 1)화"
            return SimEpisode(
                index: k, no: k + 1, episodeId: title.id * Self.kakaoEpisodeStride + Int64(k + 1), title: label,
                volumeNo: 1, date: date, likes: likes, comments: comments, replies: 0, ratingHundredths: rating,
                ratingCount: ratingCount, thumbnailUrl: "https://kr-a.kakaopagecdn.com/P/EO/\(title.id)/\(hex)")
        }
    }

    private func naverSubtitle(_ title: SimTitle, index k: Int) -> (String, Int) {
        if let position = title.extras.firstIndex(of: k) {
            return (Self.extraLabels[(position + Int(title.id)) % Self.extraLabels.count], 1)
        }
        let number = k + 1 - title.extras.count(where: { $0 <= k })
        guard let seasonBreak = title.seasonBreak else { return ("\(number)화", 1) }
        let breakNumber = seasonBreak + 1 - title.extras.count(where: { $0 <= seasonBreak })
        return number >= breakNumber ? ("2부 \(number - breakNumber + 1)화", 2) : ("1부 \(number)화", 1)
    }

    /// Naver: the episode index for article `no`, if that article exists (published or not).
    func naverIndex(of title: SimTitle, no: Int) -> Int? {
        // No title has a million articles; the bound also keeps the arithmetic below far from overflow.
        guard (1...1_000_000).contains(no) else { return nil }
        var k = no - 1 - title.gaps.count
        while k <= no - 1 {
            if k >= 0, k + 1 + title.gaps.count(where: { $0 <= k }) == no { return k }
            k += 1
        }
        return nil
    }

    /// Naver: the exposed article indices on `day`, oldest first (empty for restricted titles).
    func naverVisibleRange(_ title: SimTitle, on day: CalendarDay) -> Range<Int> {
        let count = title.schedule.count(on: day)
        if title.adult { return 0..<0 }
        return title.dailyPass ? max(0, count - 3)..<count : 0..<count
    }

    /// Favorite count (Naver) or view count (Kakao) on `day`.
    func counter(_ title: SimTitle, on day: CalendarDay) -> Int64 {
        let first = title.schedule.date(ofEpisode: 0)
        return title.baseCounter + title.counterRate * Int64(max(0, day - first))
    }

    // MARK: Title generation

    private static func makeNaver(seed: UInt64, index: Int, id: Int64, completed: Bool, sizes: SimulatorScale.Sizes)
        -> SimTitle
    {
        var r = SimRandom(SimHash.hash(seed, SimPlatform.naver.tag, UInt64(bitPattern: id)))
        let name = makeName(&r)
        let writer = makePerson(&r, id: Int64(r.int(in: 100_000...399_999)), role: "AUTHOR")
        let painter = r.chance(0.35) ? SimAuthor(id: writer.id, name: writer.name, role: "ILLUSTRATOR")
            : makePerson(&r, id: Int64(r.int(in: 100_000...399_999)), role: "ILLUSTRATOR")
        let origin = r.chance(0.25) ? makePerson(&r, id: Int64(r.int(in: 100_000...399_999)), role: "ORIGIN") : nil
        let author = writer.name == painter.name ? writer.name : "\(writer.name) / \(painter.name)"
        // Forced quirks at fixed positions so every seed has them; the rest are random.
        let restricted = index == 1 || (index > 4 && r.chance(0.04))
        let dailyPass = !completed && !restricted && (index == 2 || (index > 4 && r.chance(0.05)))
        var days = [r.int(in: 0...6)]
        if !completed && (index == 3 || (index > 4 && r.chance(0.06))) {
            days.append((days[0] + r.int(in: 1...6)) % 7)
        }
        days.sort()
        let ageType = restricted ? "RATE_18" : r.pick(["RATE_ALL", "RATE_ALL", "RATE_12", "RATE_15"])
        let genre = r.pick(naverGenres)
        var tags = [NaverTag(id: id, tagName: genre.1, urlPath: "/webtoon?tab=genre&genre=\(genre.0)",
                             curationType: "GENRE_\(genre.0)")]
        var used: Set<Int64> = []
        for _ in 0..<r.int(in: 0...4) {
            let tag = r.pick(naverCustomTags)
            guard used.insert(tag.0).inserted else { continue }
            tags.append(NaverTag(id: tag.0, tagName: tag.1, urlPath: "/curation/list?type=CUSTOM_TAG&id=\(tag.0)",
                                 curationType: "CUSTOM_TAG"))
        }
        if origin != nil {
            tags.append(NaverTag(id: id, tagName: "소설원작", urlPath: "/curation/list?type=NOVEL_ORIGIN",
                                 curationType: "NOVEL_ORIGIN"))
        }
        let episodes = episodeCount(&r, sizes: sizes)
        let schedule = makeSchedule(&r, days: days, episodes: episodes, completed: completed)
        let gaps = episodes >= 10 ? (0..<r.int(in: 0...3)).map { _ in r.int(in: 1...(episodes - 1)) } : []
        let extras = episodes >= 10 ? (0..<r.int(in: 0...2)).map { _ in r.int(in: 1...(episodes - 1)) } : []
        return SimTitle(
            platform: .naver, id: id, name: name, seoId: "", authors: [writer, painter] + (origin.map { [$0] } ?? []),
            author: author, weekdays: completed ? [] : days, completed: completed, adult: restricted,
            dailyPass: dailyPass, ageType: ageType, tags: tags, keywords: [],
            genres: Array(Set(tags.map(\.tagName))).sorted(),
            thumbnailUrl:
                "https://image-comic.pstatic.net/webtoon/\(id)/thumbnail/thumbnail_IMAG21_\(hex(r.next())).jpg",
            schedule: schedule, starHundredths: r.int(in: 850...999), popularity: r.int(in: 1...50),
            viewKey: r.next(), waitForFree: r.chance(0.2), synopsis: makeSynopsis(&r, name: name),
            seasonBreak: episodes >= 20 && r.chance(0.25) ? r.int(in: 5...(episodes - 5)) : nil,
            gaps: Array(Set(gaps)).sorted(), extras: Array(Set(extras)).sorted(),
            baseCounter: Int64(r.int(in: 500...400_000)), counterRate: Int64(r.int(in: 1...40)))
    }

    private static func makeKakao(seed: UInt64, index: Int, id: Int64, completed: Bool, sizes: SimulatorScale.Sizes)
        -> SimTitle
    {
        var r = SimRandom(SimHash.hash(seed, SimPlatform.kakao.tag, UInt64(bitPattern: id)))
        let name = makeName(&r)
        var authors = [makePerson(&r, id: 0, role: "AUTHOR")]
        if r.chance(0.6) { authors.append(makePerson(&r, id: 0, role: "ILLUSTRATOR")) }
        if r.chance(0.3) { authors.append(SimAuthor(id: 0, name: r.pick(publishers), role: "PUBLISHER")) }
        let adult = index == 2 || (index > 4 && r.chance(0.05))
        var days = [r.int(in: 0...6)]
        if !completed && (index == 1 || (index > 4 && r.chance(0.12))) {
            for _ in 0..<r.int(in: 1...2) { days.append((days[0] + r.int(in: 1...6)) % 7) }
        }
        days = Array(Set(days)).sorted()
        var keywords: [String] = []
        for _ in 0..<r.int(in: 1...4) {
            let keyword = r.pick(kakaoKeywords)
            if !keywords.contains(keyword) { keywords.append(keyword) }
        }
        let episodes = episodeCount(&r, sizes: sizes)
        let schedule = makeSchedule(&r, days: days, episodes: episodes, completed: completed)
        return SimTitle(
            platform: .kakao, id: id, name: name, seoId: name.replacing(" ", with: "-"), authors: authors,
            author: authors.map(\.name).joined(separator: " / "), weekdays: completed ? [] : days,
            completed: completed, adult: adult, dailyPass: false, ageType: adult ? "ADULT" : "ALL", tags: [],
            keywords: keywords, genres: Array(Set(keywords)).sorted(),
            thumbnailUrl: "https://kr-a.kakaopagecdn.com/P/C/\(id)/c1/2x/\(hex(r.next()))",
            schedule: schedule, starHundredths: r.int(in: 850...999), popularity: r.int(in: 1...50),
            viewKey: r.next(), waitForFree: r.chance(0.6), synopsis: makeSynopsis(&r, name: name),
            seasonBreak: nil, gaps: [], extras: [],
            baseCounter: Int64(r.int(in: 10_000...9_000_000)), counterRate: Int64(r.int(in: 50...20_000)))
    }

    private static func episodeCount(_ r: inout SimRandom, sizes: SimulatorScale.Sizes) -> Int {
        let z = SimHash.normal(r.next())
        let value = (sizes.episodeLogMean + sizes.episodeLogSigma * z)
        return min(sizes.maxEpisodes, max(1, Int(expApprox(value).rounded())))
    }

    /// `e^x` without Foundation: range reduction by powers of two and a short Taylor series; ample precision here.
    static func expApprox(_ x: Double) -> Double {
        let ln2 = 0.693_147_180_559_945_3
        let k = (x / ln2).rounded(.down)
        let r = x - k * ln2
        var term = 1.0
        var sum = 1.0
        for n in 1...14 {
            term *= r / Double(n)
            sum += term
        }
        return sum * Double(sign: .plus, exponent: Int(k), significand: 1.0)
    }

    private static func makeSchedule(_ r: inout SimRandom, days: [Int], episodes: Int, completed: Bool)
        -> EpisodeSchedule
    {
        if completed {
            let finishedOn = referenceDay + (-r.int(in: 20...3_000))
            let end = EpisodeSchedule.occurrences(through: finishedOn, days: days)
            return EpisodeSchedule(days: days, firstOccurrence: end - episodes, cap: episodes)
        }
        let end = EpisodeSchedule.occurrences(through: referenceDay, days: days)
        return EpisodeSchedule(days: days, firstOccurrence: end - episodes, cap: nil)
    }

    private static func makeName(_ r: inout SimRandom) -> String {
        "\(r.pick(namePrefixes)) \(r.pick(nameNouns))\(r.pick(nameSuffixes))"
    }

    private static func makePerson(_ r: inout SimRandom, id: Int64, role: String) -> SimAuthor {
        if r.chance(0.15) { return SimAuthor(id: id, name: r.pick(penNames), role: role) }
        let name = r.pick(familyNames) + r.pick(givenSyllables) + r.pick(givenSyllables)
        return SimAuthor(id: id, name: name, role: role)
    }

    private static func makeSynopsis(_ r: inout SimRandom, name: String) -> String {
        "\"\(r.pick(synopsisLines))\"\n\(name), \(r.pick(synopsisLines))\n\(r.pick(synopsisLines))"
    }

    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 16)
        var v = value
        for i in (0..<16).reversed() {
            bytes[i] = digits[Int(v & 15)]
            v >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let namePrefixes = [
        "회귀한", "붉은", "검은", "마지막", "천재", "전지적", "나 혼자", "신의", "악역", "백작가의", "북부의", "달빛",
        "환생한", "재벌집", "무한", "최강", "외톨이", "비밀의", "황녀의", "용사의", "마왕의", "괴물", "이세계", "은밀한",
        "조선", "고등학교", "편의점", "하늘", "겨울", "여름", "망나니", "S급",
    ]
    private static let nameNouns = [
        "기사", "공작", "마법사", "검", "탑", "황제", "연애", "학교", "식당", "궁", "제국", "꽃", "계약", "밤", "별",
        "헌터", "무사", "의사", "요리사", "아이돌", "왕자", "공녀", "도서관", "정원", "복수", "일기", "전쟁", "소원",
    ]
    private static let nameSuffixes = [
        "", "", "", " 2", "의 귀환", "는 쉬고 싶다", "이 되었다", " 일지", "를 위하여", "의 비밀", "에서 살아남기",
        " 레벨업", "!", "?!",
    ]
    private static let familyNames = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신"]
    private static let givenSyllables = ["민", "서", "지", "현", "우", "준", "하", "윤", "도", "예", "수", "아", "진", "영"]
    private static let penNames = ["SIU", "H.C", "타샤토토", "유세라", "YLAB", "REDICE STUDIO", "Carnby Kim", "문정후"]
    private static let publishers = ["레드아이스 스튜디오", "카카오엔터테인먼트", "디앤씨웹툰비즈", "케나즈"]
    private static let naverGenres: [(String, String)] = [
        ("PURE", "로맨스"), ("FANTASY", "판타지"), ("ACTION", "액션"), ("DAILY", "일상"), ("THRILL", "스릴러"),
        ("COMIC", "개그"), ("HISTORICAL", "무협/사극"), ("DRAMA", "드라마"), ("SENSIBILITY", "감성"), ("SPORTS", "스포츠"),
    ]
    private static let naverCustomTags: [(Int64, String)] = [
        (64, "선결혼후연애"), (55, "뱀파이어"), (51, "로판"), (42, "구원서사"), (392, "명작"), (340, "이능력"),
        (337, "배틀"), (333, "모험"), (332, "전쟁"), (265, "액션"), (227, "성장물"), (186, "서바이벌"), (181, "세계관"),
        (77, "이능력배틀물"), (66, "소년왕도물"), (53, "먼치킨"), (12, "학원물"), (19, "회귀"), (23, "복수극"), (31, "힐링"),
    ]
    private static let kakaoKeywords = [
        "판타지", "로맨스", "로맨스 판타지", "액션", "무협", "드라마", "학원", "스릴러", "코믹", "BL", "회귀", "복수",
        "일상", "공포", "스포츠", "성장",
    ]
    private static let synopsisLines = [
        "피곤하겠지만, 혼인신고부터 합시다.", "모든 것이었던 소녀를 쫓아 탑에 들어온 소년", "다시 한 번 기회가 주어졌다.",
        "평범한 하루가 무너졌다.", "그날 이후 모든 것이 달라졌다.", "살아남기 위해서라면 무엇이든.",
        "작은 식당에 찾아온 특별한 손님", "왕좌를 되찾기 위한 여정",
    ]
    static let extraLabels = ["휴재 공지", "특별편", "시즌 1 후기", "작가의 말"]
}
