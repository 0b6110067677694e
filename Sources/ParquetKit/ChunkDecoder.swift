/// Decodes one column chunk (all its pages) into `ColumnValues`. Pure: works on the chunk's bytes.
/// Every count and length is checked against the bytes that remain and the limits before use.
struct ChunkDecoder {
    let column: ParquetColumn
    let codec: Int32
    let limits: ParquetReaderOptions

    // Dense (non-null) values, in row order.
    private var bools: [Bool] = []
    private var ints32: [Int32] = []
    private var ints64: [Int64] = []
    private var doubles: [Double] = []
    private var strings = ByteArrayColumn()
    private var validity: [Bool] = []
    private var nulls = 0

    // The chunk's dictionary, if any.
    private var dict32: [Int32]?
    private var dict64: [Int64]?
    private var dictDouble: [Double]?
    private var dictBytes: ByteArrayColumn?

    init(column: ParquetColumn, codec: Int32, limits: ParquetReaderOptions) {
        self.column = column
        self.codec = codec
        self.limits = limits
    }

    /// Decodes pages from `chunk` until `numValues` values (nulls included) are read.
    static func decode(
        _ chunk: [UInt8], numValues: Int, column: ParquetColumn, codec: Int32, limits: ParquetReaderOptions
    ) throws -> ColumnValues {
        var d = ChunkDecoder(column: column, codec: codec, limits: limits)
        return try d.run(chunk, numValues: numValues)
    }

    private mutating func run(_ chunk: [UInt8], numValues: Int) throws -> ColumnValues {
        var position = 0
        var read = 0
        var dataPages = 0
        while read < numValues {
            guard position < chunk.count else {
                throw ParquetError.corrupt(
                    "column \"\(column.name)\": chunk ends after \(read) of \(numValues) values")
            }
            var r = ThriftReader(chunk, from: position)
            let header = try PageHeaderMeta.decode(&r)
            let bodyStart = r.position
            let compressedSize = Int(header.compressedPageSize)
            guard compressedSize <= chunk.count - bodyStart else {
                throw ParquetError.corrupt(
                    "column \"\(column.name)\": page of \(compressedSize) bytes runs past the chunk end")
            }
            guard Int(header.uncompressedPageSize) <= limits.maxPageBytes else {
                throw ParquetError.corrupt(
                    "column \"\(column.name)\": page declares \(header.uncompressedPageSize) bytes, limit is \(limits.maxPageBytes)")
            }
            let body = bodyStart..<(bodyStart + compressedSize)
            position = body.upperBound
            switch header.type {
            case PageType.dictionaryPage:
                guard let h = header.dictionaryPage else { throw ParquetError.corrupt("dictionary page without its header") }
                guard dataPages == 0, dict32 == nil, dict64 == nil, dictDouble == nil, dictBytes == nil else {
                    throw ParquetError.corrupt("column \"\(column.name)\": dictionary page after data or a second one")
                }
                guard h.encoding == Encoding.plain || h.encoding == Encoding.plainDictionary else {
                    throw ParquetError.unsupported("dictionary page encoding \(Encoding.name(h.encoding))")
                }
                let bytes = try decompress(chunk, body, size: Int(header.uncompressedPageSize))
                try readDictionary(bytes, count: Int(h.numValues))
            case PageType.dataPage:
                guard let h = header.dataPage else { throw ParquetError.corrupt("data page without its header") }
                let count = Int(h.numValues)
                guard count >= 0, count <= numValues - read else {
                    throw ParquetError.corrupt(
                        "column \"\(column.name)\": page holds \(count) values, only \(numValues - read) remain")
                }
                let bytes = try decompress(chunk, body, size: Int(header.uncompressedPageSize))
                try bytes.withUnsafeBytes { raw in
                    var p = 0
                    var present = count
                    if column.nullable {
                        guard h.definitionLevelEncoding == Encoding.rle else {
                            throw ParquetError.unsupported("definition level encoding \(Encoding.name(h.definitionLevelEncoding))")
                        }
                        guard raw.count >= 4 else { throw ParquetError.corrupt("definition levels truncated") }
                        let length = Int(raw.loadUnaligned(as: UInt32.self).littleEndian)
                        guard length <= raw.count - 4 else { throw ParquetError.corrupt("definition levels run past the page") }
                        present = try readLevels(raw, start: 4, end: 4 + length, count: count)
                        p = 4 + length
                    }
                    try readValues(raw, start: p, count: present, encoding: h.encoding, booleanPrefixed: true)
                }
                read += count
                dataPages += 1
            case PageType.dataPageV2:
                guard let h = header.dataPageV2 else { throw ParquetError.corrupt("data page v2 without its header") }
                let count = Int(h.numValues)
                let nullsInPage = Int(h.numNulls)
                let defLength = Int(h.definitionLevelsByteLength)
                let repLength = Int(h.repetitionLevelsByteLength)
                guard count >= 0, count <= numValues - read, nullsInPage >= 0, nullsInPage <= count,
                    defLength >= 0, repLength >= 0, defLength + repLength <= compressedSize,
                    defLength + repLength <= Int(header.uncompressedPageSize)
                else {
                    throw ParquetError.corrupt("column \"\(column.name)\": inconsistent data page v2 header")
                }
                guard repLength == 0 else { throw ParquetError.unsupported("repetition levels (nested data)") }
                let levels = body.lowerBound..<(body.lowerBound + defLength)
                let valuesRange = levels.upperBound..<body.upperBound
                let valueSize = Int(header.uncompressedPageSize) - defLength
                let values: [UInt8] =
                    h.isCompressed
                    ? try decompress(chunk, valuesRange, size: valueSize)
                    : try {
                        guard valuesRange.count == valueSize else {
                            throw ParquetError.corrupt("uncompressed v2 page size mismatch")
                        }
                        return Array(chunk[valuesRange])
                    }()
                var present = count
                if column.nullable {
                    present = try chunk.withUnsafeBytes { raw in
                        try readLevels(raw, start: levels.lowerBound, end: levels.upperBound, count: count)
                    }
                    guard count - present == nullsInPage else {
                        throw ParquetError.corrupt("v2 page num_nulls \(nullsInPage) disagrees with its levels")
                    }
                } else if nullsInPage != 0 {
                    throw ParquetError.corrupt("required column \"\(column.name)\" has a page with nulls")
                }
                try values.withUnsafeBytes { raw in
                    try readValues(raw, start: 0, count: present, encoding: h.encoding, booleanPrefixed: true)
                }
                read += count
                dataPages += 1
            case PageType.indexPage:
                continue
            default:
                throw ParquetError.corrupt("unknown page type \(header.type)")
            }
        }
        return finish(rows: numValues)
    }

    private func decompress(_ chunk: [UInt8], _ range: Range<Int>, size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw ParquetError.corrupt("negative page size") }
        return try chunk.withUnsafeBytes { raw in
            try ParquetCodec.decompress(codec, UnsafeRawBufferPointer(rebasing: raw[range]), size: size)
        }
    }

    /// Reads `count` definition levels (bit width 1), appending validity; returns the non-null count.
    private mutating func readLevels(_ raw: UnsafeRawBufferPointer, start: Int, end: Int, count: Int) throws -> Int {
        var levels = [UInt32](repeating: 0, count: count)
        try levels.withUnsafeMutableBufferPointer { out in
            if count > 0 {
                try RLEHybrid.decode(raw, start: start, end: end, bitWidth: 1, count: count, into: out.baseAddress!)
            }
        }
        var present = 0
        validity.reserveCapacity(validity.count + count)
        for l in levels {
            guard l <= 1 else { throw ParquetError.corrupt("definition level \(l) in a flat column") }
            validity.append(l == 1)
            present += Int(l)
        }
        nulls += count - present
        return present
    }

    private mutating func readDictionary(_ bytes: [UInt8], count: Int) throws {
        guard count >= 0 else { throw ParquetError.corrupt("negative dictionary size") }
        try bytes.withUnsafeBytes { raw in
            switch column.type {
            case .boolean:
                throw ParquetError.unsupported("dictionary-encoded booleans")
            case .int32, .date:
                dict32 = try Self.plainFixed(raw, start: 0, count: count, as: Int32.self)
            case .int64, .timestamp:
                dict64 = try Self.plainFixed(raw, start: 0, count: count, as: Int64.self)
            case .double:
                dictDouble = try Self.plainFixed(raw, start: 0, count: count, as: Double.self)
            case .string:
                var d = ByteArrayColumn()
                _ = try Self.plainByteArrays(raw, start: 0, count: count, into: &d)
                dictBytes = d
            }
        }
    }

    private static func plainFixed<T: PlainFixed>(
        _ raw: UnsafeRawBufferPointer, start: Int, count: Int, as: T.Type
    ) throws -> [T] {
        guard count <= (raw.count - start) / T.byteWidth else {
            throw ParquetError.corrupt("PLAIN data holds fewer than \(count) values")
        }
        return [T](unsafeUninitializedCapacity: count) { out, n in
            if count > 0 {
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(
                    from: raw.baseAddress! + start, byteCount: count * T.byteWidth)
            }
            n = count
        }
    }

    private static func plainByteArrays(
        _ raw: UnsafeRawBufferPointer, start: Int, count: Int, into out: inout ByteArrayColumn
    ) throws -> Int {
        guard count <= (raw.count - start) / 4 else {
            throw ParquetError.corrupt("PLAIN byte arrays: \(count) values cannot fit in \(raw.count - start) bytes")
        }
        var p = start
        out.reserveCapacity(values: out.count + count, bytes: out.bytes.count + (raw.count - start) - 4 * count)
        for _ in 0..<count {
            guard raw.count - p >= 4 else { throw ParquetError.corrupt("PLAIN byte array length truncated") }
            let n = Int(raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
            p += 4
            guard n <= raw.count - p else { throw ParquetError.corrupt("PLAIN byte array of \(n) bytes runs past the page") }
            out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[p..<(p + n)]))
            p += n
        }
        return p
    }

    private mutating func readValues(
        _ raw: UnsafeRawBufferPointer, start: Int, count: Int, encoding: Int32, booleanPrefixed: Bool
    ) throws {
        switch encoding {
        case Encoding.plain:
            switch column.type {
            case .boolean:
                guard count <= (raw.count - start) * 8 else { throw ParquetError.corrupt("PLAIN booleans truncated") }
                bools.reserveCapacity(bools.count + count)
                for i in 0..<count {
                    let byte = raw[start + i >> 3]
                    bools.append(byte >> UInt8(i & 7) & 1 == 1)
                }
            case .int32, .date: ints32 += try Self.plainFixed(raw, start: start, count: count, as: Int32.self)
            case .int64, .timestamp: ints64 += try Self.plainFixed(raw, start: start, count: count, as: Int64.self)
            case .double: doubles += try Self.plainFixed(raw, start: start, count: count, as: Double.self)
            case .string: _ = try Self.plainByteArrays(raw, start: start, count: count, into: &strings)
            }
        case Encoding.rleDictionary, Encoding.plainDictionary:
            guard count > 0 else { return }
            guard start < raw.count else { throw ParquetError.corrupt("dictionary indices missing their bit width") }
            let bitWidth = Int(raw[start])
            var indices = [UInt32](repeating: 0, count: count)
            try indices.withUnsafeMutableBufferPointer { out in
                try RLEHybrid.decode(raw, start: start + 1, end: raw.count, bitWidth: bitWidth, count: count, into: out.baseAddress!)
            }
            try gather(indices)
        case Encoding.rle where column.type == .boolean:
            // RLE booleans carry a u32 length prefix (pyarrow writes these in v2 pages).
            guard raw.count - start >= 4 else { throw ParquetError.corrupt("RLE boolean length truncated") }
            let length = Int(raw.loadUnaligned(fromByteOffset: start, as: UInt32.self).littleEndian)
            guard length <= raw.count - start - 4 else { throw ParquetError.corrupt("RLE booleans run past the page") }
            var values = [UInt32](repeating: 0, count: count)
            try values.withUnsafeMutableBufferPointer { out in
                if count > 0 {
                    try RLEHybrid.decode(raw, start: start + 4, end: start + 4 + length, bitWidth: 1, count: count, into: out.baseAddress!)
                }
            }
            bools.reserveCapacity(bools.count + count)
            for v in values { bools.append(v == 1) }
        default:
            throw ParquetError.unsupported("column \"\(column.name)\": encoding \(Encoding.name(encoding))")
        }
    }

    private mutating func gather(_ indices: [UInt32]) throws {
        func check(_ size: Int) throws {
            for i in indices where Int(i) >= size {
                throw ParquetError.corrupt("dictionary index \(i) out of range (dictionary has \(size) entries)")
            }
        }
        switch column.type {
        case .boolean:
            throw ParquetError.unsupported("dictionary-encoded booleans")
        case .int32, .date:
            guard let d = dict32 else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            ints32.reserveCapacity(ints32.count + indices.count)
            for i in indices { ints32.append(d[Int(i)]) }
        case .int64, .timestamp:
            guard let d = dict64 else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            ints64.reserveCapacity(ints64.count + indices.count)
            for i in indices { ints64.append(d[Int(i)]) }
        case .double:
            guard let d = dictDouble else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            doubles.reserveCapacity(doubles.count + indices.count)
            for i in indices { doubles.append(d[Int(i)]) }
        case .string:
            guard let d = dictBytes else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            d.bytes.withUnsafeBytes { raw in
                for i in indices {
                    let e = Int(i)
                    strings.append(bytes: UnsafeRawBufferPointer(rebasing: raw[d.offsets[e]..<d.offsets[e + 1]]))
                }
            }
        }
    }

    /// Scatters the dense values into one slot per row, with placeholders for nulls.
    private mutating func finish(rows: Int) -> ColumnValues {
        let mask: [Bool]? = nulls > 0 ? validity : nil
        func spread<T>(_ dense: [T], zero: T) -> [T] {
            guard let mask else { return dense }
            var result = [T](repeating: zero, count: rows)
            var k = 0
            for i in 0..<rows where mask[i] {
                result[i] = dense[k]
                k += 1
            }
            return result
        }
        switch column.type {
        case .boolean: return ColumnValues(.boolean(spread(bools, zero: false)), validity: mask)
        case .int32, .date: return ColumnValues(.int32(spread(ints32, zero: 0)), validity: mask)
        case .int64, .timestamp: return ColumnValues(.int64(spread(ints64, zero: 0)), validity: mask)
        case .double: return ColumnValues(.double(spread(doubles, zero: 0)), validity: mask)
        case .string:
            guard let mask else { return ColumnValues(.byteArray(strings)) }
            var offsets = [Int]()
            offsets.reserveCapacity(rows + 1)
            offsets.append(0)
            var k = 0
            for i in 0..<rows {
                if mask[i] { k += 1 }
                offsets.append(strings.offsets[k])
            }
            return ColumnValues(.byteArray(ByteArrayColumn(bytes: strings.bytes, offsets: offsets)), validity: mask)
        }
    }
}
