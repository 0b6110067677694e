/// Tuning knobs of the writer. Defaults follow pyarrow's where they matter for interoperability.
public struct ParquetWriterOptions: Sendable {
    public var codec: ParquetCodec = .zstd
    /// A row group is flushed once it holds this many rows…
    public var rowGroupRows: Int = 1 << 20
    /// …or once the buffered (uncompressed, in-memory) column data reaches this many bytes.
    public var rowGroupBytes: Int = 128 << 20
    /// Target size of a data page before compression.
    public var pageSizeBytes: Int = 1 << 20
    /// Upper bound on rows per data page, so low-cardinality dictionary pages stay a sensible size.
    public var pageRowLimit: Int = 100_000
    /// Dictionary-encode strings and numbers (not booleans) while the dictionary stays small.
    public var dictionary: Bool = true
    /// When a chunk's dictionary page would exceed this, later pages fall back to PLAIN.
    public var dictionaryPageSizeLimit: Int = 1 << 20
    /// Encode a row group's columns on several cores (Dispatch worker threads), for row groups of at least
    /// 4,096 rows (smaller ones are not worth waking threads for). The file is byte-identical either way.
    public var parallelEncoding: Bool = true
    /// Written to `created_by`; readers key statistics workarounds on it, so never impersonate another writer.
    public var createdBy: String = "webtoon-crawler version 0.1.0"

    public init() {}
}

/// One encoded column chunk: page headers and bodies, with metadata whose offsets are relative to the chunk.
struct EncodedChunk: Sendable {
    var bytes: [UInt8]
    var meta: ColumnMetaData
    /// Offset of the first data page within `bytes` (after a dictionary page, if any).
    var dataPageOffset: Int
    var hasDictionary: Bool
}

/// Encodes one column chunk from in-memory values. Pure: no I/O, so it tests in milliseconds.
struct ChunkEncoder {
    let column: ParquetColumn
    let options: ParquetWriterOptions
    private var out = ByteWriter(capacity: 1 << 16)
    private var uncompressedTotal = 0
    private var encodings = Set<Int32>()

    init(column: ParquetColumn, options: ParquetWriterOptions) {
        self.column = column
        self.options = options
    }

    static func encode(_ values: ColumnValues, column: ParquetColumn, options: ParquetWriterOptions) throws
        -> EncodedChunk
    {
        var encoder = ChunkEncoder(column: column, options: options)
        return try encoder.run(values)
    }

    private mutating func run(_ values: ColumnValues) throws -> EncodedChunk {
        let n = values.count
        // Definition levels are written exactly for OPTIONAL columns: a required column never carries a mask
        // (the writer has checked it holds no null), an optional one always does.
        let validity: [Bool]? =
            column.nullable ? (values.validity ?? Array(repeating: true, count: n)) : nil
        var stats = StatisticsMeta(nullCount: Int64(values.nullCount))
        var dataPageOffset = 0
        var hasDictionary = false
        var numValues = n
        encodings.insert(Encoding.rle)  // the declared definition-level encoding of every data page
        switch values.storage {
        case .boolean(let a):
            var sawFalse = false
            var sawTrue = false
            forEachValid(validity, n) { i in if a[i] { sawTrue = true } else { sawFalse = true } }
            if sawFalse || sawTrue {
                stats.minValue = [sawFalse ? 0 : 1]
                stats.maxValue = [sawTrue ? 1 : 0]
            }
            try writePlainPages(rows: 0..<n, validity: validity, rowBytes: { _ in 1 }) { body, rows in
                Self.plainBooleans(a, rows: rows, validity: validity, into: &body)
            }
        case .int32(let a):
            (dataPageOffset, hasDictionary) = try encodeFixed(a, validity: validity, stats: &stats)
        case .int64(let a):
            (dataPageOffset, hasDictionary) = try encodeFixed(a, validity: validity, stats: &stats)
        case .double(let a):
            (dataPageOffset, hasDictionary) = try encodeFixed(a, validity: validity, stats: &stats)
        case .byteArray(let a):
            (dataPageOffset, hasDictionary) = try encodeBytes(a, validity: validity, stats: &stats)
        case .list(let offsets, let elements):
            numValues = try encodeList(offsets: offsets, elements: elements, validity: validity, stats: &stats)
        }
        let meta = ColumnMetaData(
            type: column.type.physicalType, encodings: encodings.sorted(), pathInSchema: ParquetSchema.path(of: column),
            codec: options.codec.thriftValue, numValues: Int64(numValues), totalUncompressedSize: Int64(uncompressedTotal),
            totalCompressedSize: Int64(out.count), dataPageOffset: Int64(dataPageOffset),
            dictionaryPageOffset: hasDictionary ? 0 : nil, statistics: stats)
        return EncodedChunk(bytes: out.bytes, meta: meta, dataPageOffset: dataPageOffset, hasDictionary: hasDictionary)
    }

    // MARK: Fixed-width columns

    private mutating func encodeFixed<T: PlainFixed & Comparable>(
        _ a: [T], validity: [Bool]?, stats: inout StatisticsMeta
    ) throws -> (Int, Bool) {
        let n = a.count
        var dictionary = FixedDictionary<T>()
        var indices: [UInt32] = []
        var dictionaryRows = 0  // rows [0, dictionaryRows) are dictionary-encoded
        if options.dictionary {
            indices.reserveCapacity(n)
            var abandoned = false
            let limit = options.dictionaryPageSizeLimit
            a.withUnsafeBufferPointer { values in
                var row = 0
                while row < n {
                    if validity?[row] ?? true {
                        if dictionary.plainBytes + T.byteWidth > limit { break }
                        indices.append(dictionary.index(of: values[row]))
                        // Mostly-distinct values gain nothing from a dictionary: stop early and write PLAIN.
                        if indices.count == 16_384 && dictionary.count > indices.count / 2 {
                            abandoned = true
                            break
                        }
                    }
                    row += 1
                }
                dictionaryRows = row
            }
            if abandoned || dictionary.count == 0 { dictionaryRows = 0 }
        }

        // Statistics: over the dictionary entries plus the PLAIN tail, skipping NaN.
        var minV: T?
        var maxV: T?
        @inline(__always) func observe(_ v: T) {
            if v.isNaNValue { return }
            if minV == nil || v < minV! { minV = v }
            if maxV == nil || maxV! < v { maxV = v }
        }
        if dictionaryRows > 0 { for v in dictionary.values { observe(v) } }
        if dictionaryRows < n {
            if let validity {
                for i in dictionaryRows..<n where validity[i] { observe(a[i]) }
            } else {
                for i in dictionaryRows..<n { observe(a[i]) }
            }
        }
        if let lo = minV, let hi = maxV {
            stats.minValue = Self.le(lo.asStatisticsMin)
            stats.maxValue = Self.le(hi.asStatisticsMax)
        }

        var dataPageOffset = 0
        let hasDictionary = dictionaryRows > 0
        if hasDictionary {
            var body = ByteWriter(capacity: dictionary.plainBytes)
            dictionary.values.withUnsafeBytes { body.append(raw: $0) }
            try writeDictionaryPage(body.bytes, count: dictionary.count)
            dataPageOffset = out.count
            try writeDictionaryIndexPages(
                rows: 0..<dictionaryRows, indices: indices, dictionarySize: dictionary.count, validity: validity)
        }
        if dictionaryRows < n {
            if !hasDictionary { dataPageOffset = out.count }
            let width = T.byteWidth
            try writePlainPages(rows: dictionaryRows..<n, validity: validity, rowBytes: { _ in width }) { body, rows in
                Self.plainFixed(a, rows: rows, validity: validity, into: &body)
            }
        }
        return (dataPageOffset, hasDictionary)
    }

    private static func le<T: PlainFixed>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v) { Array($0) }
    }

    private static func plainFixed<T: PlainFixed>(
        _ a: [T], rows: Range<Int>, validity: [Bool]?, into body: inout ByteWriter
    ) {
        a.withUnsafeBufferPointer { values in
            if let validity {
                let width = T.byteWidth
                let valid = validity[rows].count { $0 }
                body.appendUninitialized(count: valid * width) { dst in
                    var o = 0
                    for i in rows where validity[i] {
                        (dst + o).storeBytes(of: values[i], as: T.self)
                        o += width
                    }
                }
            } else {
                let slice = UnsafeBufferPointer(rebasing: values[rows])
                body.append(raw: UnsafeRawBufferPointer(slice))
            }
        }
    }

    private static func plainBooleans(_ a: [Bool], rows: Range<Int>, validity: [Bool]?, into body: inout ByteWriter) {
        var byte: UInt8 = 0
        var bit: UInt8 = 0
        for i in rows where validity?[i] ?? true {
            if a[i] { byte |= 1 << bit }
            bit += 1
            if bit == 8 {
                body.append(byte)
                byte = 0
                bit = 0
            }
        }
        if bit > 0 { body.append(byte) }
    }

    // MARK: Byte-array columns

    private mutating func encodeBytes(_ a: ByteArrayColumn, validity: [Bool]?, stats: inout StatisticsMeta) throws
        -> (Int, Bool)
    {
        let n = a.count
        var dictionary = ByteDictionary()
        var indices: [UInt32] = []
        var dictionaryRows = 0
        if options.dictionary {
            indices.reserveCapacity(n)
            var abandoned = false
            let limit = options.dictionaryPageSizeLimit
            a.bytes.withUnsafeBytes { raw in
                a.offsets.withUnsafeBufferPointer { offsets in
                    var row = 0
                    while row < n {
                        if validity?[row] ?? true {
                            let lo = offsets[row]
                            let value = UnsafeRawBufferPointer(rebasing: raw[lo..<offsets[row + 1]])
                            if dictionary.plainBytes + 4 + value.count > limit { break }
                            indices.append(dictionary.index(of: value))
                            if indices.count == 16_384 && dictionary.count > indices.count / 2 {
                                abandoned = true
                                break
                            }
                        }
                        row += 1
                    }
                    dictionaryRows = row
                }
            }
            if abandoned || dictionary.count == 0 { dictionaryRows = 0 }
        }

        // Statistics in unsigned byte order, over dictionary entries and the PLAIN tail.
        var minRange: Range<Int>? = nil
        var maxRange: Range<Int>? = nil
        var minBytes: [UInt8]? = nil
        var maxBytes: [UInt8]? = nil
        if dictionaryRows > 0 {
            dictionary.plain.bytes.withUnsafeBytes { raw in
                for e in 0..<dictionary.count {
                    let r = dictionary.starts[e]..<(dictionary.starts[e] + dictionary.lengths[e])
                    let v = UnsafeRawBufferPointer(rebasing: raw[r])
                    if minRange == nil || bytesLess(v, UnsafeRawBufferPointer(rebasing: raw[minRange!])) { minRange = r }
                    if maxRange == nil || bytesLess(UnsafeRawBufferPointer(rebasing: raw[maxRange!]), v) { maxRange = r }
                }
                if let minRange { minBytes = Array(raw[minRange]) }
                if let maxRange { maxBytes = Array(raw[maxRange]) }
            }
        }
        if dictionaryRows < n {
            minRange = nil
            maxRange = nil
            a.bytes.withUnsafeBytes { raw in
                for i in dictionaryRows..<n where validity?[i] ?? true {
                    let r = a.offsets[i]..<a.offsets[i + 1]
                    let v = UnsafeRawBufferPointer(rebasing: raw[r])
                    if minRange == nil || bytesLess(v, UnsafeRawBufferPointer(rebasing: raw[minRange!])) { minRange = r }
                    if maxRange == nil || bytesLess(UnsafeRawBufferPointer(rebasing: raw[maxRange!]), v) { maxRange = r }
                }
                if let r = minRange {
                    let v = Array(raw[r])
                    if minBytes == nil || v.lexicographicallyPrecedes(minBytes!) { minBytes = v }
                }
                if let r = maxRange {
                    let v = Array(raw[r])
                    if maxBytes == nil || maxBytes!.lexicographicallyPrecedes(v) { maxBytes = v }
                }
            }
        }
        stats.minValue = minBytes
        stats.maxValue = maxBytes

        var dataPageOffset = 0
        let hasDictionary = dictionaryRows > 0
        if hasDictionary {
            try writeDictionaryPage(dictionary.plain.bytes, count: dictionary.count)
            dataPageOffset = out.count
            try writeDictionaryIndexPages(
                rows: 0..<dictionaryRows, indices: indices, dictionarySize: dictionary.count, validity: validity)
        }
        if dictionaryRows < n {
            if !hasDictionary { dataPageOffset = out.count }
            let offsets = a.offsets
            try writePlainPages(
                rows: dictionaryRows..<n, validity: validity, rowBytes: { i in 4 + offsets[i + 1] - offsets[i] }
            ) { body, rows in
                a.bytes.withUnsafeBytes { raw in
                    for i in rows where validity?[i] ?? true {
                        let lo = a.offsets[i]
                        let hi = a.offsets[i + 1]
                        body.appendLE(UInt32(hi - lo))
                        body.append(raw: UnsafeRawBufferPointer(rebasing: raw[lo..<hi]))
                    }
                }
            }
        }
        return (dataPageOffset, hasDictionary)
    }

    // MARK: List columns

    /// Writes a LIST column (PLAIN elements, repetition and definition levels); returns the number of level
    /// entries, which is the chunk's `num_values`.
    private mutating func encodeList(
        offsets rawOffsets: [Int], elements rawElements: ColumnValues, validity: [Bool]?, stats: inout StatisticsMeta
    ) throws -> Int {
        let n = rawOffsets.count - 1
        // Normalise: only valid rows' elements, contiguous from 0 (a null row may carry a stale range).
        var offsets = rawOffsets
        var elements = rawElements
        let stale = validity.map { v in (0..<n).contains { !v[$0] && rawOffsets[$0] != rawOffsets[$0 + 1] } } ?? false
        if stale || rawOffsets.last! != rawElements.count {
            elements = ColumnValues.empty(for: column.type.valueType, nullable: false)
            offsets = [0]
            for r in 0..<n {
                if validity?[r] ?? true { elements.append(rawElements, range: rawOffsets[r]..<rawOffsets[r + 1]) }
                offsets.append(elements.count)
            }
        }
        // Element statistics: encode the elements as a flat required column (uncompressed, PLAIN).
        var flat = options
        flat.codec = .uncompressed
        flat.dictionary = false
        let elementStats = try ChunkEncoder.encode(
            elements, column: ParquetColumn(column.name, column.type.valueType), options: flat
        ).meta.statistics
        stats.minValue = elementStats?.minValue
        stats.maxValue = elementStats?.maxValue

        let maxDefinition = UInt32(column.nullable ? 2 : 1)
        var repetition: [UInt32] = []
        var definition: [UInt32] = []
        repetition.reserveCapacity(n + elements.count)
        definition.reserveCapacity(n + elements.count)
        var rowEntry = [Int](repeating: 0, count: n + 1)
        for r in 0..<n {
            rowEntry[r] = repetition.count
            if let validity, !validity[r] {
                repetition.append(0)
                definition.append(0)
                continue
            }
            let length = offsets[r + 1] - offsets[r]
            if length == 0 {
                repetition.append(0)
                definition.append(maxDefinition - 1)
            } else {
                repetition.append(0)
                definition.append(maxDefinition)
                for _ in 1..<length {
                    repetition.append(1)
                    definition.append(maxDefinition)
                }
            }
        }
        rowEntry[n] = repetition.count
        stats.nullCount = Int64(definition.count { $0 < maxDefinition })

        encodings.insert(Encoding.plain)
        let elementBytes: (Int) -> Int
        switch elements.storage {
        case .byteArray(let b): elementBytes = { 4 + b.offsets[$0 + 1] - b.offsets[$0] }
        case .int32: elementBytes = { _ in 4 }
        case .boolean: elementBytes = { _ in 1 }
        default: elementBytes = { _ in 8 }
        }
        var start = 0
        repeat {
            var end = start
            var size = 0
            while end < n && size < options.pageSizeBytes && end - start < options.pageRowLimit {
                for e in offsets[end]..<offsets[end + 1] { size += elementBytes(e) }
                size += 1
                end += 1
            }
            var body = ByteWriter(capacity: size + 64)
            let entries = rowEntry[start]..<rowEntry[end]
            Self.levels(repetition[entries], bitWidth: 1, into: &body)
            Self.levels(definition[entries], bitWidth: RLEHybrid.bitWidth(maxDefinition), into: &body)
            Self.plainElements(elements, offsets[start]..<offsets[end], into: &body)
            try writeDataPage(body.bytes, rows: entries.count, encoding: Encoding.plain)
            start = end
        } while start < n
        return repetition.count
    }

    /// u32 length prefix, then the RLE hybrid (v1 data page levels).
    static func levels(_ values: ArraySlice<UInt32>, bitWidth: Int, into body: inout ByteWriter) {
        var encoded = ByteWriter(capacity: 16)
        values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: bitWidth, into: &encoded) }
        body.appendLE(UInt32(encoded.count))
        body.append(contentsOf: encoded.bytes)
    }

    static func plainElements(_ elements: ColumnValues, _ range: Range<Int>, into body: inout ByteWriter) {
        switch elements.storage {
        case .boolean(let a): plainBooleans(a, rows: range, validity: nil, into: &body)
        case .int32(let a): plainFixed(a, rows: range, validity: nil, into: &body)
        case .int64(let a): plainFixed(a, rows: range, validity: nil, into: &body)
        case .double(let a): plainFixed(a, rows: range, validity: nil, into: &body)
        case .byteArray(let a):
            for i in range {
                let v = a.bytes(at: i)
                body.appendLE(UInt32(v.count))
                body.append(contentsOf: v)
            }
        case .list: preconditionFailure("nested lists are rejected by ParquetSchema")
        }
    }

    // MARK: Pages

    private mutating func writeDictionaryPage(_ body: [UInt8], count: Int) throws {
        let compressed = try options.codec.compress(body)
        let header = PageHeaderMeta(
            type: PageType.dictionaryPage, uncompressedPageSize: Int32(body.count),
            compressedPageSize: Int32(compressed.count),
            dictionaryPage: DictionaryPageHeaderMeta(numValues: Int32(count), encoding: Encoding.plain)
        ).encode()
        out.append(contentsOf: header)
        out.append(contentsOf: compressed)
        uncompressedTotal += header.count + body.count
        encodings.insert(Encoding.plain)
    }

    private mutating func writeDictionaryIndexPages(
        rows: Range<Int>, indices: [UInt32], dictionarySize: Int, validity: [Bool]?
    ) throws {
        let bitWidth = RLEHybrid.bitWidth(UInt32(dictionarySize - 1))
        let bitsPerRow = max(1, bitWidth) + (validity == nil ? 0 : 1)
        let rowsPerPage = max(1, min(options.pageRowLimit, options.pageSizeBytes * 8 / bitsPerRow))
        var ordinal = 0
        var start = rows.lowerBound
        encodings.insert(Encoding.rleDictionary)
        while start < rows.upperBound {
            let end = min(rows.upperBound, start + rowsPerPage)
            let valid = validity.map { $0[start..<end].count { $0 } } ?? (end - start)
            var body = ByteWriter(capacity: valid * bitWidth / 8 + 64)
            if let validity { Self.definitionLevels(validity, rows: start..<end, into: &body) }
            body.append(UInt8(bitWidth))
            indices.withUnsafeBufferPointer { all in
                RLEHybrid.encode(
                    UnsafeBufferPointer(rebasing: all[ordinal..<(ordinal + valid)]), bitWidth: bitWidth, into: &body)
            }
            ordinal += valid
            try writeDataPage(body.bytes, rows: end - start, encoding: Encoding.rleDictionary)
            start = end
        }
    }

    /// Splits `rows` into PLAIN pages of about `pageSizeBytes`, each body built by `fill`.
    private mutating func writePlainPages(
        rows: Range<Int>, validity: [Bool]?, rowBytes: (Int) -> Int,
        fill: (inout ByteWriter, Range<Int>) -> Void
    ) throws {
        encodings.insert(Encoding.plain)
        var start = rows.lowerBound
        if rows.isEmpty {
            // An empty chunk still needs one (empty) data page so readers find a data_page_offset.
            var body = ByteWriter()
            if let validity { Self.definitionLevels(validity, rows: start..<start, into: &body) }
            try writeDataPage(body.bytes, rows: 0, encoding: Encoding.plain)
            return
        }
        while start < rows.upperBound {
            var end = start
            var size = 0
            while end < rows.upperBound && size < options.pageSizeBytes && end - start < options.pageRowLimit {
                size += rowBytes(end)
                end += 1
            }
            var body = ByteWriter(capacity: size + 64)
            if let validity { Self.definitionLevels(validity, rows: start..<end, into: &body) }
            fill(&body, start..<end)
            try writeDataPage(body.bytes, rows: end - start, encoding: Encoding.plain)
            start = end
        }
    }

    /// v1 definition levels: u32 length prefix, then the RLE hybrid at bit width 1.
    static func definitionLevels(_ validity: [Bool], rows: Range<Int>, into body: inout ByteWriter) {
        var levels = ByteWriter(capacity: 16)
        if !validity[rows].contains(false) {
            if !rows.isEmpty {
                levels.appendVarint(UInt64(rows.count) << 1)
                levels.append(1)
            }
        } else {
            let values = validity[rows].map { UInt32($0 ? 1 : 0) }
            values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 1, into: &levels) }
        }
        body.appendLE(UInt32(levels.count))
        body.append(contentsOf: levels.bytes)
    }

    private mutating func writeDataPage(_ body: [UInt8], rows: Int, encoding: Int32) throws {
        let compressed = try options.codec.compress(body)
        let header = PageHeaderMeta(
            type: PageType.dataPage, uncompressedPageSize: Int32(body.count),
            compressedPageSize: Int32(compressed.count),
            dataPage: DataPageHeaderMeta(
                numValues: Int32(rows), encoding: encoding, definitionLevelEncoding: Encoding.rle)
        ).encode()
        out.append(contentsOf: header)
        out.append(contentsOf: compressed)
        uncompressedTotal += header.count + body.count
    }
}

/// Calls `body` with each row index that is not null.
@inline(__always) func forEachValid(_ validity: [Bool]?, _ n: Int, _ body: (Int) -> Void) {
    if let validity {
        for i in 0..<n where validity[i] { body(i) }
    } else {
        for i in 0..<n { body(i) }
    }
}
