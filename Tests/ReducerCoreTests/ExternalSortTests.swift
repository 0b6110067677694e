import Foundation
import ReducerCore
import ProcessTestSupport
import Testing

@Suite struct ExternalSortTests {
    static let day = CalendarDay(year: 2026, month: 11, day: 25)!

    /// The reference: group by sort key, keep the highest (fetchedAt, encoded bytes), order by key.
    static func reference(_ rows: [EpisodeRow]) -> [EpisodeRow] {
        var best: [[UInt8]: (EpisodeRow, [UInt8])] = [:]
        for row in rows {
            let key = sortKey(row)
            let bytes = encoded(row)
            if let (current, currentBytes) = best[key] {
                let newer =
                    row.fetchedAt != current.fetchedAt
                    ? row.fetchedAt > current.fetchedAt
                    : currentBytes.lexicographicallyPrecedes(bytes)
                if newer { best[key] = (row, bytes) }
            } else {
                best[key] = (row, bytes)
            }
        }
        return best.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { best[$0]!.0 }
    }

    static func sort(
        _ rows: [EpisodeRow], budget: Int, blockBytes: Int, folder: String
    ) throws -> ([EpisodeRow], ExternalSortStatistics) {
        let sorter = try ProcessedRowSorter<EpisodeRow>(
            configuration: ExternalSortConfiguration(
                memoryBudget: budget, spillDirectory: folder, blockBytes: blockBytes),
            logger: testLogger)
        for row in rows { try sorter.add(row) }
        var output: [EpisodeRow] = []
        let statistics = try sorter.finish { output.append($0) }
        return (output, statistics)
    }

    @Test(arguments: 0..<24)
    func matchesInMemorySortAndDedup(seed: UInt64) throws {
        var g = SplitMix64(seed: seed &* 7919)
        let count = Int.random(in: 0...3000, using: &g)
        let keySpace = Int.random(in: 1...max(1, count), using: &g)
        let rows = (0..<count).map { _ in randomEpisode(using: &g, keySpace: keySpace, day: Self.day) }
        let blockBytes = [64, 256, 4096].randomElement(using: &g)!
        // From a budget that forces a run every few rows (and multi-pass merges) to one that never spills.
        // (A budget of 2 KiB still holds records of up to 512 bytes; generated ones stay under 200.)
        let budget = [max(2048, 4 * blockBytes), 16 << 10, 64 << 10, 8 << 20].randomElement(using: &g)!
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let (output, statistics) = try Self.sort(rows, budget: budget, blockBytes: blockBytes, folder: folder)
        let expected = Self.reference(rows)
        #expect(output == expected, "seed \(seed): \(rows.count) rows, budget \(budget), block \(blockBytes)")
        #expect(statistics.inputRecords == rows.count)
        #expect(statistics.outputRecords == expected.count)
        #expect(contents(of: folder).isEmpty, "spill files left behind")
    }

    @Test func tinyBudgetMergesInSeveralPassesAndSameResultInAnyInputOrder() throws {
        var g = SplitMix64(seed: 5)
        let rows = (0..<4000).map { _ in randomEpisode(using: &g, keySpace: 900, day: Self.day) }
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let (output, statistics) = try Self.sort(rows, budget: 2048, blockBytes: 256, folder: folder)
        #expect(statistics.spilledRuns > 2 * ExternalSortConfiguration(memoryBudget: 2048, blockBytes: 256).mergeFanIn)
        #expect(statistics.mergePasses > 1)
        #expect(output == Self.reference(rows))
        let (shuffled, _) = try Self.sort(rows.shuffled(using: &g), budget: 2048, blockBytes: 256, folder: folder)
        #expect(shuffled == output)
    }

    @Test func latestFetchWinsThenTheDeterministicTiebreak() throws {
        let base = EpisodeRow(
            platform: "naver", titleID: 1, episodeID: 10, no: 1, title: "old", likes: 5, comments: 1, rating: nil,
            imageURL: "", publishedDate: nil, snapshotDate: Self.day, fetchedAt: 100, missingReason: nil)
        var newer = base
        newer.title = "new"
        newer.fetchedAt = 200
        var sameTimeA = base
        sameTimeA.title = "a"
        sameTimeA.fetchedAt = 300
        var sameTimeB = sameTimeA
        sameTimeB.title = "b"
        var otherPlatform = base
        otherPlatform.platform = "kakao"  // same ids, different platform: never merged with Naver's row
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        for order in [[base, newer], [newer, base]] {
            let (output, _) = try Self.sort(order + [otherPlatform], budget: 1 << 20, blockBytes: 4096, folder: folder)
            #expect(output.map(\.title) == ["old", "new"])  // kakao sorts before naver
            #expect(output.map(\.platform) == ["kakao", "naver"])
        }
        let tieWinner = encoded(sameTimeA).lexicographicallyPrecedes(encoded(sameTimeB)) ? "b" : "a"
        for order in [[sameTimeA, sameTimeB, base], [base, sameTimeB, sameTimeA]] {
            let (output, _) = try Self.sort(order, budget: 1 << 20, blockBytes: 4096, folder: folder)
            #expect(output.map(\.title) == [tieWinner])
        }
    }

    @Test func corruptSpillBlockIsAClearError() throws {
        var g = SplitMix64(seed: 9)
        let rows = (0..<2000).map { _ in randomEpisode(using: &g, keySpace: 10_000, day: Self.day) }
        for damage in ["flip", "truncate", "footer"] {
            let folder = try makeTemporaryFolder()
            defer { removeTemporaryFolder(folder) }
            let sorter = try ProcessedRowSorter<EpisodeRow>(
                configuration: ExternalSortConfiguration(
                    memoryBudget: 32 << 10, spillDirectory: folder, blockBytes: 1024),
                logger: testLogger)
            for row in rows { try sorter.add(row) }
            let runs = contents(of: folder).filter { $0.hasSuffix(".bin") }
            let run = try #require(runs.first, "no spill file was written")
            let path = folder + "/" + run
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            switch damage {
            case "flip": bytes[bytes.count / 2] ^= 0x10
            case "truncate": bytes.removeLast(bytes.count / 3)
            default: bytes.removeLast(16)  // a run without its footer
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            var delivered = 0
            let error = #expect(throws: ReducerError.self) { _ = try sorter.finish { _ in delivered += 1 } }
            #expect(error?.code == .corruptSpill, "\(damage): \(String(describing: error))")
            #expect(error?.subject == path, "the error names the file")
            #expect(contents(of: folder).isEmpty, "\(damage): spill files left behind after the error")
        }
    }

    @Test func misuseAndLimitsAreErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        #expect(throws: ReducerError.self) {
            _ = try ExternalSorter(
                configuration: ExternalSortConfiguration(memoryBudget: 100, blockBytes: 64), logger: testLogger)
        }
        let sorter = try ExternalSorter(
            configuration: ExternalSortConfiguration(memoryBudget: 4096, spillDirectory: folder, blockBytes: 256),
            logger: testLogger)
        let big = [UInt8](repeating: 1, count: 2000)
        let tooLarge = #expect(throws: ReducerError.self) {
            try big.withUnsafeBytes { try sorter.add(key: $0, version: 0, payload: $0) }
        }
        #expect(tooLarge?.code == .recordTooLarge)
        _ = try sorter.finish { _, _, _ in }
        let misuse = #expect(throws: ReducerError.self) {
            try [UInt8(1)].withUnsafeBytes { try sorter.add(key: $0, version: 0, payload: $0) }
        }
        #expect(misuse?.code == .misuse)
    }

    @Test func invalidRowsAreRefusedOnAdd() throws {
        let sorter = try ProcessedRowSorter<TitleRow>(logger: testLogger)
        let row = TitleRow(
            platform: "naver", id: 1, title: "t", author: "a", views: nil, favoriteCount: nil, imageURL: "",
            releaseDay: 9, isCompleted: false, restricted: false, ageRating: nil, snapshotDate: Self.day, fetchedAt: 0)
        let error = #expect(throws: ReducerError.self) { try sorter.add(row) }
        #expect(error?.code == .invalidRow)
        #expect(error?.subject == "titles")
    }

    /// Runs `reducer-memcheck` (a separate process, so VmHWM is its own) on a small and on a ≥ 200 MB input with an
    /// 8 MiB budget: the peak RSS must grow by about the budget, not with the input.
    @Test func memoryStaysBoundedByTheBudgetOnAnInputFarLargerThanIt() throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("reducer-memcheck").path
        try #require(
            FileManager.default.isExecutableFile(atPath: executable),
            "\(executable) is missing: build it with `swift build --product reducer-memcheck` (swift build builds it)")
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let budget = 8 << 20
        func run(unique: Int, copies: Int) throws -> [String: Double] {
            let (status, data, errors) = runCapturing(
                executable,
                ["--unique", "\(unique)", "--copies", "\(copies)", "--budget", "\(budget)", "--padding", "300", "--spill", folder])
            try #require(status == 0, "reducer-memcheck failed: \(String(decoding: errors, as: UTF8.self))")
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            return try #require(object?.compactMapValues { ($0 as? NSNumber)?.doubleValue })
        }
        let small = try run(unique: 2000, copies: 2)
        let large = try run(unique: 155_000, copies: 4)
        let inputBytes = try #require(large["inputBytes"])
        #expect(inputBytes >= 200e6, "input must be far larger than the budget")
        #expect(try #require(large["spilledRuns"]) >= 20)
        #expect(large["outputRows"] == 155_000)
        let growthKiB = try #require(large["vmHWMKiB"]) - (try #require(small["vmHWMKiB"]))
        // Budget (arena) plus merge buffers (half the budget) plus allocator slack; the input is 25× the budget.
        #expect(growthKiB * 1024 < Double(budget) * 2 + Double(4 << 20), "peak RSS grew by \(growthKiB) KiB")
        #expect(contents(of: folder).isEmpty)
    }
}
