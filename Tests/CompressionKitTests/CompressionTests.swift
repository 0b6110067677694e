import CompressionKit
import Testing

@Suite struct SnappyTests {
    @Test(arguments: [0, 1, 17, 4096, 1 << 20])
    func roundTripsRandomAndRepetitiveData(size: Int) throws {
        var generator = SplitMix64(seed: UInt64(size))
        let random = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let repetitive = (0..<size).map { UInt8($0 % 7) }
        for input in [random, repetitive] {
            let compressed = Snappy.compress(input)
            #expect(try Snappy.decompress(compressed, maxOutput: size) == input)
        }
        if size >= 4096 { #expect(Snappy.compress(repetitive).count < size / 4) }
    }

    @Test func refusesOutputOverTheLimitBeforeAllocating() throws {
        let compressed = Snappy.compress([UInt8](repeating: 1, count: 10_000))
        let error = #expect(throws: CompressionError.self) { try Snappy.decompress(compressed, maxOutput: 9_999) }
        #expect(error?.code == .outputTooLarge)
    }

    @Test func corruptBlockIsAnError() {
        var compressed = Snappy.compress((0..<5_000).map { UInt8($0 % 251) })
        compressed.removeLast(compressed.count / 2)
        let error = #expect(throws: CompressionError.self) { try Snappy.decompress(compressed, maxOutput: 1 << 20) }
        #expect(error?.code == .corruptInput)
    }
}

@Suite struct ZstdTests {
    @Test(arguments: [0, 1, 1000, 300_000, 3 << 20])
    func oneShotRoundTrip(size: Int) throws {
        var generator = SplitMix64(seed: UInt64(size) &+ 99)
        let input = (0..<size).map { i in i % 3 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : UInt8(i % 13) }
        let compressed = try Zstd.compress(input)
        #expect(try Zstd.decompress(compressed, maxOutput: size) == input)
    }

    @Test func streamingFramesConcatenateAndDecodeInOnePass() throws {
        let compressor = ZstdCompressor()
        var framed: [UInt8] = []
        var expected: [UInt8] = []
        for frame in 0..<3 {
            for line in 0..<500 {
                let bytes = Array("{\"frame\":\(frame),\"line\":\(line),\"body\":\"웹툰\"}\n".utf8)
                expected += bytes
                try compressor.write(bytes) { framed.append(contentsOf: $0) }
            }
            try compressor.finish { framed.append(contentsOf: $0) }
        }
        // Content size is unknown for streamed frames, so this also exercises the unknown-size path.
        #expect(try Zstd.decompress(framed, maxOutput: expected.count) == expected)
        #expect(throws: CompressionError.self) { try Zstd.decompress(framed, maxOutput: expected.count - 1) }
    }

    @Test func truncatedFrameIsAnErrorNotAShortResult() throws {
        let input = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let compressed = try Zstd.compress(input)
        for cut in [1, compressed.count / 2, compressed.count - 1] {
            let truncated = Array(compressed[0..<cut])
            let error = #expect(throws: CompressionError.self) { try Zstd.decompress(truncated, maxOutput: 1 << 22) }
            #expect(error?.code == .corruptInput)
        }
    }

    @Test func forgedContentSizeIsRefusedBeforeAllocating() throws {
        let compressed = try Zstd.compress([UInt8](repeating: 7, count: 64 << 10))
        let error = #expect(throws: CompressionError.self) { try Zstd.decompress(compressed, maxOutput: 1024) }
        #expect(error?.code == .outputTooLarge)
    }

    @Test func garbageIsNotAFrame() {
        let error = #expect(throws: CompressionError.self) {
            try Zstd.decompress(Array("plainly not zstd".utf8), maxOutput: 1024)
        }
        #expect(error?.code == .corruptInput)
    }
}

@Suite struct ZstdFrameCodecTests {
    /// One codec reused across sizes and levels gives frames the one-shot API reads, and reads them back exactly.
    @Test(arguments: [Int32(1), 3])
    func reusedCodecRoundTripsFramesOfEverySize(level: Int32) throws {
        let codec = try ZstdFrameCodec(level: level)
        var generator = SplitMix64(seed: UInt64(level))
        for size in [0, 1, 57, 4096, 300_000, 2 << 20, 1000] {
            let input = (0..<size).map { i in i % 5 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : UInt8(i % 11) }
            var frame = [UInt8](repeating: 0, count: ZstdFrameCodec.compressBound(size))
            let frameBytes = try input.withUnsafeBytes { source in
                try frame.withUnsafeMutableBytes { try codec.compress(source, into: $0) }
            }
            frame.removeSubrange(frameBytes...)
            #expect(try Zstd.decompress(frame, maxOutput: size) == input)
            var output = [UInt8](repeating: 0xAA, count: size)
            let produced = try frame.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { try codec.decompress(source, into: $0) }
            }
            #expect(produced == size)
            #expect(output == input)
        }
    }

    @Test func outputThatDoesNotFitIsRefusedAndCorruptInputIsAnError() throws {
        let codec = try ZstdFrameCodec(level: 1)
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 9) }
        let frame = try Zstd.compress(input, level: 1)
        var small = [UInt8](repeating: 0, count: input.count - 1)
        let tooSmall = #expect(throws: CompressionError.self) {
            try frame.withUnsafeBytes { source in try small.withUnsafeMutableBytes { try codec.decompress(source, into: $0) } }
        }
        #expect(tooSmall?.code == .outputTooLarge)
        var output = [UInt8](repeating: 0, count: input.count)
        for damaged in [Array(frame[0..<(frame.count / 2)]), Array("plainly not zstd".utf8)] {
            let error = #expect(throws: CompressionError.self) {
                try damaged.withUnsafeBytes { source in
                    try output.withUnsafeMutableBytes { try codec.decompress(source, into: $0) }
                }
            }
            #expect(error?.code == .corruptInput)
        }
        // The codec is still usable after errors.
        let produced = try frame.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try codec.decompress(source, into: $0) }
        }
        #expect(produced == input.count && output == input)
    }
}

/// A tiny deterministic generator so failures reproduce.
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
