import CompressionKit

/// The page compression codec of a file.
public struct ParquetCodec: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable, Sendable { case none, snappy, zstd }
    let kind: Kind
    /// zstd level (ignored by the other codecs).
    public let level: Int32

    public static let uncompressed = ParquetCodec(kind: .none, level: 0)
    public static let snappy = ParquetCodec(kind: .snappy, level: 0)
    /// zstd at level 3, our default.
    public static let zstd = ParquetCodec(kind: .zstd, level: 3)
    public static func zstd(level: Int32) -> ParquetCodec { ParquetCodec(kind: .zstd, level: level) }

    var thriftValue: Int32 {
        switch kind {
        case .none: 0
        case .snappy: 1
        case .zstd: 6
        }
    }

    public var description: String {
        switch kind {
        case .none: "UNCOMPRESSED"
        case .snappy: "SNAPPY"
        case .zstd: "ZSTD(level \(level))"
        }
    }

    func compress(_ body: [UInt8]) throws -> [UInt8] {
        switch kind {
        case .none: return body
        case .snappy: return Snappy.compress(body)
        case .zstd:
            do { return try Zstd.compress(body, level: level) } catch {
                throw ParquetError(.compression, "zstd compression failed: \(error)")
            }
        }
    }

    /// Decompresses a page body to exactly `size` bytes (the page header's uncompressed size).
    static func decompress(_ codec: Int32, _ input: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        do {
            let output: [UInt8]
            switch codec {
            case 0: output = Array(input)
            case 1: output = try Snappy.decompress(input, maxOutput: size)
            case 6: output = try Zstd.decompress(input, maxOutput: size)
            default:
                throw ParquetError.unsupported("compression codec \(codecName(codec))")
            }
            guard output.count == size else {
                throw ParquetError.corrupt("page decompresses to \(output.count) bytes, header says \(size)")
            }
            return output
        } catch let error as CompressionError {
            throw ParquetError(.compression, "\(codecName(codec)) page does not decompress: \(error)")
        }
    }

    static func codecName(_ c: Int32) -> String {
        switch c {
        case 0: "UNCOMPRESSED"
        case 1: "SNAPPY"
        case 2: "GZIP"
        case 3: "LZO"
        case 4: "BROTLI"
        case 5: "LZ4"
        case 6: "ZSTD"
        case 7: "LZ4_RAW"
        default: "codec \(c)"
        }
    }
}
