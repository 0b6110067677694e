import CivilCalendar
import Foundation
import Testing

/// The one copy of day arithmetic, checked against Foundation's Gregorian calendar (an independent oracle) and as a
/// round trip over every day of four centuries plus random days of years 1...9999.
@Suite struct CivilCalendarTests {
    @Test func anchorsAndWeekdays() {
        #expect(CivilCalendar.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilCalendar.days(year: 2000, month: 1, day: 1) == 10_957)
        #expect(CivilCalendar.days(year: 1969, month: 12, day: 31) == -1)
        #expect(CivilCalendar.weekday(days: CivilCalendar.days(year: 2026, month: 11, day: 25)) == 2)  // a Wednesday
        #expect(CivilCalendar.weekday(days: -1) == 2)  // 1969-12-31, a Wednesday
        #expect(CivilCalendar.daysIn(month: 2, year: 2024) == 29 && CivilCalendar.daysIn(month: 2, year: 2100) == 28)
        #expect(CivilCalendar.daysIn(month: 2, year: 2000) == 29 && CivilCalendar.daysIn(month: 4, year: 2026) == 30)
    }

    @Test func roundTripsEveryDayOfFourCenturiesAndAgreesWithFoundation() {
        var previous: (year: Int, month: Int, day: Int)? = nil
        let first = CivilCalendar.days(year: 1800, month: 1, day: 1)
        let last = CivilCalendar.days(year: 2200, month: 1, day: 1)
        for n in first..<last {
            let c = CivilCalendar.civil(days: n)
            guard CivilCalendar.days(year: c.year, month: c.month, day: c.day) == n,
                (1...CivilCalendar.daysIn(month: c.month, year: c.year)).contains(c.day)
            else {
                Issue.record("day \(n) -> \(c) does not round-trip")
                return
            }
            if let p = previous {
                // Consecutive days: the next day of the month, or the first of the next month or year.
                let next = p.day < CivilCalendar.daysIn(month: p.month, year: p.year)
                    ? (p.year, p.month, p.day + 1) : p.month < 12 ? (p.year, p.month + 1, 1) : (p.year + 1, 1, 1)
                guard next == c else {
                    Issue.record("\(p) is followed by \(c)")
                    return
                }
            }
            previous = c
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let n = Int.random(in: CivilCalendar.days(year: 1600, month: 1, day: 1)...CivilCalendar.days(year: 9999, month: 12, day: 31), using: &rng)
            let date = Date(timeIntervalSince1970: Double(n) * 86_400)
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let c = CivilCalendar.civil(days: n)
            #expect(c.year == parts.year && c.month == parts.month && c.day == parts.day, "day \(n)")
            // Foundation: Sunday = 1 … Saturday = 7; ours: Monday = 0 … Sunday = 6.
            #expect(CivilCalendar.weekday(days: n) == ((parts.weekday ?? 0) + 5) % 7, "weekday of day \(n)")
        }
    }
}
