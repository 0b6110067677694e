import CivilCalendar
import Foundation

/// A calendar date as PostgreSQL's `date` holds it (proleptic Gregorian, years 1...9999 here: BC and
/// five-digit years are refused rather than mis-encoded).
public struct PGDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil unless the triple is a real date in years 1...9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...PGCalendar.daysInMonth(year: year, month: month)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` after 1970-01-01 (negative: before); nil outside years 1...9999.
    public init?(daysSinceUnixEpoch days: Int) {
        let (y, m, d) = PGCalendar.civil(fromDays: days)
        self.init(year: y, month: m, day: d)
    }

    public var daysSinceUnixEpoch: Int { PGCalendar.days(year: year, month: month, day: day) }

    /// Days since 2000-01-01, the value COPY BINARY carries.
    public var daysSincePostgresEpoch: Int32 { Int32(daysSinceUnixEpoch - PGCalendar.postgresEpochDays) }

    public static func < (lhs: PGDate, rhs: PGDate) -> Bool { lhs.daysSinceUnixEpoch < rhs.daysSinceUnixEpoch }

    /// `YYYY-MM-DD`, the ISO form PostgreSQL reads and writes.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(10)
        PGCalendar.appendISODate(year: year, month: month, day: day, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Calendar arithmetic shared by the encoders and decoders (pure, no Foundation calendars: fast and exact).
enum PGCalendar {
    /// 2000-01-01 as days since 1970-01-01.
    static let postgresEpochDays = 10_957
    static let postgresEpochMicroseconds: Int64 = 946_684_800_000_000

    static func daysInMonth(year: Int, month: Int) -> Int { CivilCalendar.daysIn(month: month, year: year) }

    /// Days since 1970-01-01 for a proleptic Gregorian date.
    static func days(year: Int, month: Int, day: Int) -> Int { CivilCalendar.days(year: year, month: month, day: day) }

    /// The inverse of `days(year:month:day:)`.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) { CivilCalendar.civil(days: days) }

    static func appendDigits(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: 48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    static func appendISODate(year: Int, month: Int, day: Int, to bytes: inout [UInt8]) {
        appendDigits(year, width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &bytes)
    }

    /// Microseconds since the Unix epoch, rounded to the nearest microsecond (PostgreSQL's resolution).
    static func microseconds(_ date: Date) -> Int64? {
        let value = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard value.isFinite, abs(value) < 9.0e18 else { return nil }
        return Int64(value)
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00` in UTC; false when the year is outside 1...9999.
    static func appendISOTimestamp(microseconds: Int64, to bytes: inout [UInt8]) -> Bool {
        let perDay: Int64 = 86_400_000_000
        var days = microseconds / perDay
        var rest = microseconds % perDay
        if rest < 0 {
            rest += perDay
            days -= 1
        }
        let (y, m, d) = civil(fromDays: Int(days))
        guard (1...9999).contains(y) else { return false }
        appendISODate(year: y, month: m, day: d, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        let seconds = Int(rest / 1_000_000)
        appendDigits(seconds / 3600, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(seconds / 60 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(seconds % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(Int(rest % 1_000_000), width: 6, to: &bytes)
        bytes.append(contentsOf: "+00".utf8)
        return true
    }
}
