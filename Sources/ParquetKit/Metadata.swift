/// The Parquet footer and page-header structures, with field ids from parquet-format's `parquet.thrift`.
/// Only the fields we write or need to read are modelled; others are skipped on read.

enum PhysicalType {
    static let boolean: Int32 = 0
    static let int32: Int32 = 1
    static let int64: Int32 = 2
    static let int96: Int32 = 3
    static let float: Int32 = 4
    static let double: Int32 = 5
    static let byteArray: Int32 = 6
    static let fixedLenByteArray: Int32 = 7
}

enum Encoding {
    static let plain: Int32 = 0
    static let plainDictionary: Int32 = 2
    static let rle: Int32 = 3
    static let bitPacked: Int32 = 4
    static let rleDictionary: Int32 = 8

    static func name(_ e: Int32) -> String {
        switch e {
        case 0: "PLAIN"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        default: "encoding \(e)"
        }
    }
}

enum PageType {
    static let dataPage: Int32 = 0
    static let indexPage: Int32 = 1
    static let dictionaryPage: Int32 = 2
    static let dataPageV2: Int32 = 3
}

enum ConvertedType {
    static let utf8: Int32 = 0
    static let date: Int32 = 6
    static let timestampMillis: Int32 = 9
    static let timestampMicros: Int32 = 10
}

/// The `LogicalType` union, reduced to what we map to column types.
enum LogicalTypeMeta: Hashable {
    case string
    case date
    /// unit: 1 millis, 2 micros, 3 nanos.
    case timestamp(adjustedToUTC: Bool, unit: Int16)
    case integer(bitWidth: Int8, signed: Bool)
    case other(Int16)
}

struct SchemaElement: Hashable {
    var type: Int32?
    var repetition: Int32?
    var name: String
    var numChildren: Int32?
    var convertedType: Int32?
    var logicalType: LogicalTypeMeta?
}

struct StatisticsMeta: Hashable {
    var nullCount: Int64?
    var maxValue: [UInt8]?
    var minValue: [UInt8]?
    /// Deprecated fields 1/2; read only as a fallback, never written.
    var legacyMax: [UInt8]?
    var legacyMin: [UInt8]?
}

struct ColumnMetaData: Hashable {
    var type: Int32
    var encodings: [Int32]
    var pathInSchema: [String]
    var codec: Int32
    var numValues: Int64
    var totalUncompressedSize: Int64
    var totalCompressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
    var statistics: StatisticsMeta?
}

struct ColumnChunkMeta: Hashable {
    var fileOffset: Int64
    var metaData: ColumnMetaData?
}

struct RowGroupMeta: Hashable {
    var columns: [ColumnChunkMeta]
    var totalByteSize: Int64
    var numRows: Int64
    var fileOffset: Int64?
    var totalCompressedSize: Int64?
}

struct FileMetaData: Hashable {
    var version: Int32
    var schema: [SchemaElement]
    var numRows: Int64
    var rowGroups: [RowGroupMeta]
    var createdBy: String?
    var columnOrderCount: Int
}

struct DataPageHeaderMeta: Hashable {
    var numValues: Int32
    var encoding: Int32
    var definitionLevelEncoding: Int32
}

struct DataPageHeaderV2Meta: Hashable {
    var numValues: Int32
    var numNulls: Int32
    var numRows: Int32
    var encoding: Int32
    var definitionLevelsByteLength: Int32
    var repetitionLevelsByteLength: Int32
    var isCompressed: Bool
}

struct DictionaryPageHeaderMeta: Hashable {
    var numValues: Int32
    var encoding: Int32
}

struct PageHeaderMeta: Hashable {
    var type: Int32
    var uncompressedPageSize: Int32
    var compressedPageSize: Int32
    var dataPage: DataPageHeaderMeta?
    var dictionaryPage: DictionaryPageHeaderMeta?
    var dataPageV2: DataPageHeaderV2Meta?
}

// MARK: - Encoding

extension FileMetaData {
    func encode() -> [UInt8] {
        var w = ThriftWriter()
        w.i32(1, version)
        w.structList(2, schema) { w, e in e.encode(&w) }
        w.i64(3, numRows)
        w.structList(4, rowGroups) { w, g in g.encode(&w) }
        if let createdBy { w.string(6, createdBy) }
        // ColumnOrder union, TYPE_ORDER (field 1, empty struct) for every leaf.
        w.structList(7, Array(repeating: 0, count: columnOrderCount)) { w, _ in w.structField(1) { _ in } }
        return w.finish()
    }
}

extension SchemaElement {
    func encode(_ w: inout ThriftWriter) {
        if let type { w.i32(1, type) }
        if let repetition { w.i32(3, repetition) }
        w.string(4, name)
        if let numChildren { w.i32(5, numChildren) }
        if let convertedType { w.i32(6, convertedType) }
        if let logicalType {
            w.structField(10) { w in
                switch logicalType {
                case .string: w.structField(1) { _ in }
                case .date: w.structField(6) { _ in }
                case .timestamp(let utc, let unit):
                    w.structField(8) { w in
                        w.bool(1, utc)
                        w.structField(2) { w in w.structField(unit) { _ in } }
                    }
                case .integer(let bitWidth, let signed):
                    w.structField(10) { w in
                        w.i8(1, bitWidth)
                        w.bool(2, signed)
                    }
                case .other(let id): w.structField(id) { _ in }
                }
            }
        }
    }
}

extension RowGroupMeta {
    func encode(_ w: inout ThriftWriter) {
        w.structList(1, columns) { w, c in
            w.i64(2, c.fileOffset)
            if let m = c.metaData { w.structField(3) { w in m.encode(&w) } }
        }
        w.i64(2, totalByteSize)
        w.i64(3, numRows)
        if let fileOffset { w.i64(5, fileOffset) }
        if let totalCompressedSize { w.i64(6, totalCompressedSize) }
    }
}

extension ColumnMetaData {
    func encode(_ w: inout ThriftWriter) {
        w.i32(1, type)
        w.i32List(2, encodings)
        w.stringList(3, pathInSchema)
        w.i32(4, codec)
        w.i64(5, numValues)
        w.i64(6, totalUncompressedSize)
        w.i64(7, totalCompressedSize)
        w.i64(9, dataPageOffset)
        if let dictionaryPageOffset { w.i64(11, dictionaryPageOffset) }
        if let statistics {
            w.structField(12) { w in
                if let n = statistics.nullCount { w.i64(3, n) }
                if let v = statistics.maxValue { w.binary(5, v) }
                if let v = statistics.minValue { w.binary(6, v) }
            }
        }
    }
}

extension PageHeaderMeta {
    func encode() -> [UInt8] {
        var w = ThriftWriter()
        w.i32(1, type)
        w.i32(2, uncompressedPageSize)
        w.i32(3, compressedPageSize)
        if let d = dataPage {
            w.structField(5) { w in
                w.i32(1, d.numValues)
                w.i32(2, d.encoding)
                w.i32(3, d.definitionLevelEncoding)
                w.i32(4, Encoding.rle)
            }
        }
        if let d = dictionaryPage {
            w.structField(7) { w in
                w.i32(1, d.numValues)
                w.i32(2, d.encoding)
            }
        }
        if let d = dataPageV2 {
            w.structField(8) { w in
                w.i32(1, d.numValues)
                w.i32(2, d.numNulls)
                w.i32(3, d.numRows)
                w.i32(4, d.encoding)
                w.i32(5, d.definitionLevelsByteLength)
                w.i32(6, d.repetitionLevelsByteLength)
                w.bool(7, d.isCompressed)
            }
        }
        return w.finish()
    }
}

// MARK: - Decoding

extension FileMetaData {
    static func decode(_ bytes: [UInt8]) throws -> FileMetaData {
        var r = ThriftReader(bytes)
        var version: Int32?
        var schema: [SchemaElement]?
        var numRows: Int64?
        var rowGroups: [RowGroupMeta]?
        var createdBy: String?
        var orders = 0
        try r.readStruct { r, id, t in
            switch id {
            case 1: version = try r.int32(t)
            case 2: schema = try r.structList(t) { try SchemaElement.decode(&$0) }
            case 3: numRows = try r.int64(t)
            case 4: rowGroups = try r.structList(t) { try RowGroupMeta.decode(&$0) }
            case 6: createdBy = String(decoding: try r.binary(t), as: UTF8.self)
            case 7:
                let list = try r.listHeader(t)
                for _ in 0..<list.count { try r.skip(list.elementType) }
                orders = list.count
            case 8: throw ParquetError.unsupported("encrypted files (encryption_algorithm is set)")
            default: return false
            }
            return true
        }
        guard let version, let schema, let numRows, let rowGroups else {
            throw ParquetError.corrupt("footer lacks a required field (version, schema, num_rows or row_groups)")
        }
        return FileMetaData(
            version: version, schema: schema, numRows: numRows, rowGroups: rowGroups, createdBy: createdBy,
            columnOrderCount: orders)
    }
}

extension SchemaElement {
    static func decode(_ r: inout ThriftReader) throws -> SchemaElement {
        var e = SchemaElement(name: "")
        var haveName = false
        try r.readStruct { r, id, t in
            switch id {
            case 1: e.type = try r.int32(t)
            case 3: e.repetition = try r.int32(t)
            case 4:
                e.name = String(decoding: try r.binary(t), as: UTF8.self)
                haveName = true
            case 5: e.numChildren = try r.int32(t)
            case 6: e.convertedType = try r.int32(t)
            case 10: e.logicalType = try LogicalTypeMeta.decode(&r, t)
            default: return false
            }
            return true
        }
        guard haveName else { throw ParquetError.corrupt("schema element without a name") }
        return e
    }
}

extension LogicalTypeMeta {
    static func decode(_ r: inout ThriftReader, _ type: UInt8) throws -> LogicalTypeMeta? {
        guard type == ThriftType.structure else { throw ParquetError.corrupt("logicalType is not a struct") }
        var result: LogicalTypeMeta?
        try r.readStruct { r, id, t in
            guard t == ThriftType.structure else { return false }
            switch id {
            case 1: result = .string
            case 6: result = .date
            case 8:
                var utc = false
                var unit: Int16 = 0
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: utc = try r.bool(t)
                    case 2:
                        guard t == ThriftType.structure else { return false }
                        try r.readStruct { r, id, t in
                            unit = id
                            return false
                        }
                    default: return false
                    }
                    return true
                }
                result = .timestamp(adjustedToUTC: utc, unit: unit)
                return true
            case 10:
                var width: Int8 = 0
                var signed = true
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: width = Int8(truncatingIfNeeded: try r.int64(t))
                    case 2: signed = try r.bool(t)
                    default: return false
                    }
                    return true
                }
                result = .integer(bitWidth: width, signed: signed)
                return true
            default: result = .other(id)
            }
            return false  // skip the (empty) payload
        }
        return result
    }
}

extension RowGroupMeta {
    static func decode(_ r: inout ThriftReader) throws -> RowGroupMeta {
        var columns: [ColumnChunkMeta]?
        var total: Int64 = 0
        var numRows: Int64?
        var fileOffset: Int64?
        var compressed: Int64?
        try r.readStruct { r, id, t in
            switch id {
            case 1: columns = try r.structList(t) { try ColumnChunkMeta.decode(&$0) }
            case 2: total = try r.int64(t)
            case 3: numRows = try r.int64(t)
            case 5: fileOffset = try r.int64(t)
            case 6: compressed = try r.int64(t)
            default: return false
            }
            return true
        }
        guard let columns, let numRows else { throw ParquetError.corrupt("row group lacks columns or num_rows") }
        return RowGroupMeta(
            columns: columns, totalByteSize: total, numRows: numRows, fileOffset: fileOffset,
            totalCompressedSize: compressed)
    }
}

extension ColumnChunkMeta {
    static func decode(_ r: inout ThriftReader) throws -> ColumnChunkMeta {
        var c = ColumnChunkMeta(fileOffset: 0, metaData: nil)
        try r.readStruct { r, id, t in
            switch id {
            case 1: throw ParquetError.unsupported("column chunks stored in another file (file_path is set)")
            case 2: c.fileOffset = try r.int64(t)
            case 3: c.metaData = try ColumnMetaData.decode(&r, t)
            case 8, 9: throw ParquetError.unsupported("encrypted column chunks")
            default: return false
            }
            return true
        }
        return c
    }
}

extension ColumnMetaData {
    static func decode(_ r: inout ThriftReader, _ type: UInt8) throws -> ColumnMetaData {
        guard type == ThriftType.structure else { throw ParquetError.corrupt("column meta_data is not a struct") }
        var physical: Int32?
        var encodings: [Int32] = []
        var path: [String] = []
        var codec: Int32?
        var numValues: Int64?
        var uncompressed: Int64?
        var compressed: Int64?
        var dataPageOffset: Int64?
        var dictionaryPageOffset: Int64?
        var statistics: StatisticsMeta?
        try r.readStruct { r, id, t in
            switch id {
            case 1: physical = try r.int32(t)
            case 2:
                let (et, n) = try r.listHeader(t)
                for _ in 0..<n { encodings.append(try r.int32(et)) }
            case 3:
                let (et, n) = try r.listHeader(t)
                for _ in 0..<n { path.append(String(decoding: try r.binary(et), as: UTF8.self)) }
            case 4: codec = try r.int32(t)
            case 5: numValues = try r.int64(t)
            case 6: uncompressed = try r.int64(t)
            case 7: compressed = try r.int64(t)
            case 9: dataPageOffset = try r.int64(t)
            case 11: dictionaryPageOffset = try r.int64(t)
            case 12: statistics = try StatisticsMeta.decode(&r, t)
            default: return false
            }
            return true
        }
        guard let physical, let codec, let numValues, let uncompressed, let compressed, let dataPageOffset else {
            throw ParquetError.corrupt("column metadata lacks a required field")
        }
        return ColumnMetaData(
            type: physical, encodings: encodings, pathInSchema: path, codec: codec, numValues: numValues,
            totalUncompressedSize: uncompressed, totalCompressedSize: compressed, dataPageOffset: dataPageOffset,
            dictionaryPageOffset: dictionaryPageOffset, statistics: statistics)
    }
}

extension StatisticsMeta {
    static func decode(_ r: inout ThriftReader, _ type: UInt8) throws -> StatisticsMeta {
        guard type == ThriftType.structure else { throw ParquetError.corrupt("statistics is not a struct") }
        var s = StatisticsMeta()
        try r.readStruct { r, id, t in
            switch id {
            case 1: s.legacyMax = try r.binary(t)
            case 2: s.legacyMin = try r.binary(t)
            case 3: s.nullCount = try r.int64(t)
            case 5: s.maxValue = try r.binary(t)
            case 6: s.minValue = try r.binary(t)
            default: return false
            }
            return true
        }
        return s
    }
}

extension PageHeaderMeta {
    static func decode(_ r: inout ThriftReader) throws -> PageHeaderMeta {
        var type: Int32?
        var uncompressed: Int32?
        var compressed: Int32?
        var h = PageHeaderMeta(type: 0, uncompressedPageSize: 0, compressedPageSize: 0)
        try r.readStruct { r, id, t in
            switch id {
            case 1: type = try r.int32(t)
            case 2: uncompressed = try r.int32(t)
            case 3: compressed = try r.int32(t)
            case 5:
                guard t == ThriftType.structure else { return false }
                var d = DataPageHeaderMeta(numValues: -1, encoding: -1, definitionLevelEncoding: Encoding.rle)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.encoding = try r.int32(t)
                    case 3: d.definitionLevelEncoding = try r.int32(t)
                    default: return false
                    }
                    return true
                }
                h.dataPage = d
            case 7:
                guard t == ThriftType.structure else { return false }
                var d = DictionaryPageHeaderMeta(numValues: -1, encoding: Encoding.plain)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.encoding = try r.int32(t)
                    default: return false
                    }
                    return true
                }
                h.dictionaryPage = d
            case 8:
                guard t == ThriftType.structure else { return false }
                var d = DataPageHeaderV2Meta(
                    numValues: -1, numNulls: -1, numRows: -1, encoding: -1, definitionLevelsByteLength: -1,
                    repetitionLevelsByteLength: -1, isCompressed: true)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.numNulls = try r.int32(t)
                    case 3: d.numRows = try r.int32(t)
                    case 4: d.encoding = try r.int32(t)
                    case 5: d.definitionLevelsByteLength = try r.int32(t)
                    case 6: d.repetitionLevelsByteLength = try r.int32(t)
                    case 7: d.isCompressed = try r.bool(t)
                    default: return false
                    }
                    return true
                }
                h.dataPageV2 = d
            default: return false
            }
            return true
        }
        guard let type, let uncompressed, let compressed, uncompressed >= 0, compressed >= 0 else {
            throw ParquetError.corrupt("page header lacks type or sizes, or a size is negative")
        }
        h.type = type
        h.uncompressedPageSize = uncompressed
        h.compressedPageSize = compressed
        return h
    }
}
