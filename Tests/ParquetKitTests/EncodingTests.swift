@testable import ParquetKit
import Testing

@Suite struct EncodingTests {
    @Test func bitPackingMatchesTheSpecVector() {
        var out = ByteWriter()
        let values: [UInt32] = Array(0..<8)
        values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 3, into: &out) }
        // One bit-packed group: header (1 << 1 | 1), then 0..7 at width 3.
        #expect(out.bytes == [0x03, 0x88, 0xC6, 0xFA])
    }

    @Test func rleRunsAreUsedForRepeats() {
        var out = ByteWriter()
        let values = [UInt32](repeating: 5, count: 1000)
        values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 3, into: &out) }
        #expect(out.bytes == [0xD0, 0x0F, 0x05])  // varint(1000 << 1), value 5 in one byte
    }

    @Test func hybridRoundTripsRandomRunsAtEveryWidth() throws {
        var g = SplitMix64(seed: 42)
        for iteration in 0..<400 {
            let width = iteration % 33
            let maxValue: UInt64 = width == 0 ? 0 : (width == 32 ? UInt64(UInt32.max) : (1 << UInt64(width)) - 1)
            let count = Int(g.next() % 3000)
            var values: [UInt32] = []
            while values.count < count {
                let v = UInt32(truncatingIfNeeded: maxValue == 0 ? 0 : g.next() % (maxValue + 1))
                let run = g.next() % 4 == 0 ? Int(g.next() % 40) + 1 : 1
                values += repeatElement(v, count: min(run, count - values.count))
            }
            var out = ByteWriter()
            values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: &out) }
            var decoded = [UInt32](repeating: 0, count: count)
            try out.bytes.withUnsafeBytes { raw in
                try decoded.withUnsafeMutableBufferPointer { dst in
                    if count > 0 {
                        try RLEHybrid.decode(raw, start: 0, end: raw.count, bitWidth: width, count: count, into: dst.baseAddress!)
                    }
                }
            }
            #expect(decoded == values, "width \(width) count \(count)")
        }
    }

    @Test func truncatedHybridDataIsAnError() throws {
        var out = ByteWriter()
        let values: [UInt32] = (0..<100).map { UInt32($0 % 7) }
        values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 3, into: &out) }
        // The last byte holds only padding past value 99, so cutting it is still a complete stream.
        for cut in [0, 1, out.count / 2, out.count - 2] {
            var decoded = [UInt32](repeating: 0, count: 100)
            #expect(throws: ParquetError.self) {
                try out.bytes.withUnsafeBytes { raw in
                    try decoded.withUnsafeMutableBufferPointer { dst in
                        try RLEHybrid.decode(raw, start: 0, end: cut, bitWidth: 3, count: 100, into: dst.baseAddress!)
                    }
                }
            }
        }
    }

    @Test func varintsAndZigzagRoundTrip() throws {
        var g = SplitMix64(seed: 7)
        var samples: [Int64] = [0, 1, -1, 63, -64, 64, Int64.max, Int64.min, Int64(Int32.max), Int64(Int32.min)]
        for _ in 0..<2000 { samples.append(Int64(bitPattern: g.next()) >> Int64(g.next() % 64)) }
        var out = ByteWriter()
        for s in samples { out.appendVarint(zigzag(s)) }
        var r = ThriftReader(out.bytes)
        for s in samples { #expect(unzigzag(try r.varint()) == s) }
        #expect(r.remaining == 0)
        #expect(zigzag(-1) == 1 && zigzag(1) == 2 && zigzag(-2) == 3)
    }

    @Test func footerMetadataRoundTripsThroughThriftCompact() throws {
        var g = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let columns = (0..<Int(g.next() % 20 + 1)).map { i in
                ParquetColumn("c\(i)_ü", [.boolean, .int32, .int64, .double, .string, .date, .timestamp][Int(g.next() % 7)], nullable: g.next() & 1 == 0)
            }
            let schema = try ParquetSchema(columns)
            let groups = (0..<Int(g.next() % 4)).map { _ in
                RowGroupMeta(
                    columns: columns.map { c in
                        ColumnChunkMeta(
                            fileOffset: Int64(bitPattern: g.next() >> 2),
                            metaData: ColumnMetaData(
                                type: c.type.physicalType, encodings: [0, 3, 8], pathInSchema: [c.name], codec: 6,
                                numValues: Int64(g.next() % 1_000_000), totalUncompressedSize: Int64(g.next() % 1 << 40),
                                totalCompressedSize: 17, dataPageOffset: Int64(g.next() % 1 << 50),
                                dictionaryPageOffset: g.next() & 1 == 0 ? nil : 4,
                                statistics: StatisticsMeta(nullCount: Int64(g.next() % 100), maxValue: [1, 2, 3], minValue: []))
                        )
                    }, totalByteSize: 99, numRows: Int64(g.next() % 1000), fileOffset: 4, totalCompressedSize: 1234)
            }
            let meta = FileMetaData(
                version: 1, schema: schema.schemaElements(), numRows: groups.reduce(0) { $0 + $1.numRows },
                rowGroups: groups, createdBy: "webtoon-crawler version 0.1.0", columnOrderCount: columns.count)
            let decoded = try FileMetaData.decode(meta.encode())
            #expect(decoded == meta)
            #expect(try ParquetSchema.from(decoded.schema) == schema)
        }
    }

    @Test func pageHeadersRoundTrip() throws {
        let headers = [
            PageHeaderMeta(type: 0, uncompressedPageSize: 100, compressedPageSize: 50,
                           dataPage: DataPageHeaderMeta(numValues: 1000, encoding: 8, definitionLevelEncoding: 3)),
            PageHeaderMeta(type: 2, uncompressedPageSize: 0, compressedPageSize: 9,
                           dictionaryPage: DictionaryPageHeaderMeta(numValues: 0, encoding: 0)),
            PageHeaderMeta(type: 3, uncompressedPageSize: Int32.max, compressedPageSize: 1,
                           dataPageV2: DataPageHeaderV2Meta(numValues: 7, numNulls: 2, numRows: 7, encoding: 0,
                                                            definitionLevelsByteLength: 3, repetitionLevelsByteLength: 0, isCompressed: false)),
        ]
        for h in headers {
            var r = ThriftReader(h.encode())
            #expect(try PageHeaderMeta.decode(&r) == h)
        }
    }

    @Test func thriftReaderSkipsUnknownFieldsAndBoundsNesting() throws {
        // Field 1 i32 = 5, field 2 = a list of 3 i64s, field 15 = nested struct{1: binary "ab"}, field 300 bool.
        var w = ThriftWriter()
        w.i32(1, 5)
        w.listHeader(2, elementType: ThriftType.i64, count: 3)
        for v: Int64 in [1, -2, 3] { w.out.appendVarint(zigzag(v)) }
        w.structField(15) { w in w.binary(1, Array("ab".utf8)) }
        w.bool(300, true)
        let bytes = w.finish()
        var r = ThriftReader(bytes)
        var seen: [Int16] = []
        try r.readStruct { r, id, t in
            seen.append(id)
            if id == 1 {
                let v = try r.int32(t)
                #expect(v == 5)
                return true
            }
            return false
        }
        #expect(seen == [1, 2, 15, 300])
        #expect(r.remaining == 0)

        // 100 nested structs: refused at depth 32 rather than recursing without bound.
        let deep = [UInt8](repeating: 0x1C, count: 100) + [UInt8](repeating: 0, count: 101)
        var d = ThriftReader(deep)
        #expect(throws: ParquetError.self) { try d.readStruct { _, _, _ in false } }
        // A list claiming 2^40 elements in a few bytes is refused before allocating.
        var huge = ThriftWriter()
        huge.out.append(0x19)
        huge.out.append(0xF5)
        huge.out.appendVarint(1 << 40)
        var h = ThriftReader(huge.out.bytes)
        #expect(throws: ParquetError.self) { try h.readStruct { r, _, t in _ = try r.listHeader(t); return true } }
    }
}
