/// Decodes one column chunk (all its pages) into `ColumnValues`. Pure: works on the chunk's bytes.
/// Every count and length is checked against the bytes that remain and the limits before use.
struct ChunkDecoder {
    let column: ParquetColumn
    let layout: LeafLayout
    /// The type of the stored values (a list's element type).
    let valueType: ParquetType
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
    // A list column's levels, kept until `finish` turns them into offsets.
    private var repetitionLevels: [UInt8] = []
    private var definitionLevels: [UInt8] = []

    /// Sliced reads keep dictionary indices here and look values up only for the rows handed out, so a page of
    /// many rows never decodes whole (`takeRows`).
    var deferDictionaryLookups = false
    private var pendingIndices: [UInt32] = []

    // The chunk's dictionary, if any.
    private var dict32: [Int32]?
    private var dict64: [Int64]?
    private var dictDouble: [Double]?
    private var dictBytes: ByteArrayColumn?

    init(column: ParquetColumn, layout: LeafLayout, codec: Int32, limits: ParquetReaderOptions) {
        self.column = column
        self.layout = layout
        self.valueType = column.type.valueType
        self.codec = codec
        self.limits = limits
    }

    /// Decodes pages from `chunk` until `numValues` level entries (nulls included; list elements for a list)
    /// are read, producing `rows` rows.
    static func decode(
        _ chunk: [UInt8], numValues: Int, rows: Int, column: ParquetColumn, layout: LeafLayout, codec: Int32,
        limits: ParquetReaderOptions
    ) throws -> ColumnValues {
        var d = ChunkDecoder(column: column, layout: layout, codec: codec, limits: limits)
        return try d.run(chunk, numValues: numValues, rows: rows)
    }

    private mutating func run(_ chunk: [UInt8], numValues: Int, rows: Int) throws -> ColumnValues {
        var cursor = PageCursor()
        while cursor.read < numValues { try decodePage(chunk, numValues: numValues, cursor: &cursor) }
        return try finish(rows: rows)
    }

    /// Where page decoding stands in a chunk.
    struct PageCursor {
        var position = 0
        var read = 0
        var dataPages = 0
    }

    /// Decodes the next page of `chunk` into the buffered values.
    mutating func decodePage(_ chunk: [UInt8], numValues: Int, cursor: inout PageCursor) throws {
        do {
            let read = cursor.read
            let dataPages = cursor.dataPages
            guard cursor.position < chunk.count else {
                throw ParquetError.corrupt(
                    "column \"\(column.name)\": chunk ends after \(read) of \(numValues) values")
            }
            var r = ThriftReader(chunk, from: cursor.position)
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
            cursor.position = body.upperBound
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
                guard h.definitionLevelEncoding == Encoding.rle || layout.maxDefinition == 0 else {
                    throw ParquetError.unsupported("definition level encoding \(Encoding.name(h.definitionLevelEncoding))")
                }
                try bytes.withUnsafeBytes { raw in
                    var p = 0
                    var repetition: [UInt32]?
                    var definition: [UInt32]?
                    if layout.maxRepetition > 0 {
                        (repetition, p) = try Self.prefixedLevels(raw, at: p, count: count, maxLevel: layout.maxRepetition)
                    }
                    if layout.maxDefinition > 0 {
                        (definition, p) = try Self.prefixedLevels(raw, at: p, count: count, maxLevel: layout.maxDefinition)
                    }
                    let present = try absorb(repetition: repetition, definition: definition, count: count)
                    try readValues(raw, start: p, count: present, encoding: h.encoding)
                }
                cursor.read += count
                cursor.dataPages += 1
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
                guard repLength == 0 || layout.maxRepetition > 0, defLength == 0 || layout.maxDefinition > 0 else {
                    throw ParquetError.corrupt("column \"\(column.name)\": levels present that the schema does not allow")
                }
                let repRange = body.lowerBound..<(body.lowerBound + repLength)
                let defRange = repRange.upperBound..<(repRange.upperBound + defLength)
                let valuesRange = defRange.upperBound..<body.upperBound
                let valueSize = Int(header.uncompressedPageSize) - defLength - repLength
                let values: [UInt8] =
                    h.isCompressed
                    ? try decompress(chunk, valuesRange, size: valueSize)
                    : try {
                        guard valuesRange.count == valueSize else {
                            throw ParquetError.corrupt("uncompressed v2 page size mismatch")
                        }
                        return Array(chunk[valuesRange])
                    }()
                let (repetition, definition) = try chunk.withUnsafeBytes { raw in
                    (
                        layout.maxRepetition > 0
                            ? try Self.levels(raw, repRange, count: count, maxLevel: layout.maxRepetition) : nil,
                        layout.maxDefinition > 0
                            ? try Self.levels(raw, defRange, count: count, maxLevel: layout.maxDefinition) : nil
                    )
                }
                let present = try absorb(repetition: repetition, definition: definition, count: count)
                if layout.maxRepetition == 0 && count - present != nullsInPage {
                    throw ParquetError.corrupt("v2 page num_nulls \(nullsInPage) disagrees with its levels")
                }
                try values.withUnsafeBytes { raw in
                    try readValues(raw, start: 0, count: present, encoding: h.encoding)
                }
                cursor.read += count
                cursor.dataPages += 1
            case PageType.indexPage:
                return
            default:
                throw ParquetError.corrupt("unknown page type \(header.type)")
            }
        }
    }

    /// Dense values decoded so far (not counting deferred dictionary indices).
    private var denseCount: Int {
        switch valueType {
        case .boolean: return bools.count
        case .int32, .date: return ints32.count
        case .int64, .timestamp: return ints64.count
        case .double: return doubles.count
        case .string, .list: return strings.count
        }
    }

    // Sliced reads: how much of the buffered levels, values and deferred indices was handed out already (dropped
    // from the front once it is half of a buffer, so handing out slices stays linear).
    private var validityStart = 0
    private var denseStart = 0
    private var pendingStart = 0

    /// Looks up the next `count` deferred dictionary indices.
    private mutating func gatherPending(_ count: Int) throws {
        guard count > 0 else { return }
        try gather(Array(pendingIndices[pendingStart..<(pendingStart + count)]))
        pendingStart += count
        if pendingStart == pendingIndices.count || pendingStart > 1 << 16 && pendingStart * 2 > pendingIndices.count {
            pendingIndices.removeFirst(pendingStart)
            pendingStart = 0
        }
    }

    /// Rows buffered and not handed out yet (columns without repetition only).
    var bufferedRows: Int {
        layout.maxDefinition > 0
            ? validity.count - validityStart : denseCount - denseStart + pendingIndices.count - pendingStart
    }

    /// Bytes held for rows not handed out yet: levels, decoded values, deferred indices and the dictionary.
    var heldBytes: Int {
        var total = (validity.count - validityStart) + (pendingIndices.count - pendingStart) * 4
        let dense = denseCount - denseStart
        switch valueType {
        case .boolean: total += dense
        case .int32, .date: total += dense * 4
        case .int64, .timestamp, .double: total += dense * 8
        case .string, .list: total += strings.bytes.count + strings.offsets.count * 8
        }
        total += (dict32?.count ?? 0) * 4 + (dict64?.count ?? 0) * 8 + (dictDouble?.count ?? 0) * 8
        if let dictBytes { total += dictBytes.bytes.count + dictBytes.offsets.count * 8 }
        return total
    }

    /// Hands out the next `rows` buffered rows as a column (exactly sized) and keeps the rest.
    mutating func takeRows(_ rows: Int) throws -> ColumnValues {
        precondition(layout.maxRepetition == 0 && rows <= bufferedRows)
        var prefix = ChunkDecoder(column: column, layout: layout, codec: codec, limits: limits)
        var present = rows
        if layout.maxDefinition > 0 {
            present = 0
            let range = validityStart..<(validityStart + rows)
            for index in range where validity[index] { present += 1 }
            prefix.validity = Array(validity[range])
            validityStart += rows
            if validityStart == validity.count || validityStart * 2 > validity.count {
                validity.removeFirst(validityStart)
                validityStart = 0
            }
            prefix.nulls = rows - present
            nulls -= rows - present
        }
        if denseCount - denseStart < present { try gatherPending(present - (denseCount - denseStart)) }
        let range = denseStart..<(denseStart + present)
        denseStart += present
        let compact = denseStart == denseCount || denseStart * 2 > denseCount
        func split<T>(_ values: inout [T]) -> [T] {
            let head = Array(values[range])
            if compact { values.removeFirst(denseStart) }
            return head
        }
        switch valueType {
        case .boolean: prefix.bools = split(&bools)
        case .int32, .date: prefix.ints32 = split(&ints32)
        case .int64, .timestamp: prefix.ints64 = split(&ints64)
        case .double: prefix.doubles = split(&doubles)
        case .string, .list:
            var head = ByteArrayColumn()
            head.append(contentsOf: strings, range: range)
            prefix.strings = head
            if compact {
                var rest = ByteArrayColumn()
                rest.append(contentsOf: strings, range: denseStart..<strings.count)
                strings = rest
            }
        }
        if compact { denseStart = 0 }
        return try prefix.finish(rows: rows)
    }

    /// Levels with a u32 length prefix (data page v1); returns them and the offset after them.
    private static func prefixedLevels(
        _ raw: UnsafeRawBufferPointer, at p: Int, count: Int, maxLevel: Int
    ) throws -> ([UInt32], Int) {
        guard raw.count - p >= 4 else { throw ParquetError.corrupt("levels length truncated") }
        let length = Int(raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
        guard length <= raw.count - p - 4 else { throw ParquetError.corrupt("levels run past the page") }
        return (try levels(raw, (p + 4)..<(p + 4 + length), count: count, maxLevel: maxLevel), p + 4 + length)
    }

    /// `count` RLE-hybrid levels from `range`, each checked to be ≤ `maxLevel`.
    private static func levels(
        _ raw: UnsafeRawBufferPointer, _ range: Range<Int>, count: Int, maxLevel: Int
    ) throws -> [UInt32] {
        var levels = [UInt32](repeating: 0, count: count)
        try levels.withUnsafeMutableBufferPointer { out in
            if count > 0 {
                try RLEHybrid.decode(
                    raw, start: range.lowerBound, end: range.upperBound, bitWidth: RLEHybrid.bitWidth(UInt32(maxLevel)),
                    count: count, into: out.baseAddress!)
            }
        }
        for l in levels where l > maxLevel { throw ParquetError.corrupt("level \(l) exceeds the maximum \(maxLevel)") }
        return levels
    }

    /// Records a page's levels; returns how many values the page stores (entries at the maximum definition level).
    private mutating func absorb(repetition: [UInt32]?, definition: [UInt32]?, count: Int) throws -> Int {
        guard let definition else { return count }
        let maxDefinition = UInt32(layout.maxDefinition)
        var present = 0
        if let repetition {
            repetitionLevels.reserveAdditional(count)
            definitionLevels.reserveAdditional(count)
            let emptyLevel = UInt32(column.nullable ? 1 : 0)
            for i in 0..<count {
                let d = definition[i]
                if d == maxDefinition {
                    present += 1
                } else if d > emptyLevel {
                    throw ParquetError.unsupported("column \"\(column.name)\": null list elements")
                }
                repetitionLevels.append(UInt8(repetition[i]))
                definitionLevels.append(UInt8(d))
            }
        } else {
            validity.reserveAdditional(count)
            for d in definition {
                validity.append(d == maxDefinition)
                present += Int(d)
            }
            nulls += count - present
        }
        return present
    }

    private func decompress(_ chunk: [UInt8], _ range: Range<Int>, size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw ParquetError.corrupt("negative page size") }
        return try chunk.withUnsafeBytes { raw in
            try ParquetCodec.decompress(codec, UnsafeRawBufferPointer(rebasing: raw[range]), size: size)
        }
    }

    private mutating func readDictionary(_ bytes: [UInt8], count: Int) throws {
        guard count >= 0 else { throw ParquetError.corrupt("negative dictionary size") }
        try bytes.withUnsafeBytes { raw in
            switch valueType {
            case .boolean, .list:
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

    /// Appends `count` PLAIN values straight from the page (no intermediate array).
    private static func appendPlainFixed<T: PlainFixed>(
        _ raw: UnsafeRawBufferPointer, start: Int, count: Int, to values: inout [T]
    ) throws {
        guard count <= (raw.count - start) / T.byteWidth else {
            throw ParquetError.corrupt("PLAIN data holds fewer than \(count) values")
        }
        guard count > 0 else { return }
        // Page offsets are not aligned for T, so copy bytes rather than viewing them as T.
        let old = values.count
        values.append(contentsOf: repeatElement(T(keyBits: 0), count: count))
        values.withUnsafeMutableBytes { dst in
            (dst.baseAddress! + old * T.byteWidth).copyMemory(from: raw.baseAddress! + start, byteCount: count * T.byteWidth)
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
        _ raw: UnsafeRawBufferPointer, start: Int, count: Int, encoding: Int32
    ) throws {
        if encoding != Encoding.rleDictionary, encoding != Encoding.plainDictionary {
            try gatherPending(pendingIndices.count - pendingStart)
        }
        switch encoding {
        case Encoding.plain:
            switch valueType {
            case .boolean:
                guard count <= (raw.count - start) * 8 else { throw ParquetError.corrupt("PLAIN booleans truncated") }
                bools.reserveAdditional(count)
                for i in 0..<count {
                    let byte = raw[start + i >> 3]
                    bools.append(byte >> UInt8(i & 7) & 1 == 1)
                }
            case .int32, .date: try Self.appendPlainFixed(raw, start: start, count: count, to: &ints32)
            case .int64, .timestamp: try Self.appendPlainFixed(raw, start: start, count: count, to: &ints64)
            case .double: try Self.appendPlainFixed(raw, start: start, count: count, to: &doubles)
            case .string: _ = try Self.plainByteArrays(raw, start: start, count: count, into: &strings)
            case .list: preconditionFailure("a value type is never a list")
            }
        case Encoding.rleDictionary, Encoding.plainDictionary:
            guard count > 0 else { return }
            guard start < raw.count else { throw ParquetError.corrupt("dictionary indices missing their bit width") }
            let bitWidth = Int(raw[start])
            var indices = [UInt32](repeating: 0, count: count)
            try indices.withUnsafeMutableBufferPointer { out in
                try RLEHybrid.decode(raw, start: start + 1, end: raw.count, bitWidth: bitWidth, count: count, into: out.baseAddress!)
            }
            if deferDictionaryLookups {
                pendingIndices.append(contentsOf: indices)
                return
            }
            try gather(indices)
        case Encoding.rle where valueType == .boolean:
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
            bools.reserveAdditional(count)
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
        switch valueType {
        case .boolean, .list:
            throw ParquetError.unsupported("dictionary-encoded booleans")
        case .int32, .date:
            guard let d = dict32 else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            ints32.reserveAdditional(indices.count)
            for i in indices { ints32.append(d[Int(i)]) }
        case .int64, .timestamp:
            guard let d = dict64 else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            ints64.reserveAdditional(indices.count)
            for i in indices { ints64.append(d[Int(i)]) }
        case .double:
            guard let d = dictDouble else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            doubles.reserveAdditional(indices.count)
            for i in indices { doubles.append(d[Int(i)]) }
        case .string:
            guard let d = dictBytes else { throw ParquetError.corrupt("dictionary-encoded page without a dictionary") }
            try check(d.count)
            var total = 0
            for i in indices { total += d.offsets[Int(i) + 1] - d.offsets[Int(i)] }
            strings.reserveCapacity(values: strings.count + indices.count, bytes: strings.bytes.count + total)
            d.bytes.withUnsafeBytes { raw in
                for i in indices {
                    let e = Int(i)
                    strings.append(bytes: UnsafeRawBufferPointer(rebasing: raw[d.offsets[e]..<d.offsets[e + 1]]))
                }
            }
        }
    }

    /// The dense values as stored (one per present value).
    private func denseStorage() -> ColumnValues.Storage {
        switch valueType {
        case .boolean: .boolean(bools)
        case .int32, .date: .int32(ints32)
        case .int64, .timestamp: .int64(ints64)
        case .double: .double(doubles)
        case .string, .list: .byteArray(strings)
        }
    }

    /// Builds the column: a list's offsets from its levels, or the dense values scattered into one slot per
    /// row with placeholders for nulls.
    private mutating func finish(rows: Int) throws -> ColumnValues {
        if layout.maxRepetition > 0 {
            var offsets = [0]
            offsets.reserveCapacity(rows + 1)
            var rowValid: [Bool] = []
            rowValid.reserveCapacity(rows)
            var elements = 0
            let maxDefinition = UInt8(layout.maxDefinition)
            for i in 0..<repetitionLevels.count {
                if repetitionLevels[i] == 0 {
                    if i > 0 { offsets.append(elements) }
                    rowValid.append(!(column.nullable && definitionLevels[i] == 0))
                } else if i == 0 {
                    throw ParquetError.corrupt("column \"\(column.name)\": first level continues a previous row")
                }
                if definitionLevels[i] == maxDefinition { elements += 1 }
            }
            if !repetitionLevels.isEmpty { offsets.append(elements) }
            guard offsets.count - 1 == rows else {
                throw ParquetError.corrupt("column \"\(column.name)\": levels describe \(offsets.count - 1) rows, row group has \(rows)")
            }
            let mask: [Bool]? = rowValid.contains(false) ? rowValid : nil
            return ColumnValues(.list(offsets: offsets, elements: ColumnValues(denseStorage())), validity: mask)
        }
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
        switch valueType {
        case .boolean: return ColumnValues(.boolean(spread(bools, zero: false)), validity: mask)
        case .int32, .date: return ColumnValues(.int32(spread(ints32, zero: 0)), validity: mask)
        case .int64, .timestamp: return ColumnValues(.int64(spread(ints64, zero: 0)), validity: mask)
        case .double: return ColumnValues(.double(spread(doubles, zero: 0)), validity: mask)
        case .string, .list:
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
