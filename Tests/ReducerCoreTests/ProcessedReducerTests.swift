import Foundation
import ParquetKit
@testable import ReducerCore
import ProcessTestSupport
import Testing

@Suite struct ProcessedReducerTests {
    static let day = CalendarDay(year: 2026, month: 11, day: 24)!

    /// Writes `rows` with the full processed schema (platform included), as a worker's accepted output would be.
    static func writeInput(_ rows: [EpisodeRow], to path: String) throws {
        let writer = try ParquetWriter(path: path, schema: try ParquetSchema(EpisodeRow.parquetColumns))
        for row in rows { try writer.append(row: row.parquetValues) }
        try writer.close()
    }

    /// Reads every partition back through the public reader, platform taken from the path.
    static func readBack(_ root: String) throws -> [EpisodeRow] {
        var rows: [EpisodeRow] = []
        for partition in try ParquetDataset(root: root + "/episodes").partitions() {
            let platform = try #require(partition.partition.value(of: "platform"))
            #expect(partition.files.count == 1, "one compacted file per partition")
            for file in partition.files {
                try ProcessedReducer.readRows(EpisodeRow.self, from: file, platform: platform) { rows.append($0) }
            }
        }
        return rows
    }

    func python() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
            "WEBTOON_PYTHON must point at the venv python with pyarrow (cluster/setup.sh sets it)")
    }

    /// pyarrow, as an independent reader: row count, distinct keys and likes per platform of the whole dataset.
    func pyarrowSummary(_ root: String) throws -> [String: Any] {
        let script = """
            import json, sys, pyarrow.dataset as ds
            t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
            rows = t.to_pylist()
            keys = {(r["platform"], str(r["snapshot_date"]), r["title_id"], r["episode_id"]) for r in rows}
            likes = {}
            for r in rows:
                likes.setdefault(r["platform"], 0)
                likes[r["platform"]] += r["likes"] or 0
            nulls = sum(1 for r in rows if r["likes"] is None)
            print(json.dumps({"rows": len(rows), "keys": len(keys), "likes": likes, "nullLikes": nulls,
                              "columns": sorted(t.column_names)}))
            """
        let (status, data, errors) = runCapturing(try python(), ["-c", script, root + "/episodes"])
        try #require(status == 0, "pyarrow failed: \(String(decoding: errors, as: UTF8.self))")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func reducesDuplicatesAcrossFilesIntoOneFilePerPartitionAndReplacesOnRerun() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var g = SplitMix64(seed: 77)
        // 3 files, overlapping keys over 3 days and both platforms, a budget that forces spills.
        let inputs = try (0..<3).map { index in
            let rows = (0..<1500).map { _ in randomEpisode(using: &g, keySpace: 2000, day: Self.day) }
            let path = folder + "/input-\(index).parquet"
            try Self.writeInput(rows, to: path)
            return (path, rows)
        }
        let all = inputs.flatMap(\.1)
        let reducer = ProcessedReducer(
            outputRoot: folder + "/processed",
            sortConfiguration: ExternalSortConfiguration(
                memoryBudget: 64 << 10, spillDirectory: folder, blockBytes: 4096),
            logger: testLogger)
        let summary = try reducer.reduce(EpisodeRow.self, inputs: inputs.map(\.0), runID: "run-1")
        let expected = ExternalSortTests.reference(all)
        #expect(summary.inputRows == all.count)
        #expect(summary.outputRows == expected.count)
        #expect(summary.sort.spilledRuns > 1)
        let partitionKeys = Set(expected.map { "\($0.snapshotDate)/\($0.platform)" })
        #expect(summary.partitions.count == partitionKeys.count)
        #expect(summary.partitions.allSatisfy { $0.directory.contains("/processed/episodes/year=2026/month=11/day=") })

        let back = try Self.readBack(folder + "/processed")
        #expect(back.sorted { sortKey($0).lexicographicallyPrecedes(sortKey($1)) } == expected)

        let checked = try pyarrowSummary(folder + "/processed")
        #expect(checked["rows"] as? Int == expected.count)
        #expect(checked["keys"] as? Int == expected.count, "duplicate keys in the output")
        #expect(checked["nullLikes"] as? Int == expected.filter { $0.likes == nil }.count)
        let likes = checked["likes"] as? [String: Int]
        for platform in ["naver", "kakao"] {
            #expect(
                likes?[platform] == Int(expected.filter { $0.platform == platform }.compactMap(\.likes).reduce(0, +)))
        }
        #expect((checked["columns"] as? [String])?.contains("platform") == true)

        // The same run again: same files, not twice the rows.
        let files = summary.partitions.map(\.file).sorted()
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        _ = try reducer.reduce(EpisodeRow.self, inputs: inputs.map(\.0), runID: "run-1")
        #expect(try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
        #expect(try pyarrowSummary(folder + "/processed")["rows"] as? Int == expected.count)

        // A later run covering one partition replaces exactly that partition.
        let target = try #require(summary.partitions.first)
        let replacement = expected.filter { $0.snapshotDate == target.snapshotDate && $0.platform == target.platform }
            .prefix(5).map { row -> EpisodeRow in
                var newer = row
                newer.fetchedAt += 1000
                newer.title = "replaced"
                return newer
            }
        try Self.writeInput(Array(replacement), to: folder + "/late.parquet")
        let second = try reducer.reduce(EpisodeRow.self, inputs: [folder + "/late.parquet"], runID: "run-2")
        #expect(second.partitions.map(\.directory) == [target.directory])
        let after = try Self.readBack(folder + "/processed")
        #expect(after.count == expected.count - target.rows + replacement.count)
        #expect(after.filter { $0.title == "replaced" }.count == replacement.count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.directory) == ["part-run-2-a0.parquet"])
        #expect(!contents(of: folder + "/processed").contains { $0.contains(".staging") || $0.contains(".old") })
    }

    @Test func aFileWithoutARequiredColumnIsAClearError() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/bad.parquet"
        let columns = EpisodeRow.parquetColumns.filter { $0.name != "missing_reason" }
        let writer = try ParquetWriter(path: path, schema: try ParquetSchema(columns))
        var g = SplitMix64(seed: 1)
        let row = randomEpisode(using: &g, keySpace: 10, day: Self.day)
        var cells = row.parquetValues
        cells.remove(at: EpisodeRow.parquetColumns.firstIndex { $0.name == "missing_reason" }!)
        try writer.append(row: cells)
        try writer.close()
        let reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        let error = #expect(throws: ReducerError.self) {
            _ = try reducer.reduce(EpisodeRow.self, inputs: [path], runID: "r")
        }
        #expect(error?.subject == path)
        #expect(error?.detail.contains("missing_reason") == true)
        #expect(!FileManager.default.fileExists(atPath: folder + "/processed/episodes"))
    }
}

@Suite struct ProcessedReducerRecoveryTests {
    @Test func anInterruptedSwapIsRepairedOnTheNextRun() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var g = SplitMix64(seed: 3)
        let rows = (0..<400).map { _ in randomEpisode(using: &g, keySpace: 300, day: ProcessedReducerTests.day) }
        try ProcessedReducerTests.writeInput(rows, to: folder + "/in.parquet")
        let reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        let summary = try reducer.reduce(EpisodeRow.self, inputs: [folder + "/in.parquet"], runID: "r1")
        let before = try ProcessedReducerTests.readBack(folder + "/processed").count
        #expect(before == summary.outputRows)

        // A crash between the two renames: one partition is only under its aside name, plus a stale staging folder.
        let victim = try #require(summary.partitions.first)
        let parent = String(victim.directory[..<victim.directory.lastIndex(of: "/")!])
        let name = String(victim.directory[victim.directory.index(after: victim.directory.lastIndex(of: "/")!)...])
        try FileManager.default.moveItem(atPath: victim.directory, toPath: parent + "/.old-r2-" + name)
        try FileManager.default.createDirectory(
            atPath: parent + "/.staging-r2-" + name, withIntermediateDirectories: true)
        #expect(try ProcessedReducerTests.readBack(folder + "/processed").count == before - victim.rows)

        try reducer.recover(.episodes)
        #expect(try ProcessedReducerTests.readBack(folder + "/processed").count == before)
        #expect(!contents(of: folder + "/processed").contains { $0.contains(".old-") || $0.contains(".staging-") })
    }
}

/// Several tables of one run are committed together or not at all.
@Suite struct ProcessedReducerCommitTests {
    static func genres(_ count: Int, seed: UInt64, fetchedAt: Int64) -> [GenreRow] {
        var g = SplitMix64(seed: seed)
        var rows: [GenreRow] = []
        for index in 0..<count {
            let genre = Int.random(in: 0..<5, using: &g)
            let platform = index % 2 == 0 ? "naver" : "kakao"
            let day = ProcessedReducerTests.day.adding(days: Int32(index % 2))
            rows.append(
                GenreRow(
                    platform: platform, titleID: Int64(index / 4), genreName: "genre-\(genre)", snapshotDate: day,
                    fetchedAt: fetchedAt))
        }
        return rows
    }

    /// Every file readers see under `processed/` (none in hidden folders) with its bytes.
    static func snapshot(_ root: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in contents(of: root)
        where path.hasSuffix(".parquet") && !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            files[path] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + path))
        }
        return files
    }

    @Test func aFailureOnALaterTableLeavesTheEarlierTablesUnchanged() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var g = SplitMix64(seed: 12)
        let episodes = (0..<300).map { _ in randomEpisode(using: &g, keySpace: 200, day: ProcessedReducerTests.day) }
        try ProcessedReducerTests.writeInput(episodes, to: folder + "/episodes-1.parquet")
        try ColumnarReduceTests.write(Self.genres(200, seed: 1, fetchedAt: 1), to: folder + "/genres-1.parquet", rowGroupRows: 50)
        let reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        let first = [
            try reducer.stage(GenreRow.self, inputs: [folder + "/genres-1.parquet"], runID: "r1"),
            try reducer.stage(EpisodeRow.self, inputs: [folder + "/episodes-1.parquet"], runID: "r1"),
        ]
        #expect(try Self.snapshot(folder + "/processed").isEmpty, "nothing is visible before the commit")
        try reducer.commit(first)
        let before = try Self.snapshot(folder + "/processed")
        #expect(before.count == first.reduce(0) { $0 + $1.summary.partitions.count })

        // Run 2: the genres stage fine (new rows, a new day), the episodes input lacks a column.
        var newer = Self.genres(200, seed: 2, fetchedAt: 5)
        newer += newer.map { var row = $0; row.snapshotDate = row.snapshotDate.adding(days: 5); return row }
        try ColumnarReduceTests.write(newer, to: folder + "/genres-2.parquet", rowGroupRows: 64)
        let columns = EpisodeRow.parquetColumns.filter { $0.name != "likes" }
        let writer = try ParquetWriter(path: folder + "/episodes-2.parquet", schema: try ParquetSchema(columns))
        try writer.close()
        let staged = try reducer.stage(GenreRow.self, inputs: [folder + "/genres-2.parquet"], runID: "r2")
        #expect(staged.summary.partitions.count == 4)
        #expect(throws: ReducerError.self) {
            _ = try reducer.stage(EpisodeRow.self, inputs: [folder + "/episodes-2.parquet"], runID: "r2")
        }
        reducer.discard([staged])
        #expect(try Self.snapshot(folder + "/processed") == before, "genres of run 2 must not be visible")
        #expect(!contents(of: folder + "/processed").contains { $0.contains(".staging") || $0.contains("day=29") })

        // The next reduce of run 2 with good inputs commits both tables.
        try ProcessedReducerTests.writeInput(Array(episodes.prefix(10)), to: folder + "/episodes-2.parquet")
        try reducer.commit([
            try reducer.stage(GenreRow.self, inputs: [folder + "/genres-2.parquet"], runID: "r2"),
            try reducer.stage(EpisodeRow.self, inputs: [folder + "/episodes-2.parquet"], runID: "r2"),
        ])
        let after = try Self.snapshot(folder + "/processed")
        #expect(after.keys.contains { $0.contains("day=29") })
        #expect(after.keys.contains { $0.hasPrefix("episodes/") && $0.hasSuffix("part-r2-a0.parquet") })
    }

    @Test func aCommitInterruptedAfterItsJournalIsFinishedByTheNextRecover() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        try ColumnarReduceTests.write(Self.genres(100, seed: 1, fetchedAt: 1), to: folder + "/g1.parquet", rowGroupRows: 50)
        var g = SplitMix64(seed: 5)
        let episodes = (0..<100).map { _ in randomEpisode(using: &g, keySpace: 80, day: ProcessedReducerTests.day) }
        try ProcessedReducerTests.writeInput(episodes, to: folder + "/e1.parquet")
        var reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        try reducer.commit([
            try reducer.stage(GenreRow.self, inputs: [folder + "/g1.parquet"], runID: "r1"),
            try reducer.stage(EpisodeRow.self, inputs: [folder + "/e1.parquet"], runID: "r1"),
        ])
        let staged = [
            try reducer.stage(GenreRow.self, inputs: [folder + "/g1.parquet"], runID: "r2"),
            try reducer.stage(EpisodeRow.self, inputs: [folder + "/e1.parquet"], runID: "r2"),
        ]
        let swaps = staged.reduce(0) { $0 + $1.summary.partitions.count }
        #expect(swaps > 2)
        struct Crash: Error {}
        reducer.afterSwap = { index in if index == 1 { throw Crash() } }
        #expect(throws: Crash.self) { try reducer.commit(staged) }
        let names = try Self.snapshot(folder + "/processed").keys
        #expect(names.contains { $0.hasSuffix("part-r2-a0.parquet") } && names.contains { $0.hasSuffix("part-r1-a0.parquet") })

        // The next start (any table) rolls the whole commit forward: every partition is run 2's.
        reducer.afterSwap = nil
        try reducer.recover(.titles)
        let recovered = try Self.snapshot(folder + "/processed")
        #expect(recovered.count == swaps)
        #expect(recovered.keys.allSatisfy { $0.hasSuffix("part-r2-a0.parquet") })
        #expect(!contents(of: folder + "/processed").contains { $0.contains(".staging") || $0.contains(".old") || $0.contains(".commit") })
    }
}
