/// Appends a row's fields in a compact binary form (little-endian integers, length-prefixed UTF-8 strings, a tag byte
/// before optional values). Used for spill files, where it must be cheap to write and to bound-check on read.
public struct RowWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }
    public mutating func write(_ value: Int32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ value: Double) { write(value.bitPattern) }
    public mutating func write(_ value: CalendarDay) { write(value.daysSinceEpoch) }

    public mutating func write(_ value: String) {
        var copy = value
        copy.withUTF8 { utf8 in
            write(Int32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func write(_ value: Int64?) {
        if let value {
            write(UInt8(1))
            write(value)
        } else {
            write(UInt8(0))
        }
    }
    public mutating func write(_ value: Double?) {
        if let value {
            write(UInt8(1))
            write(value)
        } else {
            write(UInt8(0))
        }
    }
    public mutating func write(_ value: String?) {
        if let value {
            write(UInt8(1))
            write(value)
        } else {
            write(UInt8(0))
        }
    }
    public mutating func write(_ value: CalendarDay?) {
        if let value {
            write(UInt8(1))
            write(value)
        } else {
            write(UInt8(0))
        }
    }
}

/// Reads what `RowWriter` wrote, checking every length against the bytes that remain: a corrupt or truncated record
/// is a `ReducerError.invalidRow`, never a crash or an allocation sized by an unchecked length.
/// The reader borrows `base`: use it only inside the scope that owns those bytes.
public struct RowReader {
    private let base: UnsafeRawBufferPointer
    private var position = 0
    private let table: String

    public init(_ base: UnsafeRawBufferPointer, table: String) {
        self.base = base
        self.table = table
    }

    public var isAtEnd: Bool { position == base.count }

    private func failure(_ what: String) -> ReducerError {
        ReducerError(
            code: .invalidRow, operation: "decode row", subject: table,
            detail: "\(what) at byte \(position) of \(base.count)")
    }

    private mutating func take(_ count: Int) throws(ReducerError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= base.count - position else { throw failure("truncated field of \(count) bytes") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: base[position..<position + count])
    }

    public mutating func readUInt8() throws(ReducerError) -> UInt8 { try take(1)[0] }

    public mutating func readBool() throws(ReducerError) -> Bool {
        switch try readUInt8() {
        case 0: false
        case 1: true
        case let other: throw failure("bool byte \(other)")
        }
    }

    public mutating func readUInt64() throws(ReducerError) -> UInt64 {
        UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self))
    }
    public mutating func readInt64() throws(ReducerError) -> Int64 { Int64(bitPattern: try readUInt64()) }
    public mutating func readInt32() throws(ReducerError) -> Int32 {
        Int32(littleEndian: try take(4).loadUnaligned(as: Int32.self))
    }
    public mutating func readDouble() throws(ReducerError) -> Double { Double(bitPattern: try readUInt64()) }
    public mutating func readDay() throws(ReducerError) -> CalendarDay { CalendarDay(daysSinceEpoch: try readInt32()) }

    public mutating func readString() throws(ReducerError) -> String {
        let count = Int(try readInt32())
        let utf8 = try take(count)
        guard let text = String(validating: utf8, as: UTF8.self) else { throw failure("invalid UTF-8") }
        return text
    }

    private mutating func present() throws(ReducerError) -> Bool {
        switch try readUInt8() {
        case 0: false
        case 1: true
        case let other: throw failure("optional tag \(other)")
        }
    }
    public mutating func readOptionalInt64() throws(ReducerError) -> Int64? {
        try present() ? try readInt64() : nil
    }
    public mutating func readOptionalDouble() throws(ReducerError) -> Double? {
        try present() ? try readDouble() : nil
    }
    public mutating func readOptionalString() throws(ReducerError) -> String? {
        try present() ? try readString() : nil
    }
    public mutating func readOptionalDay() throws(ReducerError) -> CalendarDay? {
        try present() ? try readDay() : nil
    }

    /// Fails unless every byte was consumed (a record with trailing bytes is as corrupt as a short one).
    public func finish() throws(ReducerError) {
        guard isAtEnd else { throw failure("\(base.count - position) trailing bytes") }
    }
}

/// Builds a sort key whose byte-wise (memcmp) order equals the order of the typed fields, so the sorter compares keys
/// without decoding them. Integers are big-endian with the sign bit flipped; strings escape 0x00 and end with 0x00 0x01.
public struct SortKeyEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() { bytes.reserveCapacity(64) }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public mutating func append(_ value: Int64) {
        let flipped = UInt64(bitPattern: value) ^ (1 << 63)
        Swift.withUnsafeBytes(of: flipped.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: Int32) { append(Int64(value)) }
    public mutating func append(_ value: Int) { append(Int64(value)) }
    public mutating func append(_ value: CalendarDay) { append(value.daysSinceEpoch) }

    public mutating func append(_ value: String) {
        for byte in value.utf8 {
            bytes.append(byte)
            if byte == 0 { bytes.append(0xFF) }
        }
        bytes.append(0)
        bytes.append(1)
    }
}
