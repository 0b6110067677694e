import CSnappy

/// Raw (unframed) snappy, the block format Parquet uses.
public enum Snappy {
    /// Compresses `input` into a raw snappy block.
    public static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = snappy_max_compressed_length(input.count)
        return [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { out, count in
            var outLength = bound
            let status = withCBytes(input) { src, n in
                out.withMemoryRebound(to: CChar.self) { dst in snappy_compress(src, n, dst.baseAddress!, &outLength) }
            }
            precondition(status == SNAPPY_OK, "snappy_compress cannot fail with a max-length buffer")
            count = outLength
        }
    }

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// The uncompressed length recorded in a raw snappy block's header.
    public static func uncompressedLength(_ input: UnsafeRawBufferPointer) throws -> Int {
        var length = 0
        let status = withCBytes(input) { src, n in snappy_uncompressed_length(src, n, &length) }
        guard status == SNAPPY_OK else {
            throw CompressionError(code: .corruptInput, codec: "snappy", detail: "unreadable length header")
        }
        return length
    }

    /// Decompresses a raw snappy block, refusing outputs larger than `maxOutput` bytes before allocating them.
    public static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        let length = try uncompressedLength(input)
        guard length <= maxOutput else {
            throw CompressionError(
                code: .outputTooLarge, codec: "snappy", detail: "block declares \(length) bytes, limit is \(maxOutput)")
        }
        var status = SNAPPY_OK
        let output = [UInt8](unsafeUninitializedCapacity: max(length, 1)) { out, count in
            var outLength = length
            status = withCBytes(input) { src, n in
                out.withMemoryRebound(to: CChar.self) { dst in snappy_uncompress(src, n, dst.baseAddress!, &outLength) }
            }
            count = status == SNAPPY_OK ? outLength : 0
        }
        guard status == SNAPPY_OK else {
            throw CompressionError(code: .corruptInput, codec: "snappy", detail: "block does not decode")
        }
        return output
    }

    public static func decompress(_ input: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { buffer in try decompress(buffer, maxOutput: maxOutput) }
    }
}

/// Calls `body` with a non-NULL base address even for an empty buffer: the C APIs may reject NULL at length 0.
@inline(__always)
func withCBytes<R>(
    _ input: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>, Int) throws -> R
) rethrows -> R {
    if let base = input.baseAddress, input.count > 0 {
        return try body(base.assumingMemoryBound(to: CChar.self), input.count)
    }
    var zero: CChar = 0
    return try withUnsafePointer(to: &zero) { pointer in try body(pointer, 0) }
}
