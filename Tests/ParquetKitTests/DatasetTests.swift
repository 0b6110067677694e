import Foundation
import ParquetKit
import Testing

@Suite struct DatasetTests {
    static let schema = try! ParquetSchema([
        ParquetColumn("id", .int64), ParquetColumn("title", .string, nullable: true), ParquetColumn("rating", .double),
    ])

    static func batch(_ ids: Range<Int64>) -> ColumnBatch {
        ColumnBatch([
            ColumnValues(.int64(Array(ids))),
            .strings(ids.map { $0 % 5 == 0 ? nil : "웹툰 \($0)" }),
            ColumnValues(.double(ids.map { Double($0) / 10 })),
        ])
    }

    @Test func unitIdsAndPartitionValuesCannotEscapeTheTable() throws {
        #expect(try ParquetDataset.fileName(unitId: "u-0042_x", attempt: 3) == "part-u-0042_x-a3.parquet")
        for bad in ["", "../x", "a/b", "a.b", "a b", "웹툰", String(repeating: "a", count: 129)] {
            #expect(throws: ParquetError.self) { try ParquetDataset.fileName(unitId: bad, attempt: 0) }
        }
        #expect(throws: ParquetError.self) { try ParquetDataset.fileName(unitId: "ok", attempt: -1) }
        for bad in ["..", ".", "a/b", "", ".hidden", "x=y"] {
            #expect(throws: ParquetError.self) { try PartitionKey("platform", bad) }
        }
        #expect(try HivePartition.daily(year: 2026, month: 5, day: 1, platform: "naver").relativePath
            == "year=2026/month=05/day=01/platform=naver")
        #expect(throws: ParquetError.self) { try HivePartition.daily(year: 2026, month: 13, day: 1, platform: "naver") }
    }

    @Test func writtenTreeReadsAsOneTableAndCompacts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let dataset = ParquetDataset(root: dir.file("episodes"))
        var next: Int64 = 0
        var expectedSum: [String: (Int, Int64)] = [:]
        for day in [24, 25] {
            for platform in ["naver", "kakao"] {
                let partition = try HivePartition.daily(year: 2026, month: 11, day: day, platform: platform)
                for unit in 0..<3 {
                    let w = try dataset.writer(partition: partition, unitId: "u\(day)\(platform)\(unit)", attempt: 1, schema: Self.schema)
                    let ids = next..<(next + 100)
                    next += 100
                    try w.write(Self.batch(ids))
                    try w.close()
                    let key = "\(platform) 2026 11 \(day)"
                    let old = expectedSum[key] ?? (0, 0)
                    expectedSum[key] = (old.0 + 100, old.1 + ids.reduce(0, +))
                }
            }
        }
        // Partition columns must not be written into files.
        #expect(throws: ParquetError.self) {
            try dataset.writer(
                partition: try HivePartition.daily(year: 2026, month: 1, day: 1, platform: "naver"), unitId: "x", attempt: 0,
                schema: try ParquetSchema([ParquetColumn("platform", .string)]))
        }

        let all = try dataset.partitions()
        #expect(all.count == 4 && all.allSatisfy { $0.files.count == 3 })
        let naver = try dataset.partitions(where: ["platform": "naver"])
        #expect(naver.map { $0.partition.value(of: "day") } == ["24", "25"])
        #expect(try dataset.partitions(where: ["day": "25", "platform": "kakao"]).count == 1)
        #expect(try dataset.partitions(where: ["hour": "1"]).isEmpty)

        let check = { () throws -> Void in
            let r = try PythonChecker.run(["dataset", dataset.root]) as! [String: Any]
            #expect(r["pyarrow_rows"] as? Int == 1200)
            #expect(r["duckdb_rows"] as? Int == 1200)
            let columns = Set(r["pyarrow_columns"] as! [String])
            #expect(columns == ["id", "title", "rating", "year", "month", "day", "platform"])
            #expect(Set(r["duckdb_columns"] as! [String]) == columns)
            let groups = r["duckdb_groups"] as! [[String]]
            #expect(groups.count == 4)
            for g in groups {
                let e = expectedSum["\(g[0]) \(g[1]) \(g[2]) \(g[3])"]
                #expect(e != nil && Int(g[4]) == e!.0 && Int64(g[5]) == e!.1, "\(g)")
            }
        }
        try check()

        // Compaction: three files become one; the table reads the same.
        let target = try #require(try dataset.partitions(where: ["day": "24", "platform": "naver"]).first)
        let after = try dataset.compact(target)
        #expect(after.count == 1 && after[0].contains("part-compacted-"))
        #expect(try ParquetReader(path: after[0]).rowCount == 300)
        try check()
        // Small target size: one output file per input row group at most.
        let other = try #require(try dataset.partitions(where: ["day": "25", "platform": "kakao"]).first)
        #expect(try dataset.compact(other, targetFileBytes: 1).count == 3)
        try check()
    }

    /// A unit's file is never replaced: the same unit and attempt written again (another ledger sharing the data
    /// root) lands beside it under `-2`, `-3`, and each summary names its own file. A plain writer still replaces.
    @Test func aUnitFileIsNeverReplaced() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let dataset = ParquetDataset(root: dir.path)
        let partition = try HivePartition([PartitionKey("platform", "naver")])
        var paths: [String] = []
        for (n, rows) in [Int64(0)..<3, 10..<15, 20..<21].enumerated() {
            let w = try dataset.writer(partition: partition, unitId: "u7", attempt: 1, schema: Self.schema)
            try w.write(Self.batch(rows))
            let summary = try w.close()
            #expect(summary.path == w.path)
            #expect(try ParquetReader(path: summary.path).rowCount == rows.count, "file \(n)")
            paths.append(summary.path)
        }
        let pdir = dataset.directory(of: partition)
        #expect(paths == ["part-u7-a1.parquet", "part-u7-a1-2.parquet", "part-u7-a1-3.parquet"].map { pdir + "/" + $0 })
        #expect(try ParquetReader(path: paths[0]).rowCount == 3, "the first file is intact")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: pdir)) == Set(paths.map { String($0.dropFirst(pdir.count + 1)) }))

        let plain = try ParquetWriter(path: paths[0], schema: Self.schema)
        try plain.write(Self.batch(0..<9))
        #expect(try plain.close().path == paths[0])
        #expect(try ParquetReader(path: paths[0]).rowCount == 9)
    }

    @Test func interruptedCompactionIsCompletedOrDiscarded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let dataset = ParquetDataset(root: dir.path)
        let partition = try HivePartition([PartitionKey("platform", "naver")])
        for unit in 0..<2 {
            let w = try dataset.writer(partition: partition, unitId: "u\(unit)", attempt: 0, schema: Self.schema)
            try w.write(Self.batch(Int64(unit * 10)..<Int64(unit * 10 + 10)))
            try w.close()
        }
        let pdir = dataset.directory(of: partition)
        // Before the journal: a hidden output is garbage and is removed.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: pdir + "/.compact-part-compacted-x-0.parquet.pending"))
        try dataset.recover(directory: pdir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pdir).sorted() == ["part-u0-a0.parquet", "part-u1-a0.parquet"])
        // After the journal: outputs are published and inputs removed.
        let w = try ParquetWriter(path: pdir + "/.compact-part-compacted-y-0.parquet.pending", schema: Self.schema)
        try w.write(Self.batch(0..<20))
        try w.close()
        try Data("out part-compacted-y-0.parquet\nin part-u0-a0.parquet\nin part-u1-a0.parquet\nin ../../escape\n".utf8)
            .write(to: URL(fileURLWithPath: pdir + "/_compaction"))
        try dataset.recover(directory: pdir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pdir) == ["part-compacted-y-0.parquet"])
        #expect(try ParquetReader(path: pdir + "/part-compacted-y-0.parquet").rowCount == 20)
    }
}
