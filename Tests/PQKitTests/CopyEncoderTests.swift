import Foundation
import Testing

@testable import PQKit

/// One COPY field of a known column type, as the tests generate and decode it.
enum Sample: Equatable, CustomStringConvertible {
    case null
    case int2(Int16)
    case int4(Int32)
    case int8(Int64)
    case float8(Double)
    case bool(Bool)
    case text(String)
    case bytea([UInt8])
    case date(PGDate)
    case timestamp(Int64)

    enum Kind: CaseIterable { case int2, int4, int8, float8, bool, text, bytea, date, timestamp }

    static func == (lhs: Sample, rhs: Sample) -> Bool {
        switch (lhs, rhs) {
        case (.float8(let a), .float8(let b)): a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern
        case (.null, .null): true
        case (.int2(let a), .int2(let b)): a == b
        case (.int4(let a), .int4(let b)): a == b
        case (.int8(let a), .int8(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.text(let a), .text(let b)): Array(a.utf8) == Array(b.utf8)
        case (.bytea(let a), .bytea(let b)): a == b
        case (.date(let a), .date(let b)): a == b
        case (.timestamp(let a), .timestamp(let b)): a == b
        default: false
        }
    }

    var description: String {
        switch self {
        case .null: "NULL"
        case .int2(let v): "int2 \(v)"
        case .int4(let v): "int4 \(v)"
        case .int8(let v): "int8 \(v)"
        case .float8(let v): "float8 \(v)"
        case .bool(let v): "bool \(v)"
        case .text(let v): "text \(String(reflecting: v))"
        case .bytea(let v): "bytea \(v)"
        case .date(let v): "date \(v)"
        case .timestamp(let v): "timestamp \(v)"
        }
    }

    func encode(into encoder: inout PGCopyEncoder) throws {
        switch self {
        case .null: encoder.null()
        case .int2(let v): encoder.int2(v)
        case .int4(let v): encoder.int4(v)
        case .int8(let v): encoder.int8(v)
        case .float8(let v): encoder.float8(v)
        case .bool(let v): encoder.bool(v)
        case .text(let v): encoder.text(v)
        case .bytea(let v): encoder.bytea(v)
        case .date(let v): encoder.date(v)
        case .timestamp(let v): try encoder.timestamptz(microsecondsSinceUnixEpoch: v)
        }
    }
}

enum SampleGenerator {
    static let pieces = ["a", "Z", "0", " ", "\\", "\t", "\n", "\r", "N", "\\N", "웹툰", "é", "🎉", ",", "\"", "'"]
    static let minDays = PGCalendar.days(year: 1, month: 1, day: 1)
    static let maxDays = PGCalendar.days(year: 9999, month: 12, day: 31)

    static func value(_ kind: Sample.Kind, _ g: inout SplitMix64) -> Sample {
        if g.next() % 7 == 0 { return .null }
        switch kind {
        case .int2: return .int2(Int16(truncatingIfNeeded: g.next()))
        case .int4: return .int4(Int32(truncatingIfNeeded: g.next()))
        case .int8: return .int8(Int64(bitPattern: g.next() >> (g.next() % 64)))
        case .float8:
            switch g.next() % 6 {
            case 0:
                return .float8([Double.nan, .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude][Int(g.next() % 6)])
            case 1: return .float8(Double(bitPattern: g.next()))
            default: return .float8(Double(Int64(bitPattern: g.next()) >> 20) / 1024)
            }
        case .bool: return .bool(g.next() % 2 == 0)
        case .text:
            let count = Int(g.next() % 12)
            return .text((0..<count).map { _ in pieces[Int(g.next() % UInt64(pieces.count))] }.joined())
        case .bytea: return .bytea((0..<Int(g.next() % 20)).map { _ in UInt8(truncatingIfNeeded: g.next()) })
        case .date:
            let days = minDays + Int(g.next() % UInt64(maxDays - minDays + 1))
            return .date(PGDate(daysSinceUnixEpoch: days)!)
        case .timestamp:
            let span = UInt64((maxDays - minDays + 1) * 86_400) * 1_000_000
            return .timestamp(Int64(minDays) * 86_400_000_000 + Int64(g.next() % span))
        }
    }
}

/// Independent decoders for the two COPY formats, written from the PostgreSQL documentation.
enum CopyDecoder {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func binary(_ bytes: [UInt8], kinds: [[Sample.Kind]]) throws -> [[Sample]] {
        var offset = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, offset + n <= bytes.count else { throw Failure(description: "truncated at \(offset)") }
            defer { offset += n }
            return bytes[offset..<offset + n]
        }
        func integer(_ n: Int) throws -> Int64 {
            var value: UInt64 = 0
            for byte in try take(n) { value = value << 8 | UInt64(byte) }
            let shift = UInt64(64 - 8 * n)
            return Int64(bitPattern: value << shift) >> Int64(shift)
        }
        guard Array(try take(11)) == Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] else {
            throw Failure(description: "bad signature")
        }
        guard try integer(4) == 0 else { throw Failure(description: "flags") }
        _ = try take(Int(try integer(4)))
        var rows: [[Sample]] = []
        while true {
            let count = try integer(2)
            if count == -1 { break }
            guard rows.count < kinds.count, count == kinds[rows.count].count else {
                throw Failure(description: "row \(rows.count) has \(count) fields")
            }
            var row: [Sample] = []
            for kind in kinds[rows.count] {
                let length = try integer(4)
                if length == -1 {
                    row.append(.null)
                    continue
                }
                let start = offset
                switch kind {
                case .int2: row.append(.int2(Int16(try integer(2))))
                case .int4: row.append(.int4(Int32(try integer(4))))
                case .int8: row.append(.int8(try integer(8)))
                case .float8: row.append(.float8(Double(bitPattern: UInt64(bitPattern: try integer(8)))))
                case .bool: row.append(.bool(try integer(1) != 0))
                case .text: row.append(.text(String(decoding: try take(Int(length)), as: UTF8.self)))
                case .bytea: row.append(.bytea(Array(try take(Int(length)))))
                case .date: row.append(.date(PGDate(daysSinceUnixEpoch: Int(try integer(4)) + 10_957)!))
                case .timestamp: row.append(.timestamp(try integer(8) + 946_684_800_000_000))
                }
                guard offset - start == length else { throw Failure(description: "length \(length) for \(kind)") }
            }
            rows.append(row)
        }
        guard offset == bytes.count else { throw Failure(description: "trailing bytes after the trailer") }
        return rows
    }

    static func text(_ bytes: [UInt8], kinds: [[Sample.Kind]]) throws -> [[Sample]] {
        guard bytes.isEmpty || bytes.last == UInt8(ascii: "\n") else { throw Failure(description: "no final newline") }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        guard lines.count == kinds.count else { throw Failure(description: "\(lines.count) lines") }
        return try zip(lines, kinds).map { line, kinds in
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            guard fields.count == kinds.count || (kinds.isEmpty && fields == [[]]) else {
                throw Failure(description: "\(fields.count) fields, expected \(kinds.count)")
            }
            return try zip(fields, kinds).map { field, kind in
                if Array(field) == Array("\\N".utf8) { return .null }
                let text = try unescape(Array(field))
                func parse<T: PGTextDecodable>(_ type: T.Type) throws -> T {
                    guard let value = T(pgText: text) else { throw Failure(description: "bad \(kind) \(text)") }
                    return value
                }
                switch kind {
                case .int2: return .int2(try parse(Int16.self))
                case .int4: return .int4(try parse(Int32.self))
                case .int8: return .int8(try parse(Int64.self))
                case .float8: return .float8(try parse(Double.self))
                case .bool: return .bool(try parse(Bool.self))
                case .text: return .text(text)
                case .bytea: return .bytea(try parse([UInt8].self))
                case .date: return .date(try parse(PGDate.self))
                case .timestamp:
                    guard let micros = PGTextScanner.timestampMicroseconds(Array(text.utf8)) else {
                        throw Failure(description: "bad timestamp \(text)")
                    }
                    return .timestamp(micros)
                }
            }
        }
    }

    static func unescape(_ field: [UInt8]) throws -> String {
        var out: [UInt8] = []
        var index = 0
        while index < field.count {
            let byte = field[index]
            guard byte == UInt8(ascii: "\\") else {
                guard byte != UInt8(ascii: "\r") else { throw Failure(description: "raw carriage return") }
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < field.count else { throw Failure(description: "dangling backslash") }
            switch field[index + 1] {
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
            default: throw Failure(description: "unexpected escape \\\(Character(Unicode.Scalar(field[index + 1])))")
            }
            index += 2
        }
        return String(decoding: out, as: UTF8.self)
    }
}

@Suite struct CopyEncoderTests {
    static func randomRows(seed: UInt64, count: Int) -> [[Sample]] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (0..<Int(g.next() % 12)).map { _ in
                SampleGenerator.value(Sample.Kind.allCases[Int(g.next() % UInt64(Sample.Kind.allCases.count))], &g)
            }
        }
    }

    static func kinds(_ rows: [[Sample]]) -> [[Sample.Kind]] {
        rows.map { row in
            row.map { sample in
                switch sample {
                case .null: .text  // any kind decodes a NULL
                case .int2: .int2
                case .int4: .int4
                case .int8: .int8
                case .float8: .float8
                case .bool: .bool
                case .text: .text
                case .bytea: .bytea
                case .date: .date
                case .timestamp: .timestamp
                }
            }
        }
    }

    static func encode(_ rows: [[Sample]], _ format: PGCopyFormat) throws -> [UInt8] {
        var encoder = PGCopyEncoder(format: format)
        var stream: [UInt8] = []
        for (index, row) in rows.enumerated() {
            try encoder.beginRow(fieldCount: row.count)
            for sample in row { try sample.encode(into: &encoder) }
            try encoder.endRow()
            if index % 17 == 0 { stream += encoder.takeBytes() }  // draining between rows keeps the stream whole
        }
        encoder.finish()
        return stream + encoder.takeBytes()
    }

    @Test(arguments: [PGCopyFormat.binary, .text], [1, 2, 3, 4, 5])
    func randomRowsRoundTripThroughAnIndependentDecoder(format: PGCopyFormat, seed: UInt64) throws {
        let rows = Self.randomRows(seed: seed * 7919, count: 400)
        let bytes = try Self.encode(rows, format)
        let decoded =
            format == .binary
            ? try CopyDecoder.binary(bytes, kinds: Self.kinds(rows))
            : try CopyDecoder.text(bytes, kinds: Self.kinds(rows))
        #expect(decoded.count == rows.count)
        for (index, (got, want)) in zip(decoded, rows).enumerated() where got != want {
            Issue.record("row \(index): got \(got), want \(want)")
            break
        }
    }

    /// Rows encoded elsewhere (a headerless encoder on a reader thread) and joined with `appendEncodedRows` give the
    /// same stream as encoding them in place.
    @Test(arguments: [PGCopyFormat.binary, .text])
    func rowsEncodedElsewhereJoinTheStreamUnchanged(format: PGCopyFormat) throws {
        let rows = Self.randomRows(seed: 4242, count: 300)
        var joined = PGCopyEncoder(format: format)
        var elsewhere = PGCopyEncoder(format: format, header: false)
        #expect(elsewhere.bytes.isEmpty)
        for (index, row) in rows.enumerated() {
            try elsewhere.beginRow(fieldCount: row.count)
            for sample in row { try sample.encode(into: &elsewhere) }
            try elsewhere.endRow()
            if index % 23 == 22 { joined.appendEncodedRows(elsewhere.takeBytes()) }
        }
        joined.appendEncodedRows(elsewhere.takeBytes())
        joined.finish()
        #expect(joined.bytes == (try Self.encode(rows, format)))
    }

    @Test func binaryLayoutMatchesTheDocumentedBytes() throws {
        var encoder = PGCopyEncoder(format: .binary)
        try encoder.beginRow(fieldCount: 5)
        encoder.int4(42)
        encoder.null()
        encoder.date(PGDate(year: 2000, month: 1, day: 2)!)
        try encoder.timestamptz(microsecondsSinceUnixEpoch: 946_684_800_000_001)
        encoder.text("웹")
        try encoder.endRow()
        encoder.finish()
        let expected: [UInt8] =
            Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            + [0, 5] + [0, 0, 0, 4, 0, 0, 0, 42] + [0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 4, 0, 0, 0, 1]
            + [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 3, 0xEC, 0x9B, 0xB9] + [0xFF, 0xFF]
        #expect(encoder.bytes == expected)
    }

    @Test func textEscapesSpecialBytesAndWritesNullMarker() throws {
        var encoder = PGCopyEncoder(format: .text)
        try encoder.beginRow(fieldCount: 4)
        encoder.text("a\\b\tc\nd\re")
        encoder.null()
        encoder.text("\\N")
        encoder.float8(-.infinity)
        try encoder.endRow()
        #expect(String(decoding: encoder.bytes, as: UTF8.self) == "a\\\\b\\tc\\nd\\re\t\\N\t\\\\N\t-Infinity\n")
    }

    @Test(arguments: [PGCopyFormat.binary, .text])
    func wrongFieldCountIsAnErrorAndLeavesTheStreamValid(format: PGCopyFormat) throws {
        var encoder = PGCopyEncoder(format: format)
        try encoder.beginRow(fieldCount: 1)
        encoder.int8(1)
        try encoder.endRow()
        let before = encoder.bytes
        try encoder.beginRow(fieldCount: 2)
        encoder.int8(2)
        let error = #expect(throws: PGError.self) { try encoder.endRow() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("declared 2 fields but 1") == true)
        #expect(encoder.bytes == before)
        #expect(throws: PGError.self) { try encoder.beginRow(fieldCount: 40_000) }
        #expect(throws: PGError.self) { try encoder.endRow() }
    }

    @Test func textTimestampOutsideYears1To9999IsRefused() throws {
        var encoder = PGCopyEncoder(format: .text)
        try encoder.beginRow(fieldCount: 1)
        let error = #expect(throws: PGError.self) {
            try encoder.timestamptz(
                microsecondsSinceUnixEpoch: Int64(PGCalendar.days(year: 10_000, month: 1, day: 1)) * 86_400_000_000)
        }
        #expect(error?.message.contains("outside years 1...9999") == true)
        encoder.null()
        try encoder.endRow()
        #expect(encoder.bytes == Array("\\N\n".utf8))
    }
}

@Suite struct CalendarAndDecodingTests {
    @Test func civilConversionRoundTripsEveryDayOfYears1To9999() {
        var expected = PGCalendar.days(year: 1, month: 1, day: 1)
        for year in stride(from: 1, through: 9999, by: 1) {
            for month in 1...12 {
                for day in 1...PGCalendar.daysInMonth(year: year, month: month) {
                    let days = PGCalendar.days(year: year, month: month, day: day)
                    guard days == expected, PGCalendar.civil(fromDays: days) == (year, month, day) else {
                        Issue.record("\(year)-\(month)-\(day) -> \(days), expected \(expected)")
                        return
                    }
                    expected += 1
                }
            }
        }
        #expect(PGCalendar.days(year: 2000, month: 1, day: 1) == PGCalendar.postgresEpochDays)
    }

    @Test func dateValidation() {
        #expect(PGDate(year: 2024, month: 2, day: 29) != nil)
        #expect(PGDate(year: 2023, month: 2, day: 29) == nil)
        #expect(PGDate(year: 0, month: 1, day: 1) == nil)
        #expect(PGDate(pgText: "2024-02-29")?.description == "2024-02-29")
        #expect(PGDate(pgText: "2024-2-29") == nil)
        #expect(PGDate(pgText: "0044-03-15 BC") == nil)
    }

    @Test func timestampTextRoundTripsAndHonoursOffsets() {
        var g = SplitMix64(seed: 42)
        for _ in 0..<5_000 {
            let micros = Int64(bitPattern: g.next() % 253_402_300_799_000_000) - 62_135_596_800_000_000 + 1
            var bytes: [UInt8] = []
            #expect(PGCalendar.appendISOTimestamp(microseconds: micros, to: &bytes))
            #expect(PGTextScanner.timestampMicroseconds(bytes) == micros)
        }
        #expect(PGTextScanner.timestampMicroseconds(Array("2000-01-01 09:00:00+09".utf8)) == 946_684_800_000_000)
        #expect(PGTextScanner.timestampMicroseconds(Array("2000-01-01 00:00:00.5-01:30".utf8)) == 946_690_200_500_000)
        #expect(PGTextScanner.timestampMicroseconds(Array("2000-01-01 24:00:00".utf8)) == nil)
        #expect(PGTextScanner.timestampMicroseconds(Array("infinity".utf8)) == nil)
        #expect(PGTextScanner.timestampMicroseconds(Array("2000-01-01 00:00:00.1234567".utf8)) == nil)
    }

    @Test func scalarDecoders() {
        #expect(Bool(pgText: "t") == true)
        #expect(Bool(pgText: "true") == nil)
        #expect(Double(pgText: "-Infinity") == -.infinity)
        #expect(Double(pgText: "NaN")?.isNaN == true)
        #expect(Double(pgText: "1e-05") == 1e-05)
        #expect(Double(pgText: "nan") == nil)
        #expect(Int64(pgText: "-9223372036854775808") == .min)
        #expect(Int16(pgText: "40000") == nil)
        #expect([UInt8](pgText: "\\x00ff10") == [0, 255, 16])
        #expect([UInt8](pgText: "\\x0") == nil)
    }

    @Test func passwordsAreRedacted() {
        #expect(PGRedaction.uriPassword(in: "postgresql://u:p%40ss@host:5432/db") == "p%40ss")
        #expect(PGRedaction.uriPassword(in: "postgres://u@host/db") == nil)
        #expect(PGRedaction.uriPassword(in: "host=x password=y") == nil)
        #expect(
            PGRedaction.redact("bad URI \"postgresql://u:s3cret@[::1\"", secrets: ["s3cret"])
                == "bad URI \"postgresql://u:***@[::1\"")
    }
}
