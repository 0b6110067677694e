import Foundation

/// A result column: its name and type OID (e.g. 20 = int8, 25 = text).
public struct PGColumn: Hashable, Sendable {
    public let name: String
    public let typeOID: UInt32
}

/// A completed command's rows (values in PostgreSQL's text format) and its command tag.
public struct PGResult: Sendable {
    public let columns: [PGColumn]
    public let rows: [PGRow]
    /// E.g. `INSERT 0 3`, `SELECT 2`, `COPY 1000`.
    public let commandTag: String
    /// `PQcmdTuples`: rows inserted/updated/deleted/selected/copied; nil for commands that report none.
    public let affectedRows: Int?
}

/// Column name lookup shared by every row of a result.
final class PGColumnIndex: Sendable {
    let names: [String: Int]
    init(_ columns: [PGColumn]) {
        var names: [String: Int] = [:]
        for (index, column) in columns.enumerated() where names[column.name] == nil { names[column.name] = index }
        self.names = names
    }
}

/// One row: optional text values (nil is SQL NULL), with typed accessors that decode the text format.
public struct PGRow: Sendable {
    public let values: [String?]
    let index: PGColumnIndex

    /// The raw text of column `column`, nil for NULL. Traps on an out-of-range index, as arrays do.
    public subscript(column: Int) -> String? { values[column] }

    /// Decodes column `column` as `T`; nil for NULL; throws if the text is not a valid `T`.
    public func value<T: PGTextDecodable>(_ column: Int, as type: T.Type = T.self) throws(PGError) -> T? {
        guard values.indices.contains(column) else {
            throw PGError(
                code: .decoding, operation: "read column \(column)",
                message: "the row has \(values.count) columns")
        }
        return try decode(values[column], name: "\(column)", as: type)
    }

    /// Decodes the column named `name` as `T`; nil for NULL; throws for an unknown name or invalid text.
    public func value<T: PGTextDecodable>(_ name: String, as type: T.Type = T.self) throws(PGError) -> T? {
        guard let column = index.names[name] else {
            throw PGError(
                code: .decoding, operation: "read column \"\(name)\"",
                message: "no such column; have \(index.names.keys.sorted())")
        }
        return try decode(values[column], name: "\"\(name)\"", as: type)
    }

    private func decode<T: PGTextDecodable>(_ text: String?, name: String, as type: T.Type) throws(PGError) -> T? {
        guard let text else { return nil }
        guard let value = T(pgText: text) else {
            throw PGError(
                code: .decoding, operation: "read column \(name)",
                message: "\(String(reflecting: text).prefix(80)) is not a valid \(T.self)")
        }
        return value
    }
}

/// A Swift type that can be read from PostgreSQL's text output format.
public protocol PGTextDecodable {
    init?(pgText: String)
}

extension String: PGTextDecodable {
    public init?(pgText: String) { self = pgText }
}

extension Int: PGTextDecodable {
    public init?(pgText: String) { self.init(pgText, radix: 10) }
}

extension Int64: PGTextDecodable {
    public init?(pgText: String) { self.init(pgText, radix: 10) }
}

extension Int32: PGTextDecodable {
    public init?(pgText: String) { self.init(pgText, radix: 10) }
}

extension Int16: PGTextDecodable {
    public init?(pgText: String) { self.init(pgText, radix: 10) }
}

extension Double: PGTextDecodable {
    public init?(pgText: String) {
        switch pgText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let first = pgText.utf8.first, first == UInt8(ascii: "-") || (48...57).contains(first) else {
                return nil
            }
            self.init(pgText)
        }
    }
}

extension Bool: PGTextDecodable {
    public init?(pgText: String) {
        switch pgText {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}

extension PGDate: PGTextDecodable {
    /// `YYYY-MM-DD` (DateStyle ISO, which every connection sets).
    public init?(pgText: String) {
        let utf8 = Array(pgText.utf8)
        guard utf8.count == 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-"),
            let year = PGTextScanner.number(utf8, 0, 4), let month = PGTextScanner.number(utf8, 5, 2),
            let day = PGTextScanner.number(utf8, 8, 2)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }
}

extension Date: PGTextDecodable {
    /// `timestamptz`/`timestamp` text: `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]]`; no offset means UTC.
    public init?(pgText: String) {
        guard let micros = PGTextScanner.timestampMicroseconds(Array(pgText.utf8)) else { return nil }
        self.init(timeIntervalSince1970: Double(micros) / 1_000_000)
    }
}

extension Array: PGTextDecodable where Element == UInt8 {
    /// `bytea` in its hex output form `\x0a1b`.
    public init?(pgText: String) {
        let utf8 = Array<UInt8>(pgText.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0
        else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = PGTextScanner.hex(utf8[index]), let low = PGTextScanner.hex(utf8[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}

/// Strict scanners for PostgreSQL's ISO text output (pure, so tests cover them without a server).
enum PGTextScanner {
    static func number(_ utf8: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start >= 0, count > 0, start + count <= utf8.count else { return nil }
        var value = 0
        for byte in utf8[start..<start + count] {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 97...102: byte - 87
        case 65...70: byte - 55
        default: nil
        }
    }

    static func timestampMicroseconds(_ utf8: [UInt8]) -> Int64? {
        guard utf8.count >= 19, utf8[10] == UInt8(ascii: " ") || utf8[10] == UInt8(ascii: "T"),
            utf8[13] == UInt8(ascii: ":"), utf8[16] == UInt8(ascii: ":"),
            let date = PGDate(pgText: String(decoding: utf8[0..<10], as: UTF8.self)),
            let hour = number(utf8, 11, 2), hour < 24, let minute = number(utf8, 14, 2), minute < 60,
            let second = number(utf8, 17, 2), second < 60
        else { return nil }
        var index = 19
        var fraction = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < utf8.count, (48...57).contains(utf8[index]) {
                guard digits < 6 else { return nil }
                fraction = fraction * 10 + Int(utf8[index] - 48)
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<6 { fraction *= 10 }
        }
        var offsetSeconds = 0
        if index < utf8.count {
            let sign: Int
            switch utf8[index] {
            case UInt8(ascii: "+"): sign = 1
            case UInt8(ascii: "-"): sign = -1
            default: return nil
            }
            index += 1
            guard let hours = number(utf8, index, 2) else { return nil }
            index += 2
            var minutes = 0
            var seconds = 0
            if index < utf8.count {
                guard utf8[index] == UInt8(ascii: ":"), let value = number(utf8, index + 1, 2) else { return nil }
                minutes = value
                index += 3
            }
            if index < utf8.count {
                guard utf8[index] == UInt8(ascii: ":"), let value = number(utf8, index + 1, 2) else { return nil }
                seconds = value
                index += 3
            }
            guard index == utf8.count else { return nil }
            offsetSeconds = sign * (hours * 3600 + minutes * 60 + seconds)
        }
        let seconds = date.daysSinceUnixEpoch * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Int64(seconds) * 1_000_000 + Int64(fraction)
    }
}
