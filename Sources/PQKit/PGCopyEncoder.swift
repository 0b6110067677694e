import Foundation

/// The two COPY data formats libpq can stream.
public enum PGCopyFormat: String, Hashable, Sendable {
    /// Tab-separated, backslash-escaped, `\N` for NULL.
    case text
    /// PostgreSQL's binary COPY: big-endian, length-prefixed fields, dates and timestamps from 2000-01-01.
    case binary
}

/// Encodes rows for `COPY ... FROM STDIN` in either format. Pure code: it only appends to `bytes`.
///
/// Call `beginRow(fieldCount:)`, one append per column (`int8`, `text`, `null`, ...), then `endRow()`;
/// `endRow` checks the count and drops the half-written row if it is wrong, so the stream stays valid.
/// For `.binary`, `init` writes the file header and `finish()` the trailer.
public struct PGCopyEncoder: Sendable {
    public let format: PGCopyFormat
    /// The encoded stream so far (or since the last `takeBytes()`).
    /// (Set only by this type and its binary column appender, `appendBinaryRows`.)
    public internal(set) var bytes: [UInt8] = []
    /// Fields the open row declared, or -1 between rows.
    var expectedFields = -1
    private var writtenFields = 0
    private var rowStart = 0

    /// `PGCOPY\n\377\r\n\0`, flags 0, header-extension length 0.
    public static let binaryHeader: [UInt8] =
        Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0, 0, 0, 0, 0]
    /// A field count of -1 ends binary COPY data.
    public static let binaryTrailer: [UInt8] = [0xFF, 0xFF]

    /// `header: false` encodes rows only, for a stream whose header another encoder writes (rows encoded on a
    /// reader thread and handed to `PGCopyWriter.writeEncodedRows`).
    public init(format: PGCopyFormat, reservingCapacity capacity: Int = 0, header: Bool = true) {
        self.format = format
        bytes.reserveCapacity(capacity)
        if format == .binary && header { bytes.append(contentsOf: Self.binaryHeader) }
    }

    /// Hands over the bytes encoded so far and starts an empty buffer of the same capacity (rows stay whole:
    /// call it between rows).
    public mutating func takeBytes() -> [UInt8] {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(Swift.max(bytes.capacity, 64))
        swap(&fresh, &bytes)
        rowStart = 0
        return fresh
    }

    /// Appends whole rows another encoder of the same format produced (between rows only).
    public mutating func appendEncodedRows(_ rows: [UInt8]) {
        precondition(expectedFields < 0, "appendEncodedRows called inside a row")
        bytes.append(contentsOf: rows)
    }

    /// Appends the binary trailer (text format needs none: the end of data is signalled by libpq).
    public mutating func finish() {
        if format == .binary { bytes.append(contentsOf: Self.binaryTrailer) }
    }

    public mutating func beginRow(fieldCount: Int) throws(PGError) {
        guard expectedFields < 0 else { throw encodingError("beginRow called inside a row; call endRow first") }
        guard (0...Int(Int16.max)).contains(fieldCount) else {
            throw encodingError("a COPY row holds 0...\(Int16.max) fields, not \(fieldCount)")
        }
        expectedFields = fieldCount
        writtenFields = 0
        rowStart = bytes.count
        if format == .binary { appendBigEndian(Int16(fieldCount)) }
    }

    public mutating func endRow() throws(PGError) {
        guard expectedFields >= 0 else { throw encodingError("endRow called without beginRow") }
        defer { expectedFields = -1 }
        guard writtenFields == expectedFields else {
            bytes.removeSubrange(rowStart...)
            throw encodingError("row declared \(expectedFields) fields but \(writtenFields) were written")
        }
        if format == .text { bytes.append(UInt8(ascii: "\n")) }
    }

    /// Drops a row begun with `beginRow` (e.g. when computing a value failed), so the stream stays valid.
    public mutating func cancelRow() {
        guard expectedFields >= 0 else { return }
        bytes.removeSubrange(rowStart...)
        expectedFields = -1
        writtenFields = 0
    }

    public mutating func null() {
        switch format {
        case .text:
            separate()
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "N"))
        case .binary:
            writtenFields += 1
            appendBigEndian(Int32(-1))
        }
    }

    public mutating func int2(_ value: Int16) {
        switch format {
        case .text:
            separate()
            appendDecimal(Int64(value))
        case .binary:
            field(length: 2)
            appendBigEndian(value)
        }
    }

    public mutating func int4(_ value: Int32) {
        switch format {
        case .text:
            separate()
            appendDecimal(Int64(value))
        case .binary:
            field(length: 4)
            appendBigEndian(value)
        }
    }

    public mutating func int8(_ value: Int64) {
        switch format {
        case .text:
            separate()
            appendDecimal(value)
        case .binary:
            field(length: 8)
            appendBigEndian(value)
        }
    }

    public mutating func float8(_ value: Double) {
        switch format {
        case .text:
            separate()
            if value.isNaN {
                bytes.append(contentsOf: "NaN".utf8)
            } else if value.isInfinite {
                bytes.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8)
            } else {
                // Swift prints the shortest string that reads back to the same bits, which float8in accepts.
                bytes.append(contentsOf: value.description.utf8)
            }
        case .binary:
            field(length: 8)
            appendBigEndian(Int64(bitPattern: value.bitPattern))
        }
    }

    public mutating func bool(_ value: Bool) {
        switch format {
        case .text:
            separate()
            bytes.append(value ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .binary:
            field(length: 1)
            bytes.append(value ? 1 : 0)
        }
    }

    /// Text or varchar. In text format `\`, tab, newline and carriage return are backslash-escaped.
    public mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            switch format {
            case .text:
                separate()
                appendEscaped(utf8)
            case .binary:
                field(length: utf8.count)
                bytes.append(contentsOf: utf8)
            }
        }
    }

    public mutating func bytea(_ value: some Collection<UInt8>) {
        switch format {
        case .text:
            // bytea's hex input form `\x0a1b`; its backslash is itself escaped for COPY text.
            separate()
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "x"))
            let digits = Array("0123456789abcdef".utf8)
            for byte in value {
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0F)])
            }
        case .binary:
            field(length: value.count)
            bytes.append(contentsOf: value)
        }
    }

    public mutating func date(_ value: PGDate) {
        switch format {
        case .text:
            separate()
            PGCalendar.appendISODate(year: value.year, month: value.month, day: value.day, to: &bytes)
        case .binary:
            field(length: 4)
            appendBigEndian(value.daysSincePostgresEpoch)
        }
    }

    /// A `timestamptz` given as microseconds since 1970-01-01 UTC (PostgreSQL's resolution).
    /// Text format covers years 1...9999; outside that it throws.
    public mutating func timestamptz(microsecondsSinceUnixEpoch micros: Int64) throws(PGError) {
        switch format {
        case .text:
            let mark = bytes.count
            separate()
            guard PGCalendar.appendISOTimestamp(microseconds: micros, to: &bytes) else {
                bytes.removeSubrange(mark...)
                writtenFields -= 1
                throw encodingError("timestamp \(micros) µs since 1970 is outside years 1...9999")
            }
        case .binary:
            let (shifted, overflow) = micros.subtractingReportingOverflow(PGCalendar.postgresEpochMicroseconds)
            guard !overflow else { throw encodingError("timestamp \(micros) µs since 1970 overflows int8") }
            field(length: 8)
            appendBigEndian(shifted)
        }
    }

    /// A `timestamptz` from a `Date`, rounded to the microsecond.
    public mutating func timestamptz(_ value: Date) throws(PGError) {
        guard let micros = PGCalendar.microseconds(value) else {
            throw encodingError("date \(value.timeIntervalSince1970) s since 1970 is out of range")
        }
        try timestamptz(microsecondsSinceUnixEpoch: micros)
    }

    // MARK: - Helpers

    func encodingError(_ message: String) -> PGError {
        PGError(code: .invalidArgument, operation: "COPY \(format.rawValue) encoding", message: message)
    }

    @inline(__always) private mutating func separate() {
        if writtenFields > 0 { bytes.append(UInt8(ascii: "\t")) }
        writtenFields += 1
    }

    @inline(__always) private mutating func field(length: Int) {
        writtenFields += 1
        appendBigEndian(Int32(truncatingIfNeeded: length))
    }

    @inline(__always) private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func appendDecimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits at most: a 24-byte scratch on the stack
        let count = Swift.withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var index = 0
            repeat {
                scratch[index] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
                magnitude /= 10
                index += 1
            } while magnitude > 0
            return index
        }
        Swift.withUnsafeBytes(of: &digits) { scratch in
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(scratch[index]) }
        }
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in 0..<utf8.count {
            let escaped: UInt8
            switch utf8[index] {
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            default: continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(escaped)
            runStart = index + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
}
