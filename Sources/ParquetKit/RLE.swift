/// The RLE / bit-packing hybrid (parquet-format `Encodings.md`), used for definition levels, dictionary
/// indices and RLE booleans.
enum RLEHybrid {
    /// Bits needed to represent `maxValue` (0 for 0).
    @inline(__always) static func bitWidth(_ maxValue: UInt32) -> Int { maxValue == 0 ? 0 : 32 - maxValue.leadingZeroBitCount }

    /// Appends `values` encoded at `bitWidth` to `out`, with no length prefix. Runs of 8 or more equal values
    /// become RLE runs; everything else is bit-packed in groups of 8.
    static func encode(_ values: UnsafeBufferPointer<UInt32>, bitWidth: Int, into out: inout ByteWriter) {
        let n = values.count
        let byteWidth = (bitWidth + 7) / 8
        var i = 0
        while i < n {
            let v = values[i]
            var j = i + 1
            while j < n && values[j] == v { j += 1 }
            if j - i >= 8 || j == n {
                out.appendVarint(UInt64(j - i) << 1)
                var value = v
                for _ in 0..<byteWidth {
                    out.append(UInt8(truncatingIfNeeded: value))
                    value >>= 8
                }
                i = j
                continue
            }
            // Bit-pack whole groups until a run of 8 equal values starts on a group boundary, or the data ends.
            let start = i
            var end = i
            while end < n {
                end = min(end + 8, n)
                if end + 8 <= n {
                    let first = values[end]
                    var same = true
                    for k in 1..<8 where values[end + k] != first {
                        same = false
                        break
                    }
                    if same { break }
                }
            }
            let groups = (end - start + 7) / 8
            out.appendVarint(UInt64(groups) << 1 | 1)
            bitPack(values, from: start, to: end, groups: groups, bitWidth: bitWidth, into: &out)
            i = end
        }
    }

    /// Packs `values[from..<to]` LSB-first, zero-padding to `groups × 8` values.
    @inline(__always)
    static func bitPack(
        _ values: UnsafeBufferPointer<UInt32>, from: Int, to: Int, groups: Int, bitWidth: Int,
        into out: inout ByteWriter
    ) {
        let byteCount = groups * bitWidth
        guard byteCount > 0 else { return }
        out.appendUninitialized(count: byteCount) { raw in
            let dst = raw.assumingMemoryBound(to: UInt8.self)
            var acc: UInt64 = 0
            var bits = 0
            var o = 0
            let w = UInt64(bitWidth)
            for k in from..<(from + groups * 8) {
                let v = k < to ? UInt64(values[k]) : 0
                acc |= v << UInt64(bits)
                bits += Int(w)
                while bits >= 8 {
                    dst[o] = UInt8(truncatingIfNeeded: acc)
                    o += 1
                    acc >>= 8
                    bits -= 8
                }
            }
            // 8 values × bitWidth bits is a whole number of bytes, so nothing remains in `acc`.
        }
    }

    /// Decodes exactly `count` values from `bytes[start..<end]` into `out`. Errors if the data runs short or
    /// a run is malformed; never reads outside the range.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, start: Int, end: Int, bitWidth: Int, count: Int,
        into out: UnsafeMutablePointer<UInt32>
    ) throws {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw ParquetError.corrupt("RLE bit width \(bitWidth) > 32") }
        guard end <= bytes.count, start <= end else { throw ParquetError.corrupt("RLE data out of bounds") }
        let base = bytes.baseAddress!
        var p = start
        var produced = 0
        let byteWidth = (bitWidth + 7) / 8
        let mask: UInt64 = bitWidth == 32 ? 0xFFFF_FFFF : (UInt64(1) << UInt64(bitWidth)) - 1
        while produced < count {
            // Run header varint.
            var header: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard p < end else { throw ParquetError.corrupt("RLE data ends after \(produced) of \(count) values") }
                let b = base.load(fromByteOffset: p, as: UInt8.self)
                p += 1
                header |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                guard shift < 64 else { throw ParquetError.corrupt("RLE run header varint too long") }
            }
            if header & 1 == 0 {
                let runLength = header >> 1
                guard runLength > 0 else { throw ParquetError.corrupt("RLE run of length 0") }
                guard p + byteWidth <= end else { throw ParquetError.corrupt("RLE run value truncated") }
                var value: UInt32 = 0
                for b in 0..<byteWidth {
                    value |= UInt32(base.load(fromByteOffset: p + b, as: UInt8.self)) << UInt32(8 * b)
                }
                p += byteWidth
                guard UInt64(value) <= mask else { throw ParquetError.corrupt("RLE run value wider than \(bitWidth) bits") }
                let take = Int(min(runLength, UInt64(count - produced)))
                (out + produced).initialize(repeating: value, count: take)
                produced += take
            } else {
                let groups = header >> 1
                guard groups > 0, groups <= UInt64(Int32.max) else {
                    throw ParquetError.corrupt("bit-packed run of \(groups) groups")
                }
                let declaredBytes = Int(groups) * bitWidth
                let available = min(declaredBytes, end - p)
                let valuesInRun = Int(groups) * 8
                let decodable = bitWidth == 0 ? valuesInRun : min(valuesInRun, available * 8 / bitWidth)
                let take = min(decodable, count - produced)
                if take < min(valuesInRun, count - produced) {
                    throw ParquetError.corrupt("bit-packed run truncated after \(produced + take) of \(count) values")
                }
                if bitWidth == 0 {
                    (out + produced).initialize(repeating: 0, count: take)
                } else {
                    var bitPos = 0
                    let runBase = p
                    for k in 0..<take {
                        let byteIndex = runBase + (bitPos >> 3)
                        let bitShift = UInt64(bitPos & 7)
                        var word: UInt64 = 0
                        if byteIndex + 8 <= end {
                            word = UInt64(littleEndian: (base + byteIndex).loadUnaligned(as: UInt64.self))
                        } else {
                            var b = 0
                            while byteIndex + b < end && b < 8 {
                                word |= UInt64(base.load(fromByteOffset: byteIndex + b, as: UInt8.self)) << UInt64(8 * b)
                                b += 1
                            }
                        }
                        out[produced + k] = UInt32(truncatingIfNeeded: (word >> bitShift) & mask)
                        bitPos += bitWidth
                    }
                }
                produced += take
                p += available
            }
        }
    }
}
