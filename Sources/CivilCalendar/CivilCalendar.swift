/// Proleptic Gregorian day arithmetic (Howard Hinnant's `days_from_civil` / `civil_from_days`): exact, no time
/// zones, no Foundation calendars. The one copy behind every day type (the crawl's `CrawlDate`, the reducer's
/// `CalendarDay`, PostgreSQL's `PGDate`, the simulator's days), so they cannot disagree about a date.
public enum CivilCalendar {
    /// Days since 1970-01-01 (negative before it) of a valid (year, month, day).
    @inlinable
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The (year, month, day) `days` after 1970-01-01: the inverse of `days(year:month:day:)`.
    @inlinable
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    @inlinable
    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// Days in `month` (1...12) of `year`.
    @inlinable
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Monday = 0 … Sunday = 6 of the day `days` after 1970-01-01 (a Thursday).
    @inlinable
    public static func weekday(days: Int) -> Int { ((days % 7) + 7 + 3) % 7 }
}
