import Foundation
import ParquetKit
import Testing

/// Files we write, read back by pyarrow and duckdb; files pyarrow and duckdb write, read by us.
@Suite struct InteropTests {
    struct Case {
        let name: String
        let schema: ParquetSchema
        let batches: [ColumnBatch]
        var options = ParquetWriterOptions()
        var useRowAPI = false
        /// Expected encodings check: "dict", "plain", "fallback" or nil.
        var encoding: String? = nil
        var rowGroups: Int? = nil
    }

    static func cases() throws -> [Case] {
        let nullable = try Fixtures.allTypesSchema(nullable: true)
        let required = try Fixtures.allTypesSchema(nullable: false)
        var list: [Case] = []
        for (name, codec) in [("zstd", ParquetCodec.zstd), ("snappy", .snappy), ("none", .uncompressed)] {
            var o = ParquetWriterOptions()
            o.codec = codec
            list.append(Case(name: "nullable_\(name)", schema: nullable, batches: [Fixtures.allTypes(rows: 2000, seed: 1, nullable: true)], options: o))
        }
        list.append(Case(name: "required", schema: required, batches: [Fixtures.allTypes(rows: 1500, seed: 2, nullable: false)]))
        list.append(Case(name: "empty", schema: nullable, batches: [], rowGroups: 0))
        list.append(Case(name: "one_row", schema: nullable, batches: [Fixtures.allTypes(rows: 1, seed: 3, nullable: false)], rowGroups: 1))
        var groups = ParquetWriterOptions()
        groups.rowGroupRows = 1000
        groups.pageSizeBytes = 700
        list.append(Case(
            name: "row_groups_pages", schema: nullable,
            batches: [Fixtures.allTypes(rows: 1700, seed: 4, nullable: true), Fixtures.allTypes(rows: 1800, seed: 5, nullable: true)],
            options: groups, rowGroups: 4))
        var fallback = ParquetWriterOptions()
        fallback.dictionaryPageSizeLimit = 3000
        list.append(Case(
            name: "dictionary_fallback", schema: required,
            batches: [Fixtures.allTypes(rows: 4000, seed: 6, nullable: false, distinctTitles: 100_000)], options: fallback,
            encoding: "fallback"))
        var plain = ParquetWriterOptions()
        plain.dictionary = false
        list.append(Case(name: "no_dictionary", schema: nullable, batches: [Fixtures.allTypes(rows: 900, seed: 7, nullable: true)], options: plain, encoding: "plain"))
        list.append(Case(name: "dictionary", schema: nullable, batches: [Fixtures.allTypes(rows: 900, seed: 8, nullable: true, distinctTitles: 5)], encoding: "dict"))
        list.append(Case(name: "all_null", schema: nullable, batches: [Fixtures.allTypes(rows: 300, seed: 9, nullable: true, nullRate: 1.0)]))
        list.append(Case(name: "row_api", schema: nullable, batches: [Fixtures.allTypes(rows: 500, seed: 10, nullable: true)], useRowAPI: true))
        return list
    }

    @Test func ourFilesReadBackIdenticallyInPyarrowAndDuckdb() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let cases = try Self.cases()
        var paths: [String] = []
        for c in cases {
            let path = dir.file("\(c.name).parquet")
            let writer = try ParquetWriter(path: path, schema: c.schema, options: c.options)
            for b in c.batches {
                if c.useRowAPI {
                    for r in 0..<b.rowCount {
                        try writer.append(row: zip(b.columns, c.schema.columns).map { $0.value(at: r, as: $1.type) })
                    }
                } else {
                    try writer.write(b)
                }
            }
            let summary = try writer.close()
            #expect(summary.rows == c.batches.reduce(0) { $0 + $1.rowCount })
            paths.append(path)
        }
        // No temporary left behind by the atomic commits.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)

        let results = try PythonChecker.run(["read"] + paths) as! [Any]
        #expect(results.count == cases.count)
        for (c, any) in zip(cases, results) {
            let r = any as! [String: Any]
            let expected = tokens(c.batches, c.schema)
            let pa = r["pyarrow"] as! [String: Any]
            let dd = r["duckdb"] as! [String: Any]
            expectSameColumns(tokenColumns(pa["columns"]), expected, schema: c.schema, "\(c.name) pyarrow")
            expectSameColumns(tokenColumns(dd["columns"]), expected, schema: c.schema, "\(c.name) duckdb")
            #expect(dd["count"] as? Int == expected.first?.count ?? 0, "\(c.name) duckdb count")

            // Schema as each reader reports it.
            let arrowTypes: [ParquetType: String] = [
                .boolean: "bool", .int32: "int32", .int64: "int64", .double: "double", .string: "string",
                .date: "date32[day]", .timestamp: "timestamp[us, tz=UTC]",
            ]
            let duckTypes: [ParquetType: String] = [
                .boolean: "BOOLEAN", .int32: "INTEGER", .int64: "BIGINT", .double: "DOUBLE", .string: "VARCHAR",
                .date: "DATE", .timestamp: "TIMESTAMP WITH TIME ZONE",
            ]
            let paSchema = pa["schema"] as! [[Any]]
            let ddSchema = dd["schema"] as! [[Any]]
            for (i, col) in c.schema.columns.enumerated() {
                #expect(paSchema[i][0] as? String == col.name)
                #expect(paSchema[i][1] as? String == arrowTypes[col.type], "\(c.name).\(col.name) arrow type")
                #expect(paSchema[i][2] as? Bool == col.nullable, "\(c.name).\(col.name) nullability")
                #expect(ddSchema[i][1] as? String == duckTypes[col.type], "\(c.name).\(col.name) duckdb type")
            }
            let leaves = pa["leaves"] as! [[String: Any]]
            #expect(leaves[4]["logical"] as? String == "String")
            #expect(leaves[6]["logical"] as? String == "Date")
            #expect((leaves[7]["logical"] as? String)?.contains("isAdjustedToUTC=true") == true)
            #expect((leaves[7]["logical"] as? String)?.contains("microseconds") == true)
            #expect(pa["created_by"] as? String == c.options.createdBy)

            // Per-chunk metadata: codec, encodings and statistics recomputed from the expected values.
            let groups = pa["row_groups"] as! [[String: Any]]
            if let n = c.rowGroups { #expect(groups.count == n, "\(c.name) row groups") }
            try checkChunks(c, groups: groups)
        }
    }

    private func checkChunks(_ c: Case, groups: [[String: Any]]) throws {
        let all = tokens(c.batches, c.schema)
        var rowStart = 0
        for g in groups {
            let n = g["num_rows"] as! Int
            for (j, chunk) in (g["columns"] as! [[String: Any]]).enumerated() {
                let col = c.schema.columns[j]
                #expect(chunk["compression"] as? String == c.options.codec.description.split(separator: "(")[0].trimmingCharacters(in: .whitespaces))
                let encodings = chunk["encodings"] as! [String]
                let hasDict = chunk["has_dictionary_page"] as! Bool
                switch c.encoding {
                case "dict" where col.type == .string:
                    #expect(hasDict && encodings.contains("RLE_DICTIONARY"), "\(c.name).\(col.name) \(encodings)")
                case "plain":
                    #expect(!hasDict && !encodings.contains("RLE_DICTIONARY"), "\(c.name).\(col.name) \(encodings)")
                case "fallback" where col.name == "title":
                    #expect(hasDict && encodings.contains("RLE_DICTIONARY") && encodings.contains("PLAIN"), "\(c.name) fallback \(encodings)")
                default: break
                }
                let values = all[j][rowStart..<(rowStart + n)]
                let stats = chunk["stats"] as! [String: Any]
                #expect(stats["null_count"] as? Int == values.count { $0 == nil }, "\(c.name).\(col.name) null_count")
                let present = values.compactMap { $0 }
                let expectedMin: String?
                let expectedMax: String?
                switch col.type {
                case .string:
                    expectedMin = present.min { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                    expectedMax = present.max { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                case .boolean:
                    expectedMin = present.isEmpty ? nil : (present.contains("false") ? "false" : "true")
                    expectedMax = present.isEmpty ? nil : (present.contains("true") ? "true" : "false")
                case .double:
                    let ds = present.compactMap(Double.init).filter { !$0.isNaN }
                    expectedMin = ds.min().map { $0 == 0 ? "-0.0" : "\($0)" }
                    expectedMax = ds.max().map { $0 == 0 ? "0.0" : "\($0)" }
                default:
                    let xs = present.compactMap { Int64($0) }
                    expectedMin = xs.min().map(String.init)
                    expectedMax = xs.max().map(String.init)
                }
                #expect(sameToken(stats["min"] as? String, expectedMin, double: col.type == .double), "\(c.name).\(col.name) min \(String(describing: stats["min"]))")
                #expect(sameToken(stats["max"] as? String, expectedMax, double: col.type == .double), "\(c.name).\(col.name) max \(String(describing: stats["max"]))")
            }
            rowStart += n
        }
    }

    @Test func filesWrittenByPyarrowAndDuckdbReadIdentically() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let out = try PythonChecker.run(["write", dir.path]) as! [String: Any]
        let expected = tokenColumns((out["expected"] as! [String: Any])["columns"])
        let files = out["files"] as! [[String: Any]]
        #expect(files.count == 10)
        for f in files {
            let path = f["path"] as! String
            let reader = try ParquetReader(path: path)
            let context = "\(f["settings"]!) (\(reader.createdBy ?? "?"))"
            #expect(reader.schema.columns.map(\.type) == [.boolean, .int32, .int64, .double, .string, .string, .date, .timestamp], "\(context)")
            #expect(reader.rowCount == 3000)
            let batches = try readAll(reader)
            expectSameColumns(tokens(batches, reader.schema), expected, schema: reader.schema, context)
            // Projection returns just the named columns, in the requested order.
            let projected = try readAll(reader, columns: ["ts", "s"])
            let projectedSchema = try reader.projectedSchema(["ts", "s"])
            expectSameColumns(tokens(projected, projectedSchema), [expected[7], expected[4]], schema: projectedSchema, context + " projection")
        }
    }
}
