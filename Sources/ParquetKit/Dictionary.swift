#if !_endian(little)
#error("ParquetKit copies values in host byte order, which must be little-endian as Parquet's PLAIN encoding is")
#endif

/// Fixed-width values that PLAIN-encode as their little-endian bytes.
protocol PlainFixed {
    static var byteWidth: Int { get }
    /// A bit pattern that is equal exactly when the values are identical (doubles compare by bits, so NaN and
    /// -0.0 keep their identity through the dictionary).
    var keyBits: UInt64 { get }
    init(keyBits: UInt64)
    /// NaN is left out of statistics.
    var isNaNValue: Bool { get }
    /// The value as written to min_value / max_value (a zero double becomes -0.0 as a minimum, +0.0 as a maximum).
    var asStatisticsMin: Self { get }
    var asStatisticsMax: Self { get }
}

extension PlainFixed {
    var isNaNValue: Bool { false }
    var asStatisticsMin: Self { self }
    var asStatisticsMax: Self { self }
}

extension Int32: PlainFixed {
    static var byteWidth: Int { 4 }
    var keyBits: UInt64 { UInt64(UInt32(bitPattern: self)) }
    init(keyBits: UInt64) { self = Int32(bitPattern: UInt32(truncatingIfNeeded: keyBits)) }
}

extension Int64: PlainFixed {
    static var byteWidth: Int { 8 }
    var keyBits: UInt64 { UInt64(bitPattern: self) }
    init(keyBits: UInt64) { self = Int64(bitPattern: keyBits) }
}

extension Double: PlainFixed {
    static var byteWidth: Int { 8 }
    var keyBits: UInt64 { bitPattern }
    init(keyBits: UInt64) { self = Double(bitPattern: keyBits) }
    var isNaNValue: Bool { isNaN }
    var asStatisticsMin: Double { self == 0 ? -0.0 : self }
    var asStatisticsMax: Double { self == 0 ? 0.0 : self }
}

@inline(__always) func mixHash(_ x: UInt64) -> UInt64 {
    var h = x &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 29
    h = h &* 0xBF58_476D_1CE4_E5B9
    return h ^ (h >> 32)
}

/// An insertion-ordered dictionary of fixed-width values: open addressing over 64-bit keys.
struct FixedDictionary<T: PlainFixed> {
    private(set) var values: [T] = []
    private var slots: [Int32]
    private var mask: Int

    init() {
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { values.count }
    var plainBytes: Int { values.count * T.byteWidth }

    /// The index of `value`, inserting it if new.
    @inline(__always) mutating func index(of value: T) -> UInt32 {
        let key = value.keyBits
        var slot = Int(truncatingIfNeeded: mixHash(key)) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 {
                let index = Int32(values.count)
                values.append(value)
                slots[slot] = index
                if values.count * 2 > slots.count { grow() }
                return UInt32(index)
            }
            if values[Int(entry)].keyBits == key { return UInt32(entry) }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        for (i, v) in values.enumerated() {
            var slot = Int(truncatingIfNeeded: mixHash(v.keyBits)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
    }
}

/// An insertion-ordered dictionary of byte strings. Entries are stored directly in PLAIN form
/// (u32 length + bytes), so the dictionary page body is `plain.bytes` as is.
struct ByteDictionary {
    private(set) var plain = ByteWriter(capacity: 1 << 16)
    /// Offset of each entry's bytes (after its length prefix) in `plain`, and its length.
    private(set) var starts: [Int] = []
    private(set) var lengths: [Int] = []
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init() {
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { starts.count }
    var plainBytes: Int { plain.count }

    /// The index of `value`, inserting it if new.
    @inline(__always) mutating func index(of value: UnsafeRawBufferPointer) -> UInt32 {
        let h = hashBytes(value)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 {
                let index = Int32(starts.count)
                plain.appendLE(UInt32(value.count))
                starts.append(plain.count)
                lengths.append(value.count)
                hashes.append(h)
                plain.append(raw: value)
                slots[slot] = index
                if starts.count * 2 > slots.count { grow() }
                return UInt32(index)
            }
            let e = Int(entry)
            if hashes[e] == h && lengths[e] == value.count && equalsEntry(e, value) { return UInt32(entry) }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always) private func equalsEntry(_ e: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let n = value.count
        if n == 0 { return true }
        return plain.bytes.withUnsafeBytes { raw in
            memcmpBytes(raw.baseAddress! + starts[e], value.baseAddress!, n) == 0
        }
    }

    func entry(_ e: Int) -> ArraySlice<UInt8> { plain.bytes[starts[e]..<(starts[e] + lengths[e])] }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        for (i, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
    }
}

/// A fast non-cryptographic hash over bytes, 8 bytes at a time.
@inline(__always) func hashBytes(_ value: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(value.count)
    let n = value.count
    guard let base = value.baseAddress else { return mixHash(h) }
    var i = 0
    while i + 8 <= n {
        let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
        h = (h << 31) | (h >> 33)
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
    }
    return mixHash(h)
}

/// memcmp without importing libc into every file.
@inline(__always) func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int32 {
    var i = 0
    while i + 8 <= n {
        let x = a.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        let y = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if x != y {
            // Compare in byte order: big-endian view of the little-endian words.
            return x.byteSwapped < y.byteSwapped ? -1 : 1
        }
        i += 8
    }
    while i < n {
        let x = a.load(fromByteOffset: i, as: UInt8.self)
        let y = b.load(fromByteOffset: i, as: UInt8.self)
        if x != y { return x < y ? -1 : 1 }
        i += 1
    }
    return 0
}

/// Unsigned lexicographic byte order (Parquet's TYPE_ORDER for BYTE_ARRAY).
@inline(__always) func bytesLess(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmpBytes(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return c < 0 }
    }
    return a.count < b.count
}
