import Foundation
import ParquetKit
import ProcessTestSupport
import ReducerCore
import Testing

/// The columnar path (what `webtoon reduce` uses) within its memory budget, on pyarrow-written inputs: large row
/// groups with dictionary-encoded and PLAIN pages, NULLs, zstd — as workers and the benchmark write them.
@Suite struct ColumnarMemoryTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func python() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
            "WEBTOON_PYTHON must point at the venv python with pyarrow (cluster/setup.sh sets it)")
    }

    /// Runs a program and returns its standard output; fails the test with its standard error.
    func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let (status, output, errors) = runCapturing(executable, arguments)
        try #require(status == 0, "\(executable) failed: \(String(decoding: errors, as: UTF8.self))")
        return output
    }

    /// `generate_episodes.py` (the benchmark's generator): every key `copies` times, random fetch times.
    func generate(_ folder: String, unique: Int, copies: Int, files: Int, group: Int) throws {
        _ = try run(
            try python(),
            [
                Self.repository.appendingPathComponent("cluster/bench/reducer/generate_episodes.py").path, folder,
                "--unique", "\(unique)", "--copies", "\(copies)", "--files", "\(files)", "--group", "\(group)",
            ])
    }

    func parquetFiles(_ folder: String) -> [String] {
        contents(of: folder).filter { $0.hasSuffix(".parquet") }.map { folder + "/" + $0 }
    }

    /// Peak RSS of a child `reducer-memcheck reduce` (VmHWM counts only that process), on a small input and on one
    /// whose decoded rows are many times the budget, with row groups each larger than the budget by themselves.
    @Test func peakMemoryStaysWithinTheBudgetOnAnInputFarLargerThanIt() throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("reducer-memcheck").path
        try #require(
            FileManager.default.isExecutableFile(atPath: executable),
            "\(executable) is missing: build it with `swift build --product reducer-memcheck` (swift build builds it)")
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let budget = 24 << 20
        try generate(folder + "/small", unique: 2000, copies: 2, files: 1, group: 4000)
        try generate(folder + "/large", unique: 200_000, copies: 3, files: 3, group: 200_000)
        func reduce(_ input: String) throws -> [String: Double] {
            let data = try run(
                executable,
                ["reduce", "--budget", "\(budget)", "--out", folder + "/out-" + input, "--spill", folder + "/spill"]
                    + parquetFiles(folder + "/" + input))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            return try #require(object?.compactMapValues { ($0 as? NSNumber)?.doubleValue })
        }
        try FileManager.default.createDirectory(atPath: folder + "/spill", withIntermediateDirectories: true)
        let small = try reduce("small")
        let large = try reduce("large")
        #expect(small["spilledRuns"] == 0)
        #expect(large["outputRows"] == 200_000)
        #expect(try #require(large["spilledRuns"]) >= 4, "the input must spill several runs")
        // ~190 decoded bytes per row: 600,000 rows are ~114 MB, 4.5× the budget; each 200,000-row group alone 1.5×.
        let reader = try ParquetReader(path: parquetFiles(folder + "/large")[0])
        let decodedGroup = try reader.storedBytes(ofRowGroup: 0).uncompressed
        #expect(decodedGroup > budget, "a row group must not fit the budget by itself")
        let growth = (try #require(large["vmHWMKiB"]) - (try #require(small["vmHWMKiB"]))) * 1024
        // Allowed: the budget plus 8 MiB — malloc's free lists and per-thread arenas between two trims (the freed
        // slices and chunks it keeps for reuse) and the Dispatch threads' stacks; everything the reducer holds is in
        // the budget. The debug build measured 26.2–30.4 MB of growth over nine runs (budget + 2.2–6.4 MiB: which
        // threads allocate varies), so budget + 4 MiB failed about one run in five. What this must catch stays far
        // above: a doubled sort limit grew 47.5 MB, whole row-group reads 119 MB.
        #expect(growth < Double(budget + (8 << 20)), "peak RSS grew by \(Int(growth) >> 10) KiB, budget \(budget >> 10) KiB")
        #expect(contents(of: folder + "/spill").isEmpty)
        // Row groups small enough for two workers (each reads every group within half the budget): the same bound.
        try generate(folder + "/grouped", unique: 200_000, copies: 3, files: 3, group: 20_000)
        let grouped = try reduce("grouped")
        #expect(grouped["workers"] == 2, "each worker's half of the budget must hold two row groups' reserve")
        #expect(grouped["outputRows"] == 200_000)
        #expect(try #require(grouped["spilledRuns"]) >= 4)
        let twoWorkers = (try #require(grouped["vmHWMKiB"]) - (try #require(small["vmHWMKiB"]))) * 1024
        #expect(
            twoWorkers < Double(budget + (8 << 20)),
            "two workers: peak RSS grew by \(Int(twoWorkers) >> 10) KiB, budget \(budget >> 10) KiB")
        #expect(contents(of: folder + "/spill").isEmpty)
    }

    /// Slices of a row group, read page by page, equal the whole group read at once (dictionary pages whose
    /// lookups wait for their rows, PLAIN fallback pages, NULLs), for several slice sizes.
    @Test func slicedRowGroupsEqualWholeRowGroups() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        try generate(folder, unique: 60_000, copies: 1, files: 1, group: 60_000)
        let reader = try ParquetReader(path: parquetFiles(folder)[0])
        let whole = try reader.readRowGroup(0)
        // What the slices must cope with: dictionary pages, PLAIN pages after the dictionary filled up, NULLs.
        let encodings = Set(whole.columns.indices.flatMap { reader.encodings(rowGroup: 0, column: $0) })
        #expect(encodings.isSuperset(of: ["RLE_DICTIONARY", "PLAIN"]), "encodings \(encodings)")
        #expect(whole.columns.contains { $0.validity?.contains(false) == true })
        for rows in [999, 4096, 100_000] {
            var slices: [ColumnBatch] = []
            var heldAtEnd = -1
            try reader.readRowGroup(0, slicesOf: rows) { slice, held in
                slices.append(slice)
                heldAtEnd = held
            }
            #expect(slices.count == (60_000 + rows - 1) / rows)
            #expect(slices.dropLast().allSatisfy { $0.rowCount == rows })
            #expect(heldAtEnd >= 0)
            for column in whole.columns.indices {
                var index = 0
                for slice in slices {
                    for row in 0..<slice.rowCount {
                        let type = reader.schema.columns[column].type
                        if slice.columns[column].value(at: row, as: type) != whole.columns[column].value(at: index, as: type) {
                            Issue.record("slices of \(rows): column \(column) row \(index) differs")
                            return
                        }
                        index += 1
                    }
                }
                #expect(index == 60_000)
            }
        }
    }
}
