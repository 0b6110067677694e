/// Thrift compact protocol: just the subset Parquet metadata needs (see parquet-format's `parquet.thrift`).
enum ThriftType {
    static let boolTrue: UInt8 = 1
    static let boolFalse: UInt8 = 2
    static let i8: UInt8 = 3
    static let i16: UInt8 = 4
    static let i32: UInt8 = 5
    static let i64: UInt8 = 6
    static let double: UInt8 = 7
    static let binary: UInt8 = 8
    static let list: UInt8 = 9
    static let set: UInt8 = 10
    static let map: UInt8 = 11
    static let structure: UInt8 = 12
    static let uuid: UInt8 = 13
}

/// Writes compact-protocol structs. Field ids must be written in ascending order within a struct.
struct ThriftWriter {
    var out = ByteWriter(capacity: 256)
    private var lastField: Int16 = 0
    private var stack: [Int16] = []

    private mutating func fieldHeader(_ id: Int16, _ type: UInt8) {
        let delta = Int(id) - Int(lastField)
        if delta > 0 && delta <= 15 {
            out.append(UInt8(delta << 4) | type)
        } else {
            out.append(type)
            out.appendVarint(zigzag(Int64(id)))
        }
        lastField = id
    }

    mutating func i32(_ id: Int16, _ v: Int32) {
        fieldHeader(id, ThriftType.i32)
        out.appendVarint(zigzag(Int64(v)))
    }

    mutating func i64(_ id: Int16, _ v: Int64) {
        fieldHeader(id, ThriftType.i64)
        out.appendVarint(zigzag(v))
    }

    mutating func i8(_ id: Int16, _ v: Int8) {
        fieldHeader(id, ThriftType.i8)
        out.append(UInt8(bitPattern: v))
    }

    mutating func bool(_ id: Int16, _ v: Bool) {
        fieldHeader(id, v ? ThriftType.boolTrue : ThriftType.boolFalse)
    }

    mutating func binary(_ id: Int16, _ v: [UInt8]) {
        fieldHeader(id, ThriftType.binary)
        out.appendVarint(UInt64(v.count))
        out.append(contentsOf: v)
    }

    mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }

    /// A nested struct field; `body` writes its fields, which restart at id 0.
    mutating func structField(_ id: Int16, _ body: (inout ThriftWriter) -> Void) {
        fieldHeader(id, ThriftType.structure)
        beginStruct()
        body(&self)
        endStruct()
    }

    mutating func beginStruct() {
        stack.append(lastField)
        lastField = 0
    }

    mutating func endStruct() {
        out.append(0)
        lastField = stack.removeLast()
    }

    mutating func listHeader(_ id: Int16, elementType: UInt8, count: Int) {
        fieldHeader(id, ThriftType.list)
        if count < 15 {
            out.append(UInt8(count << 4) | elementType)
        } else {
            out.append(0xF0 | elementType)
            out.appendVarint(UInt64(count))
        }
    }

    mutating func i32List(_ id: Int16, _ values: [Int32]) {
        listHeader(id, elementType: ThriftType.i32, count: values.count)
        for v in values { out.appendVarint(zigzag(Int64(v))) }
    }

    mutating func stringList(_ id: Int16, _ values: [String]) {
        listHeader(id, elementType: ThriftType.binary, count: values.count)
        for v in values {
            let utf8 = Array(v.utf8)
            out.appendVarint(UInt64(utf8.count))
            out.append(contentsOf: utf8)
        }
    }

    /// A list of structs: each element is written by `body` as a bare struct.
    mutating func structList<T>(_ id: Int16, _ values: [T], _ body: (inout ThriftWriter, T) -> Void) {
        listHeader(id, elementType: ThriftType.structure, count: values.count)
        for v in values {
            beginStruct()
            body(&self, v)
            endStruct()
        }
    }

    /// Ends the outermost struct.
    mutating func finish() -> [UInt8] {
        out.append(0)
        return out.bytes
    }
}

/// Reads compact-protocol structs from untrusted bytes. Every length is checked against the bytes that remain,
/// nesting is limited, and unknown fields are skipped by type, so malformed input can only produce an error.
struct ThriftReader {
    static let maxDepth = 32
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    private var depth = 0

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - position }

    mutating func byte() throws -> UInt8 {
        guard position < end else { throw ParquetError.corrupt("thrift: unexpected end of metadata") }
        let b = bytes[position]
        position += 1
        return b
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw ParquetError.corrupt("thrift: varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ParquetError.corrupt("thrift: varint longer than 10 bytes") }
        }
    }

    mutating func zigzagInt() throws -> Int64 { unzigzag(try varint()) }

    /// Reads an integer field of any integer wire type, checking it fits `Int32`.
    mutating func int32(_ type: UInt8) throws -> Int32 {
        let v = try int64(type)
        guard let r = Int32(exactly: v) else { throw ParquetError.corrupt("thrift: value \(v) does not fit i32") }
        return r
    }

    mutating func int64(_ type: UInt8) throws -> Int64 {
        switch type {
        case ThriftType.i8: return Int64(Int8(bitPattern: try byte()))
        case ThriftType.i16, ThriftType.i32, ThriftType.i64: return try zigzagInt()
        default: throw ParquetError.corrupt("thrift: expected an integer, found wire type \(type)")
        }
    }

    func bool(_ type: UInt8) throws -> Bool {
        switch type {
        case ThriftType.boolTrue: return true
        case ThriftType.boolFalse: return false
        default: throw ParquetError.corrupt("thrift: expected a bool, found wire type \(type)")
        }
    }

    /// A length checked against the remaining bytes, so it can size an allocation.
    mutating func length(perItem: Int = 1) throws -> Int {
        let n = try varint()
        guard n <= UInt64(remaining / max(perItem, 1)) else {
            throw ParquetError.corrupt("thrift: length \(n) exceeds the \(remaining) bytes that remain")
        }
        return Int(n)
    }

    mutating func binary(_ type: UInt8) throws -> [UInt8] {
        guard type == ThriftType.binary else {
            throw ParquetError.corrupt("thrift: expected binary, found wire type \(type)")
        }
        let n = try length()
        let slice = Array(bytes[position..<position + n])
        position += n
        return slice
    }

    mutating func string(_ type: UInt8) throws -> String {
        let raw = try binary(type)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw ParquetError.corrupt("thrift: string is not valid UTF-8")
        }
        return s
    }

    /// Reads a list header; the element count is bounded by the remaining bytes (every element takes ≥ 1 byte,
    /// except bools in some writers, which also take 1 byte in a list).
    mutating func listHeader(_ type: UInt8) throws -> (elementType: UInt8, count: Int) {
        guard type == ThriftType.list || type == ThriftType.set else {
            throw ParquetError.corrupt("thrift: expected a list, found wire type \(type)")
        }
        let h = try byte()
        let elementType = h & 0x0F
        var count = Int(h >> 4)
        if count == 15 { count = try length() }
        guard count <= remaining else {
            throw ParquetError.corrupt("thrift: list of \(count) elements exceeds the \(remaining) bytes that remain")
        }
        return (elementType, count)
    }

    /// Iterates a struct's fields. `handle` returns false for fields it does not know; those are skipped.
    mutating func readStruct(_ handle: (inout ThriftReader, Int16, UInt8) throws -> Bool) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw ParquetError.corrupt("thrift: structs nested deeper than 32") }
        var last: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return }
            let type = header & 0x0F
            let delta = Int16(header >> 4)
            let id: Int16
            if delta == 0 {
                let raw = try zigzagInt()
                guard let v = Int16(exactly: raw) else { throw ParquetError.corrupt("thrift: field id \(raw) out of range") }
                id = v
            } else {
                id = last &+ delta
            }
            last = id
            if try !handle(&self, id, type) { try skip(type) }
        }
    }

    /// Reads a list of structs, each decoded by `element`.
    mutating func structList<T>(_ type: UInt8, _ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (elementType, count) = try listHeader(type)
        guard elementType == ThriftType.structure else {
            throw ParquetError.corrupt("thrift: expected a list of structs, found element type \(elementType)")
        }
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }

    mutating func skip(_ type: UInt8) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw ParquetError.corrupt("thrift: values nested deeper than 32") }
        switch type {
        case ThriftType.boolTrue, ThriftType.boolFalse: return
        case ThriftType.i8: _ = try byte()
        case ThriftType.i16, ThriftType.i32, ThriftType.i64: _ = try varint()
        case ThriftType.double: try advance(8)
        case ThriftType.uuid: try advance(16)
        case ThriftType.binary: try advance(try length())
        case ThriftType.list, ThriftType.set:
            let (elementType, count) = try listHeader(type)
            for _ in 0..<count { try skipElement(elementType) }
        case ThriftType.map:
            let count = try length()
            if count > 0 {
                let kv = try byte()
                for _ in 0..<count {
                    try skipElement(kv >> 4)
                    try skipElement(kv & 0x0F)
                }
            }
        case ThriftType.structure:
            try readStruct { _, _, _ in false }
        default:
            throw ParquetError.corrupt("thrift: unknown wire type \(type)")
        }
    }

    /// Inside lists and maps a bool is one byte rather than living in the type nibble.
    private mutating func skipElement(_ type: UInt8) throws {
        if type == ThriftType.boolTrue || type == ThriftType.boolFalse { _ = try byte() } else { try skip(type) }
    }

    private mutating func advance(_ n: Int) throws {
        guard n <= remaining else { throw ParquetError.corrupt("thrift: value runs past the end of metadata") }
        position += n
    }
}
