import CivilCalendar

/// A KST calendar day. One crawl date is fixed per job and carried by every task and record, so partitions never
/// depend on when or where a step happens to run.
public struct CrawlDate: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Validates the day (Gregorian calendar, years 1900...9999).
    public init?(year: Int, month: Int, day: Int) {
        guard (1900...9999).contains(year), (1...12).contains(month),
            (1...CrawlDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` exactly.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let y = Self.digits(bytes[0..<4]), let m = Self.digits(bytes[5..<7]), let d = Self.digits(bytes[8..<10])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The KST day of an instant given in milliseconds since the Unix epoch.
    public init(kstDayOfEpochMilliseconds ms: Int64) {
        let kstSeconds = Self.floorDiv(ms, 1000) + 9 * 3600
        self = CrawlDate(daysSinceEpoch: Self.floorDiv(kstSeconds, 86_400))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    public init(daysSinceEpoch: Int64) {
        (year, month, day) = CivilCalendar.civil(days: Int(daysSinceEpoch))
    }

    public var daysSinceEpoch: Int64 { Int64(CivilCalendar.days(year: year, month: month, day: day)) }

    /// Monday = 0 … Sunday = 6.
    public var weekday: Int {
        let r = Int((daysSinceEpoch + 3) % 7)  // 1970-01-01 was a Thursday (3)
        return r < 0 ? r + 7 : r
    }

    public func adding(days: Int) -> CrawlDate { CrawlDate(daysSinceEpoch: daysSinceEpoch + Int64(days)) }

    /// `YYYY-MM-DD`.
    public var description: String { "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))" }
    /// `YYYY/MM/DD`, the raw tree's date folder.
    public var pathComponent: String { "\(Self.pad(year, 4))/\(Self.pad(month, 2))/\(Self.pad(day, 2))" }

    public static func < (a: CrawlDate, b: CrawlDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = CrawlDate(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a YYYY-MM-DD date: \(text)")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: Source date formats

    /// Naver `serviceDateDescription` (`YY.MM.DD`, already a KST day; years are 20YY).
    public static func naverShortDate(_ text: String) -> CrawlDate? {
        let bytes = Array(text.utf8)
        guard bytes.count == 8, bytes[2] == UInt8(ascii: "."), bytes[5] == UInt8(ascii: "."),
            let y = digits(bytes[0..<2]), let m = digits(bytes[3..<5]), let d = digits(bytes[6..<8])
        else { return nil }
        return CrawlDate(year: 2000 + y, month: m, day: d)
    }

    /// The KST day of an ISO-8601 timestamp (see `epochMicroseconds(ofISO8601:)` for the accepted forms).
    public static func kstDay(ofISO8601 text: String) -> CrawlDate? {
        epochMicroseconds(ofISO8601: text).map { CrawlDate(kstDayOfEpochMilliseconds: floorDiv($0, 1000)) }
    }

    /// `YYYY-MM-DD(T| )HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]` → microseconds since 1970-01-01 UTC (fraction digits
    /// beyond six are dropped); nil for anything else. The offset is honoured; a timestamp without one is taken as
    /// KST, the platforms' own zone (Kakao's format is unconfirmed, see the platform notes). The one parser of source
    /// timestamps, so a comment's time and an episode's day can never disagree about the same text.
    public static func epochMicroseconds(ofISO8601 text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 19, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let date = CrawlDate(String(decoding: b[0..<10], as: UTF8.self)),
            let hh = digits(b[11..<13]), let mm = digits(b[14..<16]), let ss = digits(b[17..<19]),
            hh < 24, mm < 60, ss < 61
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                if i - start < 6 { fraction = fraction * 10 + Int64(b[i] - UInt8(ascii: "0")) }
                i += 1
            }
            guard i > start else { return nil }
            for _ in min(6, i - start)..<6 { fraction *= 10 }
        }
        var offsetSeconds: Int64 = 9 * 3600
        if i < b.count {
            let sign = b[i]
            if sign == UInt8(ascii: "Z") && i + 1 == b.count {
                offsetSeconds = 0
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                let rest = Array(b[(i + 1)...])
                let h: Int?
                let m: Int?
                if rest.count == 5, rest[2] == UInt8(ascii: ":") {
                    h = digits(rest[0..<2])
                    m = digits(rest[3..<5])
                } else if rest.count == 4 {
                    h = digits(rest[0..<2])
                    m = digits(rest[2..<4])
                } else if rest.count == 2 {
                    h = digits(rest[0..<2])
                    m = 0
                } else {
                    return nil
                }
                guard let h, let m, h <= 14, m < 60 else { return nil }
                offsetSeconds = Int64(h * 3600 + m * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
            } else {
                return nil
            }
        }
        let utcSeconds = date.daysSinceEpoch * 86_400 + Int64(hh * 3600 + mm * 60 + ss) - offsetSeconds
        return utcSeconds * 1_000_000 + fraction
    }

    static func daysIn(month: Int, year: Int) -> Int { CivilCalendar.daysIn(month: month, year: year) }

    static func digits(_ bytes: some Collection<UInt8>) -> Int? {
        var value = 0
        for b in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            value = value * 10 + Int(b - UInt8(ascii: "0"))
        }
        return bytes.isEmpty ? nil : value
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
