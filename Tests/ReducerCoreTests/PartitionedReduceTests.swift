import Foundation
import ParquetKit
@testable import ReducerCore
import Testing

/// The columnar reduce on two workers (each owning whole (day, platform) partitions) against one worker: the same
/// files byte for byte, whether they spill or not, and the same errors.
@Suite struct PartitionedReduceTests {
    static let day = CalendarDay(year: 2026, month: 11, day: 24)!

    /// Episodes over 3 days × 2 platforms (6 partitions), with duplicates, in 3 files of small row groups.
    static func writeInputs(_ folder: String, rows count: Int, seed: UInt64) throws -> ([String], [EpisodeRow]) {
        var g = SplitMix64(seed: seed)
        let rows = (0..<count).map { _ in randomEpisode(using: &g, keySpace: count / 2, day: day) }
        var paths: [String] = []
        for file in 0..<3 {
            let path = folder + "/in-\(file).parquet"
            let part = rows.enumerated().filter { $0.offset % 3 == file }.map(\.element)
            try ColumnarReduceTests.write(part, to: path, rowGroupRows: 700)
            paths.append(path)
        }
        return (paths, rows)
    }

    /// Every file under `root`, by its path relative to `root`, with its bytes.
    static func files(under root: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for path in contents(of: root) where path.hasSuffix(".parquet") {
            result[path] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + path))
        }
        return result
    }

    func reduce(_ paths: [String], _ folder: String, budget: Int, workers: Int, name: String) throws -> ReduceSummary {
        let reducer = ProcessedReducer(
            outputRoot: folder + "/" + name,
            sortConfiguration: ExternalSortConfiguration(
                memoryBudget: budget, spillDirectory: folder, partitionWorkers: workers),
            logger: testLogger)
        return try reducer.reduce(EpisodeRow.self, inputs: paths, runID: "same")
    }

    @Test(arguments: [(4 << 20, true), (256 << 20, false)])
    func twoWorkersWriteTheSameFilesAsOne(budget: Int, spills: Bool) throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let (paths, rows) = try Self.writeInputs(folder, rows: 30_000, seed: 5)
        let one = try reduce(paths, folder, budget: budget, workers: 1, name: "one")
        let two = try reduce(paths, folder, budget: budget, workers: 2, name: "two")
        #expect(one.sort.partitionWorkers == 1)
        #expect(two.sort.partitionWorkers == 2, "the budget must be large enough to share")
        #expect((one.sort.spilledRuns > 0) == spills)
        #expect((two.sort.spilledRuns > 0) == spills)
        #expect(one.partitions.count == 6)
        #expect(one.partitions.map(\.rows) == two.partitions.map(\.rows))
        #expect(one.partitions.map { "\($0.snapshotDate)/\($0.platform)" } == two.partitions.map { "\($0.snapshotDate)/\($0.platform)" })
        #expect(one.outputRows == ColumnarReduceTests.reference(rows).count)
        let first = try Self.files(under: folder + "/one")
        let second = try Self.files(under: folder + "/two")
        #expect(first.count == 6)
        #expect(first.keys.sorted() == second.keys.sorted())
        for (path, bytes) in first { #expect(second[path] == bytes, "\(path) differs") }
        // Several row groups per file, cut by rows: what keeps the files independent of spills and workers.
        let reader = try ParquetReader(path: folder + "/one/" + first.keys.sorted()[0])
        if spills { #expect(reader.rowGroupCount >= 2) }
        #expect(!contents(of: folder).contains { $0.contains("webtoon-sort-") }, "spill files left behind")
    }

    /// A bad row met by one worker fails the whole reduce with the row's own error; nothing is staged and no
    /// spill file is left.
    @Test func anInvalidRowFailsBothWorkersCleanly() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var g = SplitMix64(seed: 8)
        var rows = (0..<20_000).map { _ in randomEpisode(using: &g, keySpace: 10_000, day: Self.day) }
        var bad = rows[15_000]
        bad.likes = -1
        bad.missingReason = nil
        rows[15_000] = bad
        try ColumnarReduceTests.write(rows, to: folder + "/in.parquet", rowGroupRows: 900)
        // Two workers really run at this budget (else the test would only repeat the one-worker case).
        let layout = try #require(ColumnarLayout(EpisodeRow.self))
        let footers = ColumnarInput(layout: layout, sliceBytes: ColumnarMemoryPlan(budget: 4 << 20).sliceBytes)
            .footers([folder + "/in.parquet"])
        let shared = PartitionedColumnarReduce<EpisodeRow>.workerConfiguration(
            ExternalSortConfiguration(memoryBudget: 4 << 20, spillDirectory: folder, partitionWorkers: 2),
            footers: footers)
        #expect(shared != nil)
        let error = #expect(throws: ReducerError.self) {
            _ = try reduce([folder + "/in.parquet"], folder, budget: 4 << 20, workers: 2, name: "out")
        }
        #expect(error == ReducerError.captured { () throws(ReducerError) in try bad.validate() })
        #expect(!contents(of: folder + "/out").contains { $0.hasSuffix(".parquet") })
        #expect(!contents(of: folder).contains { $0.contains("webtoon-sort-") }, "spill files left behind")
    }

    /// The spill blocks' checksum is XXH64 as published (values from the reference implementation).
    @Test func spillChecksumIsXXH64() {
        func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 { bytes.withUnsafeBytes { XXH64.hash($0, seed: seed) } }
        #expect(hash([]) == 0xEF46_DB37_51D8_E999)
        #expect(hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(hash(Array(0..<40)) == 0xF5DA_40F1_B117_41E9)
        #expect(hash(Array(0..<40), seed: 0x0000_0005_0000_0003) == 0x2B91_5906_8B48_5E92)
        let long = Array((0..<3).flatMap { _ in (0...255).map { UInt8($0) } }) + Array("xyz".utf8)
        #expect(hash(long) == 0xE921_A1B4_5BD7_79F8)
    }
}
