/// A proleptic Gregorian calendar day counted from 1970-01-01, used for KST days (no time zone arithmetic needed
/// because every date the simulator serves is already a KST calendar day).
struct CalendarDay: Hashable, Comparable, Sendable {
    /// Days since 1970-01-01.
    var number: Int

    init(number: Int) { self.number = number }

    init(year: Int, month: Int, day: Int) {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        number = era * 146_097 + doe - 719_468
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

    var civil: (year: Int, month: Int, day: Int) {
        // Howard Hinnant's civil_from_days.
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
    var weekday: Int { ((number % 7) + 7 + 3) % 7 }

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
