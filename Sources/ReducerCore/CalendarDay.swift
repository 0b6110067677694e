import CivilCalendar

/// A proleptic-Gregorian calendar day (a KST crawl date or a publication date), stored as days since 1970-01-01.
///
/// Dates cross module boundaries as this value, never as a `Date` at midnight in some time zone, so that one crawl
/// has exactly one date (the original project drifted between UTC and KST partitions).
public struct CalendarDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let daysSinceEpoch: Int32

    public init(daysSinceEpoch: Int32) { self.daysSinceEpoch = daysSinceEpoch }

    /// Fails with `nil` for a day that does not exist (2025-02-30) or a year outside 1...9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= CalendarDay.daysIn(month: month, year: year)
        else { return nil }
        self.daysSinceEpoch = Int32(CivilCalendar.days(year: year, month: month, day: day))
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// (year, month, day) of this day.
    public var components: (year: Int, month: Int, day: Int) { CivilCalendar.civil(days: Int(daysSinceEpoch)) }

    public func adding(days: Int32) -> CalendarDay { CalendarDay(daysSinceEpoch: daysSinceEpoch + days) }

    public var description: String {
        let (y, m, d) = components
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

    static func daysIn(month: Int, year: Int) -> Int { CivilCalendar.daysIn(month: month, year: year) }
}
