import Foundation
@testable import ParquetKit
import Testing

@Suite struct RoundTripTests {
    static func randomTable(_ g: inout SplitMix64) throws -> (ParquetSchema, [ColumnBatch], ParquetWriterOptions) {
        let types: [ParquetType] = [.boolean, .int32, .int64, .double, .string, .date, .timestamp, .list(.string), .list(.int64), .list(.boolean)]
        let columns = (0..<Int(g.next() % 6 + 1)).map { i in
            ParquetColumn("c\(i)", types[Int(g.next() % UInt64(types.count))], nullable: g.next() % 3 != 0)
        }
        let schema = try ParquetSchema(columns)
        var options = ParquetWriterOptions()
        options.codec = [ParquetCodec.uncompressed, .snappy, .zstd][Int(g.next() % 3)]
        options.rowGroupRows = Int(g.next() % 300 + 1)
        options.pageSizeBytes = Int(g.next() % 2000 + 1)
        options.dictionary = g.next() % 4 != 0
        options.dictionaryPageSizeLimit = Int(g.next() % 500 + 1)
        let cardinality = g.next() % 50 + 1
        let nullRate = Double(g.next() % 100) / 100
        var batches: [ColumnBatch] = []
        for _ in 0..<Int(g.next() % 4) {
            let rows = Int(g.next() % 400)
            var cols: [ColumnValues] = []
            for c in columns {
                func null() -> Bool { c.nullable && Double(g.next() % 1000) / 1000 < nullRate }
                func small() -> UInt64 { g.next() % 2 == 0 ? g.next() % cardinality : g.next() }
                switch c.type {
                case .boolean: cols.append(.booleans((0..<rows).map { _ in null() ? nil : g.next() & 1 == 0 }))
                case .int32, .date: cols.append(.int32s((0..<rows).map { _ in null() ? nil : Int32(truncatingIfNeeded: small()) }))
                case .int64, .timestamp: cols.append(.int64s((0..<rows).map { _ in null() ? nil : Int64(bitPattern: small()) }))
                case .double: cols.append(.doubles((0..<rows).map { _ in null() ? nil : Double(bitPattern: small()) }))
                case .string:
                    cols.append(.strings((0..<rows).map { _ in
                        null() ? nil : String(repeating: "가", count: Int(g.next() % 5)) + String(small() % 1000)
                    }))
                case .list(.string):
                    cols.append(.stringLists((0..<rows).map { _ in null() ? nil : (0..<Int(g.next() % 4)).map { _ in String(small() % 100) } }))
                case .list(.boolean):
                    let rowsOfBools = (0..<rows).map { _ in null() ? nil : (0..<Int(g.next() % 4)).map { _ in ParquetValue.boolean(g.next() & 1 == 0) } }
                    var column = ColumnValues(.list(offsets: [0], elements: ColumnValues(.boolean([]))))
                    for r in rowsOfBools { _ = column.append(r.map { ParquetValue.list($0) } ?? .null) }
                    cols.append(column)
                default:
                    cols.append(.int64Lists((0..<rows).map { _ in null() ? nil : (0..<Int(g.next() % 5)).map { _ in Int64(bitPattern: small()) } }))
                }
            }
            batches.append(ColumnBatch(cols))
        }
        return (schema, batches, options)
    }

    @Test func randomSchemasAndRowsRoundTrip() throws {
        var g = SplitMix64(seed: 2024)
        for iteration in 0..<150 {
            let (schema, batches, options) = try Self.randomTable(&g)
            let bytes = try ParquetWriter.encode(schema: schema, batches: batches, options: options)
            var readOptions = ParquetReaderOptions()
            readOptions.parallelDecoding = iteration % 2 == 0  // both paths must agree with the input
            let reader = try ParquetReader(bytes: bytes, name: "case \(iteration)", options: readOptions)
            #expect(reader.schema == schema)
            let rows = batches.reduce(0) { $0 + $1.rowCount }
            #expect(reader.rowCount == rows)
            let expectedGroups = rows == 0 ? 0 : (rows + options.rowGroupRows - 1) / options.rowGroupRows
            #expect(reader.rowGroupCount == expectedGroups, "iteration \(iteration)")
            expectSameColumns(tokens(try readAll(reader), schema), tokens(batches, schema), schema: schema, "iteration \(iteration)")
        }
    }

    @Test func parallelEncodingWritesTheSameBytes() throws {
        let schema = try Fixtures.allTypesSchema(nullable: true)
        var options = ParquetWriterOptions()
        // Row groups large enough to be encoded in parallel (smaller ones always encode on the calling thread).
        options.rowGroupRows = 5_000
        let batches = [Fixtures.allTypes(rows: 11_000, seed: 77, nullable: true)]
        options.parallelEncoding = true
        let parallel = try ParquetWriter.encode(schema: schema, batches: batches, options: options)
        options.parallelEncoding = false
        let sequential = try ParquetWriter.encode(schema: schema, batches: batches, options: options)
        #expect(parallel == sequential)
    }

    @Test func rowGroupsFlushWhileStreamingSoMemoryStaysBounded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let schema = try Fixtures.allTypesSchema(nullable: true)
        var options = ParquetWriterOptions()
        options.rowGroupBytes = 20_000  // buffered bytes, well below one batch's worth of 10 batches
        let path = dir.file("stream.parquet")
        let writer = try ParquetWriter(path: path, schema: schema, options: options)
        var written: [Int] = []
        var batches: [ColumnBatch] = []
        for i in 0..<10 {
            let b = Fixtures.allTypes(rows: 300, seed: UInt64(100 + i), nullable: true)
            batches.append(b)
            try writer.write(b)
            written.append(writer.bytesWritten)
        }
        for r in 0..<2000 {  // the row API flushes by size too
            try writer.append(row: schema.columns.enumerated().map { c, col in
                c == 2 ? .int64(Int64(r)) : (col.nullable ? .null : .int64(0))
            })
        }
        #expect(zip(written, written.dropFirst()).allSatisfy { $0 < $1 }, "every batch reached the file: \(written)")
        let summary = try writer.close()
        #expect(summary.rows == 5000)
        #expect(summary.rowGroups >= 12)
        let reader = try ParquetReader(path: path)
        let all = tokens(try readAll(reader), schema)
        expectSameColumns(all.map { Array($0.prefix(3000)) }, tokens(batches, schema), schema: schema, "streamed")
        #expect(Array(all[2].suffix(2000)) == (0..<2000).map { String($0) })
    }

    @Test func pruningSkipsRowGroupsOutsideMinMax() throws {
        let schema = try ParquetSchema([
            ParquetColumn("id", .int64), ParquetColumn("platform", .string), ParquetColumn("day", .date, nullable: true),
        ])
        var options = ParquetWriterOptions()
        options.rowGroupRows = 100
        let ids = (0..<500).map { Int64($0) }
        let batch = ColumnBatch([
            ColumnValues(.int64(ids)),
            .strings(ids.map { $0 < 200 ? "kakao" : "naver" }),
            .int32s(ids.map { $0 >= 400 ? nil : Int32($0 / 100) }),
        ])
        let reader = try ParquetReader(bytes: try ParquetWriter.encode(schema: schema, batches: [batch], options: options))
        #expect(reader.rowGroupCount == 5)
        #expect(try reader.rowGroups(matching: .equals("id", .int64(250))) == [2])
        #expect(try reader.rowGroups(matching: .between("id", .int64(150), .int64(310))) == [1, 2, 3])
        #expect(try reader.rowGroups(matching: .equals("platform", .string("kakao"))) == [0, 1])
        #expect(try reader.rowGroups(matching: .equals("platform", .string("zzz"))) == [])
        #expect(try reader.rowGroups(matching: .equals("day", .date(3))) == [3])
        #expect(try reader.rowGroups(matching: .equals("day", .null)) == [4])
        #expect(try reader.rowGroups(matching: .and([.equals("platform", .string("naver")), .between("id", .int64(0), .int64(250))])) == [2])
        #expect(try reader.rowGroups(matching: .or([.equals("id", .int64(5)), .equals("id", .int64(499))])) == [0, 4])
        #expect(throws: ParquetError.self) { try reader.rowGroups(matching: .equals("nope", .int64(1))) }
        let stats = try #require(reader.statistics(rowGroup: 1, column: 0))
        #expect(stats.min == .int64(100) && stats.max == .int64(199) && stats.nullCount == 0)
        var seen: [Int64] = []
        try reader.forEachRowGroup(columns: ["id"], where: .equals("id", .int64(420))) { b in
            if case .int64(let v) = b.columns[0].storage { seen += v }
        }
        #expect(seen == Array(400..<500))
    }

    @Test func writerRejectsDataThatDoesNotFitTheSchema() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let schema = try ParquetSchema([ParquetColumn("id", .int64), ParquetColumn("name", .string, nullable: true)])
        let path = dir.file("t.parquet")
        let writer = try ParquetWriter(path: path, schema: schema)
        let wrongType = ColumnBatch([ColumnValues(.int32([1])), .strings(["a"])])
        let nullInRequired = ColumnBatch([.int64s([nil]), .strings(["a"])])
        let ragged = ColumnBatch([.int64s([1, 2]), .strings(["a"])])
        for bad in [wrongType, nullInRequired, ragged] {
            let error = #expect(throws: ParquetError.self) { try writer.write(bad) }
            #expect(error?.code == .schemaMismatch)
        }
        #expect(throws: ParquetError.self) { try writer.append(row: [.string("x"), .null]) }
        #expect(throws: ParquetError.self) { try writer.append(row: [.null, .null]) }
        // The writer is still usable after rejected input.
        try writer.append(row: [.int64(1), .null])
        try writer.write(ColumnBatch([.int64s([2]), .strings(["b"])]))
        #expect(try writer.close().rows == 2)
        let reader = try ParquetReader(path: path)
        #expect(tokens(try readAll(reader), schema) == [["1", "2"], [nil, "b"]])
        #expect(throws: ParquetError.self) { try ParquetSchema([ParquetColumn("a", .int64), ParquetColumn("a", .string)]) }
    }

    @Test func uncommittedFilesNeverAppear() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let schema = try ParquetSchema([ParquetColumn("id", .int64)])
        let path = dir.file("part.parquet")
        do {
            let writer = try ParquetWriter(path: path, schema: schema)
            try writer.write(ColumnBatch([ColumnValues(.int64(Array(0..<10_000)))]))
            try writer.flushRowGroup()
            // Mid-write: only a hidden temporary exists.
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            #expect(names.count == 1 && names[0].hasPrefix(".part.parquet.tmp-"))
            // Dropped without close(): the temporary is removed and nothing is published.
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().isEmpty)
        let aborted = try ParquetWriter(path: path, schema: schema)
        try aborted.write(ColumnBatch([ColumnValues(.int64([1]))]))
        aborted.abort()
        #expect(throws: ParquetError.self) { try aborted.close() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().isEmpty)
        let writer = try ParquetWriter(path: path, schema: schema)
        try writer.write(ColumnBatch([ColumnValues(.int64([7]))]))
        try writer.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["part.parquet"])
        #expect(try ParquetReader(path: path).rowCount == 1)
        // A missing directory is an I/O error naming the path.
        let error = #expect(throws: ParquetError.self) { try ParquetWriter(path: dir.file("no/such/x.parquet"), schema: schema) }
        #expect(error?.code == .io)
    }
}
