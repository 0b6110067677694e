import CZstd
import Synchronization

/// zstd frames, one-shot and streaming.
public enum Zstd {
    public static let defaultLevel: Int32 = 3

    /// Compresses `input` into one zstd frame that records its content size.
    ///
    /// Contexts are reused (`ZSTD_compressCCtx` on a pooled context gives the same frame as `ZSTD_compress`):
    /// creating one per call cost more than compressing the small pages and segments a crawl writes by the
    /// thousand.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        guard let context = contexts.withLock({ $0.popLast() }).flatMap(OpaquePointer.init(bitPattern:)) ?? ZSTD_createCCtx()
        else {
            throw CompressionError(code: .codecFailure, codec: "zstd", detail: "ZSTD_createCCtx failed (out of memory)")
        }
        defer {
            let address = Int(bitPattern: context)
            let kept = contexts.withLock { pool -> Bool in
                guard pool.count < maxPooledContexts else { return false }
                pool.append(address)
                return true
            }
            if !kept { ZSTD_freeCCtx(context) }
        }
        var result = 0
        let output = [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { out, count in
            result = withCBytes(input) { src, n in ZSTD_compressCCtx(context, out.baseAddress, bound, src, n, level) }
            count = ZSTD_isError(result) != 0 ? 0 : result
        }
        guard ZSTD_isError(result) == 0 else { throw failure(result, "compress") }
        return output
    }

    /// Idle compression contexts (their addresses), at most `maxPooledContexts`: one per thread compressing at
    /// once is enough. A context is used by one caller at a time: it leaves the pool while in use.
    private static let contexts = Mutex<[Int]>([])
    private static let maxPooledContexts = 8

    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) throws -> [UInt8] {
        try input.withUnsafeBytes { buffer in try compress(buffer, level: level) }
    }

    /// Decompresses every frame in `input`. Output beyond `maxOutput` bytes is refused before it is allocated,
    /// so a forged content-size field cannot make us allocate.
    public static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        let declared = withCBytes(input) { src, n in ZSTD_getFrameContentSize(src, n) }
        if declared == ZSTD_CONTENTSIZE_ERROR {
            throw CompressionError(code: .corruptInput, codec: "zstd", detail: "not a zstd frame")
        }
        if declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > UInt64(maxOutput) {
            throw CompressionError(
                code: .outputTooLarge, codec: "zstd", detail: "frame declares \(declared) bytes, limit is \(maxOutput)")
        }
        let stream = ZstdDecompressor(maxOutput: maxOutput)
        var output: [UInt8] = []
        if declared != ZSTD_CONTENTSIZE_UNKNOWN { output.reserveCapacity(Int(declared)) }
        try stream.feed(input) { output.append(contentsOf: $0) }
        try stream.finish()
        return output
    }

    public static func decompress(_ input: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { buffer in try decompress(buffer, maxOutput: maxOutput) }
    }

    static func failure(_ code: Int, _ operation: String) -> CompressionError {
        let name = String(cString: ZSTD_getErrorName(code))
        let kind: CompressionError.Code =
            switch ZSTD_getErrorCode(code) {
            case ZSTD_error_memory_allocation, ZSTD_error_GENERIC: .codecFailure
            default: .corruptInput
            }
        return CompressionError(code: kind, codec: "zstd", detail: "\(operation): \(name)")
    }
}

/// Streams bytes into zstd frames; the compressed output is handed to a sink in chunks, so memory stays bounded.
/// Not thread-safe: one owner at a time.
public final class ZstdCompressor {
    private let stream: OpaquePointer
    private var chunk: [UInt8]

    public init(level: Int32 = Zstd.defaultLevel) {
        stream = ZSTD_createCStream()!
        ZSTD_initCStream(stream, level)
        chunk = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCStream(stream) }

    /// Compresses `input`, calling `sink` with whatever output is ready.
    public func write(
        _ input: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try withCBytes(input) { src, n in
            var inBuffer = ZSTD_inBuffer(src: src, size: n, pos: 0)
            while inBuffer.pos < inBuffer.size {
                try drain(sink) { out in ZSTD_compressStream2(stream, &out, &inBuffer, ZSTD_e_continue) }
            }
        }
    }

    public func write(_ input: [UInt8], to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try input.withUnsafeBytes { try write($0, to: sink) }
    }

    /// Ends the current frame; the compressor can start another one afterwards.
    public func finish(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = 1
        var empty = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while remaining != 0 {
            try drain(sink) { out in
                remaining = ZSTD_compressStream2(stream, &out, &empty, ZSTD_e_end)
                return remaining
            }
        }
    }

    private func drain(_ sink: (UnsafeRawBufferPointer) throws -> Void, _ step: (inout ZSTD_outBuffer) -> Int) throws {
        let capacity = chunk.count
        let (result, produced) = chunk.withUnsafeMutableBytes { raw in
            var out = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
            let result = step(&out)
            return (result, out.pos)
        }
        if ZSTD_isError(result) != 0 { throw Zstd.failure(result, "stream compress") }
        if produced > 0 { try chunk.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
    }
}

/// Streams zstd frames back into bytes, refusing to produce more than `maxOutput` bytes in total.
public final class ZstdDecompressor {
    private let stream: OpaquePointer
    private var chunk: [UInt8]
    private let maxOutput: Int
    private var produced = 0
    private var lastHint = 0

    public init(maxOutput: Int = .max) {
        stream = ZSTD_createDStream()!
        ZSTD_initDStream(stream)
        chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        self.maxOutput = maxOutput
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Decompresses `input`, calling `sink` with each decoded chunk.
    public func feed(
        _ input: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try withCBytes(input) { src, n in
            var inBuffer = ZSTD_inBuffer(src: src, size: n, pos: 0)
            while true {
                let capacity = chunk.count
                let (hint, count) = chunk.withUnsafeMutableBytes { raw in
                    var out = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
                    let hint = ZSTD_decompressStream(stream, &out, &inBuffer)
                    return (hint, out.pos)
                }
                if ZSTD_isError(hint) != 0 { throw Zstd.failure(hint, "decompress") }
                lastHint = hint
                produced += count
                if produced > maxOutput {
                    throw CompressionError(
                        code: .outputTooLarge, codec: "zstd", detail: "output exceeds the limit of \(maxOutput) bytes")
                }
                if count > 0 {
                    try chunk.withUnsafeBytes { raw in
                        try sink(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
                    }
                }
                // Done with this input once it is consumed and either a frame just ended (hint 0) or the
                // output buffer was not filled (nothing left to flush). Calling again after a frame's end
                // would start decoding a next frame from no input.
                if inBuffer.pos == inBuffer.size && (hint == 0 || count < capacity) { break }
            }
        }
    }

    /// Checks that the input ended on a frame boundary: a truncated stream is an error, not a short result.
    public func finish() throws {
        if lastHint != 0 {
            throw CompressionError(code: .corruptInput, codec: "zstd", detail: "input ends inside a frame (truncated)")
        }
    }
}

/// One compression and one decompression context for many frames written into and read from the caller's
/// buffers, so a spill writer compressing thousands of chunks allocates nothing per chunk. Not thread-safe: one
/// owner at a time.
public final class ZstdFrameCodec {
    public let level: Int32
    private let compression: OpaquePointer
    private let decompression: OpaquePointer

    public init(level: Int32 = Zstd.defaultLevel) throws {
        guard let compression = ZSTD_createCCtx() else {
            throw CompressionError(code: .codecFailure, codec: "zstd", detail: "ZSTD_createCCtx failed (out of memory)")
        }
        guard let decompression = ZSTD_createDCtx() else {
            ZSTD_freeCCtx(compression)
            throw CompressionError(code: .codecFailure, codec: "zstd", detail: "ZSTD_createDCtx failed (out of memory)")
        }
        self.level = level
        self.compression = compression
        self.decompression = decompression
    }

    deinit {
        ZSTD_freeCCtx(compression)
        ZSTD_freeDCtx(decompression)
    }

    /// The most bytes one frame of `count` input bytes can take.
    public static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `input` into one frame (recording its content size) at the start of `output`, which should hold
    /// `compressBound(input.count)` bytes; returns the frame's size.
    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let result = withCBytes(input) { src, n in
            ZSTD_compressCCtx(compression, output.baseAddress, output.count, src, n, level)
        }
        guard ZSTD_isError(result) == 0 else { throw Zstd.failure(result, "compress") }
        return result
    }

    /// Decompresses `input`, which must be whole frames, into `output`; returns the bytes produced. Output that
    /// does not fit is an error, never a partial result.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let result = withCBytes(input) { src, n in
            ZSTD_decompressDCtx(decompression, output.baseAddress, output.count, src, n)
        }
        guard ZSTD_isError(result) == 0 else {
            if ZSTD_getErrorCode(result) == ZSTD_error_dstSize_tooSmall {
                throw CompressionError(
                    code: .outputTooLarge, codec: "zstd", detail: "output exceeds the limit of \(output.count) bytes")
            }
            throw Zstd.failure(result, "decompress")
        }
        return result
    }
}
