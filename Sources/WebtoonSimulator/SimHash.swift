/// Stateless hashing used instead of a stored random stream, so that any title or episode can be derived on demand
/// from `(seed, platform, id, index)` without generating everything before it.
enum SimHash {
    /// SplitMix64's finaliser: a good 64-bit mixer.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func hash(_ a: UInt64, _ b: UInt64) -> UInt64 { mix(mix(a) ^ (b &* 0xD6E8_FEB8_6659_FD93)) }

    @inline(__always)
    static func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 { hash(hash(a, b), c) }

    @inline(__always)
    static func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 { hash(hash(hash(a, b), c), d) }

    /// A uniform double in [0, 1) from the top 53 bits.
    @inline(__always)
    static func unit(_ h: UInt64) -> Double { Double(h >> 11) * 0x1.0p-53 }

    /// A uniform integer in `range` (the modulo bias is negligible for the small ranges used here).
    @inline(__always)
    static func int(_ h: UInt64, in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(h % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// A roughly standard-normal value (Irwin–Hall sum of four uniforms), enough for skewed size distributions.
    static func normal(_ h: UInt64) -> Double {
        var sum = 0.0
        var state = h
        for _ in 0..<4 {
            state = mix(state)
            sum += unit(state)
        }
        return (sum - 2.0) * 1.732_050_8
    }
}

/// A small sequential generator over `SimHash`, for building one title's attributes in order.
struct SimRandom {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = SimHash.mix(state)
        return state
    }
    mutating func int(in range: ClosedRange<Int>) -> Int { SimHash.int(next(), in: range) }
    mutating func chance(_ p: Double) -> Bool { SimHash.unit(next()) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
