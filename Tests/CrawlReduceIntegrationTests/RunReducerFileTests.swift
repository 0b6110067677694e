import ClusterCore
import CrawlCluster
@testable import CrawlReduce
import Crypto
import Foundation
import ParquetKit
import ReducerCore
import Testing
import WebtoonCore

/// `RunReducer` on hand-written accepted files (real Parquet on disk, no database): the episode ⟕ stats join across
/// units and the NULL-with-reason rule, end to end through `processed/`.
@Suite struct RunReducerFileTests {
    static let date = CrawlDate("2026-11-25")!

    func episode(_ id: Int64) -> EpisodeRecord {
        EpisodeRecord(
            platform: .naver, titleId: 7, episodeId: id, no: id, title: "\(id)화", publishedDate: CrawlDate("2026-11-0\(id)"),
            publishedSource: nil, thumbnailUrl: "https://img/\(id)", paid: nil, crawlDate: Self.date, fetchedAt: 5_000)
    }

    func stats(_ id: Int64, likes: Int64) -> EpisodeStatsRecord {
        EpisodeStatsRecord(
            platform: .naver, titleId: 7, episodeId: id, likes: likes, comments: 3, rating: 9.5, ratingCount: nil,
            views: nil, missingReason: nil, crawlDate: Self.date, fetchedAt: 6_000)
    }

    @Test func episodesJoinStatsAcrossUnitsAndKeepNullsWithReasons() throws {
        let root = NSTemporaryDirectory() + "runreducer-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        var list = RecordBatch()
        list.titles = [
            TitleRecord(
                platform: .naver, titleId: 7, name: "t", author: "a", thumbnailUrl: "https://img/t", weekdays: [2],
                completed: false, adult: false, crawlDate: Self.date, fetchedAt: 1_000)
        ]
        var u1 = RecordBatch()
        u1.episodes = [episode(1), episode(2), episode(3)]
        u1.episodeStats = [stats(1, likes: 10)]
        var u2 = RecordBatch()
        u2.episodeStats = [stats(2, likes: 20)]
        let files = try writeAcceptedFiles(list, unit: "list", root: root) + writeAcceptedFiles(u1, unit: "u1", root: root)
            + writeAcceptedFiles(u2, unit: "u2", root: root)

        let reducer = RunReducer(dataRoot: try DataRoot(url: "file://" + root), memoryBudget: 4 << 20, logger: testLogger)
        let summary = try reducer.reduce(files: files, runID: "2026-11-25.full.naver")
        #expect(summary.slices == [ProcessedSlice(snapshotDate: CalendarDay("2026-11-25")!, platform: "naver")])
        let partition = try #require(summary.tables.first { $0.table == .episodes }?.partitions.first)
        let rows = try ProcessedFileReader<EpisodeRow>(path: partition.file, platform: "naver").nextRowGroup() ?? []
        #expect(rows.map(\.episodeID) == [1, 2, 3])
        #expect(rows.map(\.likes) == [10, 20, nil])
        #expect(rows[2].comments == nil && rows[2].missingReason != nil && rows[0].missingReason == nil)
        #expect(rows[0].publishedDate == CalendarDay("2026-11-01"))
        // A title without a detail file still gets its row (no views, not restricted) rather than vanishing.
        let titles = try #require(summary.tables.first { $0.table == .titles })
        #expect(titles.outputRows == 1)
        #expect(!FileManager.default.fileExists(atPath: root + "/.reduce-staging-2026-11-25_full_naver"))

        // A manifest that disagrees with the file (one byte more than written) is refused by name, before any change.
        var wrong = files
        let index = try #require(wrong.firstIndex { $0.file.table == "episode_stats" })
        let f = wrong[index].file
        wrong[index] = UnitFile(unit: wrong[index].unit, file: OutputFile(path: f.path, table: f.table, rows: f.rows, bytes: f.bytes + 1, sha256: f.sha256))
        let before = try Data(contentsOf: URL(fileURLWithPath: partition.file))
        #expect {
            try reducer.reduce(files: wrong, runID: "2026-11-25.full.naver")
        } throws: { error in
            guard let error = error as? CrawlReduceError else { return false }
            return error.code == .corruptInput && error.subject == root + "/" + f.path
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: partition.file)) == before)
    }

    /// Accepted files that are not under the data root fail the reduce before anything is read: all of them missing
    /// points at the wrong `--data-root`, some missing names the first and how many.
    @Test func missingAcceptedFilesAreNamedBeforeAnythingIsRead() throws {
        let root = NSTemporaryDirectory() + "runreducer-" + UUID().uuidString
        let elsewhere = NSTemporaryDirectory() + "runreducer-other-" + UUID().uuidString
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
        var batch = RecordBatch()
        batch.episodes = [episode(1), episode(2)]
        batch.episodeStats = [stats(1, likes: 10), stats(2, likes: 20)]
        let files = try writeAcceptedFiles(batch, unit: "u1", root: root)
        #expect(files.count == 2)

        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let wrongRoot = RunReducer(dataRoot: try DataRoot(url: "file://" + elsewhere), memoryBudget: 4 << 20, logger: testLogger)
        #expect {
            try wrongRoot.reduce(files: files, runID: "run-1")
        } throws: { error in
            guard let error = error as? CrawlReduceError else { return false }
            return error.code == .unreadableInput && error.subject == elsewhere
                && error.description.contains("none of the 2 files") && error.description.contains("--data-root")
        }
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/processed"))

        try FileManager.default.removeItem(atPath: root + "/" + files[1].file.path)
        let reducer = RunReducer(dataRoot: try DataRoot(url: "file://" + root), memoryBudget: 4 << 20, logger: testLogger)
        #expect {
            try reducer.reduce(files: files, runID: "run-1")
        } throws: { error in
            guard let error = error as? CrawlReduceError else { return false }
            return error.code == .unreadableInput && error.subject == root + "/" + files[1].file.path
                && error.description.contains("1 of the 2 files")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/processed"))
    }

    /// A reduce that fails on its last table (episodes) after titles and genres were staged changes none of them.
    @Test func aFailureOnALaterTableLeavesEveryTableAsItWas() throws {
        let root = NSTemporaryDirectory() + "runreducer-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        func run(name: String, likes: Int64) throws -> [UnitFile] {
            var batch = RecordBatch()
            batch.titles = [
                TitleRecord(
                    platform: .naver, titleId: 7, name: name, author: "a", thumbnailUrl: "https://img/t",
                    weekdays: [2], completed: false, adult: false, crawlDate: Self.date, fetchedAt: 1_000)
            ]
            batch.episodes = [episode(1), episode(2)]
            batch.episodeStats = [stats(1, likes: likes), stats(2, likes: likes)]
            return try writeAcceptedFiles(batch, unit: "u-\(name)", root: root)
        }
        let processed = root + "/processed"
        func snapshot() throws -> [String: Data] {
            var files: [String: Data] = [:]
            for path in try FileManager.default.subpathsOfDirectory(atPath: processed) where path.hasSuffix(".parquet") {
                files[path] = try Data(contentsOf: URL(fileURLWithPath: processed + "/" + path))
            }
            return files
        }
        var reducer = RunReducer(dataRoot: try DataRoot(url: "file://" + root), memoryBudget: 4 << 20, logger: testLogger)
        _ = try reducer.reduce(files: try run(name: "first", likes: 10), runID: "run-1")
        let before = try snapshot()
        #expect(before.keys.contains { $0.hasPrefix("titles/") } && before.keys.contains { $0.hasPrefix("episodes/") })

        struct Injected: Error {}
        reducer.failureInjection = { table in if table == .episodes { throw Injected() } }
        let second = try run(name: "second", likes: 20)
        #expect(throws: Injected.self) { try reducer.reduce(files: second, runID: "run-2") }
        #expect(try snapshot() == before, "titles and genres were staged, not swapped in")
        #expect(!((try? FileManager.default.subpathsOfDirectory(atPath: processed)) ?? []).contains { $0.contains(".staging") })

        reducer.failureInjection = nil
        let summary = try reducer.reduce(files: second, runID: "run-2")
        let title = try #require(summary.tables.first { $0.table == .titles }?.partitions.first)
        let titles = try ProcessedFileReader<TitleRow>(path: title.file, platform: "naver").nextRowGroup() ?? []
        #expect(titles.map(\.title) == ["second"])
    }
}
