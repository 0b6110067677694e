import CivilCalendar

/// A proleptic Gregorian calendar day counted from 1970-01-01, used for KST days (no time zone arithmetic needed
/// because every date the simulator serves is already a KST calendar day).
struct CalendarDay: Hashable, Comparable, Sendable {
    /// Days since 1970-01-01.
    var number: Int

    init(number: Int) { self.number = number }

    init(year: Int, month: Int, day: Int) {
        number = CivilCalendar.days(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM-DD`; nil when the text is not a valid calendar date.
    init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), d >= 1
        else { return nil }
        let candidate = CalendarDay(year: y, month: m, day: d)
        guard candidate.civil.month == m, candidate.civil.day == d else { return nil }
        self = candidate
    }

    var civil: (year: Int, month: Int, day: Int) { CivilCalendar.civil(days: number) }

    /// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
    var weekday: Int { CivilCalendar.weekday(days: number) }

    /// `YYYY-MM-DD`.
    var iso: String {
        let c = civil
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    /// Naver's `serviceDateDescription`, `YY.MM.DD`.
    var naverShort: String {
        let c = civil
        return "\(pad(c.year % 100, 2)).\(pad(c.month, 2)).\(pad(c.day, 2))"
    }

    /// Kakao's `serialStartDateTime`: midnight KST, which is the previous UTC day (a trap for UTC conversion).
    var kakaoDateTime: String { "\(iso)T00:00:00+09:00" }

    static func + (lhs: CalendarDay, rhs: Int) -> CalendarDay { CalendarDay(number: lhs.number + rhs) }
    static func - (lhs: CalendarDay, rhs: CalendarDay) -> Int { lhs.number - rhs.number }
    static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.number < rhs.number }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// Day names as each platform spells them, indexed Monday = 0.
enum Weekday {
    static let naverKeys = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    static let kakaoPlacements = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    static let korean = ["월", "화", "수", "목", "금", "토", "일"]
}
