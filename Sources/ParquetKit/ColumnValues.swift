/// Variable-length byte strings stored contiguously: `bytes` holds every value back to back and
/// `offsets[i]..<offsets[i+1]` is value `i`. One allocation per column instead of one per string.
public struct ByteArrayColumn: Sendable, Hashable {
    public private(set) var bytes: [UInt8]
    /// `count + 1` offsets into `bytes`, starting at 0.
    public private(set) var offsets: [Int]

    public init() {
        bytes = []
        offsets = [0]
    }

    public init<S: Sequence>(_ strings: S) where S.Element == String {
        self.init()
        for s in strings { append(s) }
    }

    public init(reservingValues values: Int, bytes byteCount: Int) {
        self.init()
        offsets.reserveCapacity(values + 1)
        bytes.reserveCapacity(byteCount)
    }

    /// Trusted constructor for the reader, which validates offsets itself.
    init(bytes: [UInt8], offsets: [Int]) {
        self.bytes = bytes
        self.offsets = offsets
    }

    /// Adopts values built elsewhere (e.g. gathered out of order); nil unless `offsets` starts at 0, never decreases
    /// and ends at `bytes.count`.
    public init?(validatingBytes bytes: [UInt8], offsets: [Int]) {
        guard offsets.first == 0, offsets.last == bytes.count,
            zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 })
        else { return nil }
        self.init(bytes: bytes, offsets: offsets)
    }

    public var count: Int { offsets.count - 1 }

    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
        offsets.append(bytes.count)
    }

    public mutating func append(bytes value: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: value)
        offsets.append(bytes.count)
    }

    public mutating func append(contentsOf other: ByteArrayColumn) {
        let base = bytes.count
        bytes.append(contentsOf: other.bytes)
        offsets.reserveAdditional(other.count)
        for i in 1..<other.offsets.count { offsets.append(base + other.offsets[i]) }
    }

    mutating func append(contentsOf other: ByteArrayColumn, range: Range<Int>) {
        let lo = other.offsets[range.lowerBound]
        let hi = other.offsets[range.upperBound]
        let base = bytes.count - lo
        bytes.append(contentsOf: other.bytes[lo..<hi])
        offsets.reserveAdditional(range.count)
        for i in (range.lowerBound + 1)..<(range.upperBound + 1) { offsets.append(base + other.offsets[i]) }
    }

    /// Reserves room for at least this many values and bytes in total, growing geometrically: called once per
    /// page, an exact reservation would copy the whole column every page.
    mutating func reserveCapacity(values: Int, bytes byteCount: Int) {
        if values + 1 > offsets.capacity { offsets.reserveCapacity(max(values + 1, offsets.capacity * 2)) }
        if byteCount > bytes.capacity { bytes.reserveCapacity(max(byteCount, bytes.capacity * 2)) }
    }

    /// The raw bytes of value `i`.
    public func bytes(at i: Int) -> ArraySlice<UInt8> { bytes[offsets[i]..<offsets[i + 1]] }

    /// Value `i` decoded as UTF-8 (invalid sequences become U+FFFD).
    public func string(at i: Int) -> String { String(decoding: bytes(at: i), as: UTF8.self) }
}

/// The values of one column, arrow-style: one slot per row, and a validity mask when the column holds nulls.
/// A null row's slot holds a placeholder (0, false or an empty string) that is never written.
public struct ColumnValues: Sendable {
    public enum Storage: Sendable {
        case boolean([Bool])
        case int32([Int32])
        case int64([Int64])
        case double([Double])
        case byteArray(ByteArrayColumn)
        /// Row `i` holds `elements[offsets[i]..<offsets[i+1]]` (`offsets.count == rows + 1`, starting at 0);
        /// elements are never null. A null row (see `validity`) has an empty range.
        indirect case list(offsets: [Int], elements: ColumnValues)
    }

    public var storage: Storage
    /// `validity[i] == false` marks row `i` as null; `nil` means no row is null.
    public var validity: [Bool]?

    public init(_ storage: Storage, validity: [Bool]? = nil) {
        self.storage = storage
        self.validity = validity
    }

    public var count: Int {
        switch storage {
        case .boolean(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        case .double(let v): v.count
        case .byteArray(let v): v.count
        case .list(let offsets, _): offsets.count - 1
        }
    }

    public var nullCount: Int { validity.map { $0.count { !$0 } } ?? 0 }

    public func isNull(_ i: Int) -> Bool { validity.map { !$0[i] } ?? false }

    // Convenience constructors from optionals (nil = null).
    public static func booleans(_ values: [Bool?]) -> ColumnValues {
        ColumnValues(.boolean(values.map { $0 ?? false }), validity: mask(values))
    }
    public static func int32s(_ values: [Int32?]) -> ColumnValues {
        ColumnValues(.int32(values.map { $0 ?? 0 }), validity: mask(values))
    }
    public static func int64s(_ values: [Int64?]) -> ColumnValues {
        ColumnValues(.int64(values.map { $0 ?? 0 }), validity: mask(values))
    }
    public static func doubles(_ values: [Double?]) -> ColumnValues {
        ColumnValues(.double(values.map { $0 ?? 0 }), validity: mask(values))
    }
    public static func strings(_ values: [String?]) -> ColumnValues {
        ColumnValues(.byteArray(ByteArrayColumn(values.map { $0 ?? "" })), validity: mask(values))
    }

    /// A list column from optional arrays of strings (nil = null row).
    public static func stringLists(_ rows: [[String]?]) -> ColumnValues {
        listColumn(rows, ColumnValues(.byteArray(ByteArrayColumn(rows.flatMap { $0 ?? [] }))))
    }
    public static func int32Lists(_ rows: [[Int32]?]) -> ColumnValues {
        listColumn(rows, ColumnValues(.int32(rows.flatMap { $0 ?? [] })))
    }
    public static func int64Lists(_ rows: [[Int64]?]) -> ColumnValues {
        listColumn(rows, ColumnValues(.int64(rows.flatMap { $0 ?? [] })))
    }

    private static func listColumn<T>(_ rows: [[T]?], _ elements: ColumnValues) -> ColumnValues {
        var offsets = [0]
        offsets.reserveCapacity(rows.count + 1)
        for r in rows { offsets.append(offsets.last! + (r?.count ?? 0)) }
        return ColumnValues(.list(offsets: offsets, elements: elements), validity: mask(rows))
    }

    private static func mask<T>(_ values: [T?]) -> [Bool]? {
        values.contains { $0 == nil } ? values.map { $0 != nil } : nil
    }

    /// The value at row `i`, typed by `type` (dates and timestamps share int32/int64 storage).
    public func value(at i: Int, as type: ParquetType) -> ParquetValue {
        if isNull(i) { return .null }
        switch (storage, type) {
        case (.boolean(let v), _): return .boolean(v[i])
        case (.int32(let v), .date): return .date(v[i])
        case (.int32(let v), _): return .int32(v[i])
        case (.int64(let v), .timestamp): return .timestamp(v[i])
        case (.int64(let v), _): return .int64(v[i])
        case (.double(let v), _): return .double(v[i])
        case (.byteArray(let v), _): return .string(v.string(at: i))
        case (.list(let offsets, let elements), _):
            return .list((offsets[i]..<offsets[i + 1]).map { elements.value(at: $0, as: type.valueType) })
        }
    }

    /// An empty column of the storage kind `type` uses.
    static func empty(for type: ParquetType, nullable: Bool, capacity: Int = 0) -> ColumnValues {
        var c: ColumnValues
        switch type {
        case .boolean:
            var a: [Bool] = []
            a.reserveCapacity(capacity)
            c = ColumnValues(.boolean(a))
        case .int32, .date:
            var a: [Int32] = []
            a.reserveCapacity(capacity)
            c = ColumnValues(.int32(a))
        case .int64, .timestamp:
            var a: [Int64] = []
            a.reserveCapacity(capacity)
            c = ColumnValues(.int64(a))
        case .double:
            var a: [Double] = []
            a.reserveCapacity(capacity)
            c = ColumnValues(.double(a))
        case .string:
            c = ColumnValues(.byteArray(ByteArrayColumn(reservingValues: capacity, bytes: capacity * 8)))
        case .list(let element):
            c = ColumnValues(.list(offsets: [0], elements: empty(for: element, nullable: false)))
        }
        if nullable {
            var v: [Bool] = []
            v.reserveCapacity(capacity)
            c.validity = v
        }
        return c
    }

    /// Whether this storage can hold values of `type`.
    func fits(_ type: ParquetType) -> Bool {
        switch (storage, type) {
        case (.boolean, .boolean), (.int32, .int32), (.int32, .date), (.int64, .int64), (.int64, .timestamp),
            (.double, .double), (.byteArray, .string):
            true
        case (.list(let offsets, let elements), .list(let element)):
            offsets.first == 0 && elements.validity == nil && elements.fits(element)
                && zip(offsets, offsets.dropFirst()).allSatisfy { $0 <= $1 } && offsets.last! <= elements.count
        default: false
        }
    }

    /// Appends rows `range` of `other` (same storage kind; checked by the caller).
    mutating func append(_ other: ColumnValues, range: Range<Int>) {
        let before = count
        switch (storage, other.storage) {
        case (.boolean(var a), .boolean(let b)):
            storage = .int32([])  // release the reference so `a` is uniquely owned
            a.append(contentsOf: b[range])
            storage = .boolean(a)
        case (.int32(var a), .int32(let b)):
            storage = .boolean([])
            a.append(contentsOf: b[range])
            storage = .int32(a)
        case (.int64(var a), .int64(let b)):
            storage = .boolean([])
            a.append(contentsOf: b[range])
            storage = .int64(a)
        case (.double(var a), .double(let b)):
            storage = .boolean([])
            a.append(contentsOf: b[range])
            storage = .double(a)
        case (.byteArray(var a), .byteArray(let b)):
            storage = .boolean([])
            a.append(contentsOf: b, range: range)
            storage = .byteArray(a)
        case (.list(var offsets, var elements), .list(let otherOffsets, let otherElements)):
            storage = .boolean([])
            let lo = otherOffsets[range.lowerBound]
            let hi = otherOffsets[range.upperBound]
            elements.append(otherElements, range: lo..<hi)
            let shift = offsets.last! - lo
            for i in (range.lowerBound + 1)..<(range.upperBound + 1) { offsets.append(otherOffsets[i] + shift) }
            storage = .list(offsets: offsets, elements: elements)
        default:
            preconditionFailure("storage kinds checked by the caller")
        }
        appendValidity(other.validity.map { Array($0[range]) }, count: range.count, previousCount: before)
    }

    private mutating func appendValidity(_ incoming: [Bool]?, count n: Int, previousCount: Int) {
        if let incoming {
            if validity == nil { validity = Array(repeating: true, count: previousCount) }
            validity!.append(contentsOf: incoming)
        } else if validity != nil {
            validity!.append(contentsOf: repeatElement(true, count: n))
        }
    }

    /// Appends one cell; returns false if `value` does not fit the storage (the caller reports the error).
    ///
    /// Switches on `storage` alone and parks an empty value in it while appending: a `switch (storage, value)`
    /// tuple would hold a second reference to the array, so every append would copy the whole column.
    mutating func append(_ value: ParquetValue) -> Bool {
        if case .null = value {
            if validity == nil { validity = Array(repeating: true, count: count) }
            appendPlaceholder()
            validity!.append(false)
            return true
        }
        switch storage {
        case .boolean(var a):
            guard case .boolean(let v) = value else { return false }
            storage = .int32([])
            a.append(v)
            storage = .boolean(a)
        case .int32(var a):
            let v: Int32
            switch value {
            case .int32(let x), .date(let x): v = x
            default: return false
            }
            storage = .boolean([])
            a.append(v)
            storage = .int32(a)
        case .int64(var a):
            let v: Int64
            switch value {
            case .int64(let x), .timestamp(let x): v = x
            default: return false
            }
            storage = .boolean([])
            a.append(v)
            storage = .int64(a)
        case .double(var a):
            guard case .double(let v) = value else { return false }
            storage = .boolean([])
            a.append(v)
            storage = .double(a)
        case .byteArray(var a):
            guard case .string(let v) = value else { return false }
            storage = .boolean([])
            a.append(v)
            storage = .byteArray(a)
        case .list(var offsets, var elements):
            guard case .list(let values) = value else { return false }
            storage = .boolean([])
            var ok = true
            for v in values where ok {
                if case .null = v { ok = false } else { ok = elements.append(v) }
            }
            if !ok {
                storage = .list(offsets: offsets, elements: elements)
                return false
            }
            offsets.append(elements.count)
            storage = .list(offsets: offsets, elements: elements)
        }
        if validity != nil { validity!.append(true) }
        return true
    }

    private mutating func appendPlaceholder() {
        switch storage {
        case .boolean(var a):
            storage = .int32([])
            a.append(false)
            storage = .boolean(a)
        case .int32(var a):
            storage = .boolean([])
            a.append(0)
            storage = .int32(a)
        case .int64(var a):
            storage = .boolean([])
            a.append(0)
            storage = .int64(a)
        case .double(var a):
            storage = .boolean([])
            a.append(0)
            storage = .double(a)
        case .byteArray(var a):
            storage = .boolean([])
            a.append(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
            storage = .byteArray(a)
        case .list(var offsets, let elements):
            storage = .boolean([])
            offsets.append(offsets.last!)
            storage = .list(offsets: offsets, elements: elements)
        }
    }

    /// Approximate bytes held, used to decide when to flush a row group.
    var approximateBytes: Int {
        let v = validity == nil ? 0 : count
        switch storage {
        case .boolean(let a): return a.count + v
        case .int32(let a): return a.count * 4 + v
        case .int64(let a): return a.count * 8 + v
        case .double(let a): return a.count * 8 + v
        case .byteArray(let a): return a.bytes.count + a.count * 8 + v
        case .list(let offsets, let elements): return offsets.count * 8 + elements.approximateBytes + v
        }
    }
}

/// A set of equally long columns in schema order: the writer's fast path and the reader's result.
public struct ColumnBatch: Sendable {
    public var columns: [ColumnValues]

    public init(_ columns: [ColumnValues]) { self.columns = columns }

    /// Rows in the batch (the first column's length; the writer checks that all agree).
    public var rowCount: Int { columns.first?.count ?? 0 }
}
