import ClusterCore

/// Seeded generator so property tests are reproducible (same as CompressionKitTests).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A manual clock: tests advance it explicitly, nothing sleeps.
struct TestClock {
    var now = Timestamp(millis: 1_764_000_000_000)
    mutating func advance(_ millis: Int64) { now = now.adding(millis: millis) }
}

func worker(_ name: String) -> WorkerID { WorkerID(rawValue: name)! }

func seed(_ key: String, kind: String = "title", platform: String = "naver", payload: [UInt8] = []) -> UnitSeed {
    try! UnitSeed(kind: kind, platform: platform, key: key, payload: payload.isEmpty ? Array(key.utf8) : payload)
}

func spec(_ platforms: [String] = ["naver", "kakao"], mode: RunMode = .daily, date: String = "2026-11-25") -> RunSpec {
    try! RunSpec(platforms: platforms, mode: mode, crawlDate: date)
}

func manifest(rows: Int64, table: String = "episodes", path: String = "out/part.parquet") -> Manifest {
    Manifest(files: [OutputFile(path: path, table: table, rows: rows, bytes: rows * 10, sha256: String(repeating: "ab", count: 32))])
}
