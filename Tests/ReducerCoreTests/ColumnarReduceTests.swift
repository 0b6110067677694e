import Foundation
import ParquetKit
import ReducerCore
import Testing

/// The columnar reduce against a plain in-memory dedup (latest fetch, then the larger encoded row) on random inputs:
/// duplicates, equal fetch times, NULLs, string keys sharing long prefixes, several files and row groups, several
/// days and both platforms, budgets from tiny (spills, multi-pass merges) to roomy (no spill).
@Suite struct ColumnarReduceTests {
    static let day = CalendarDay(year: 2026, month: 11, day: 24)!

    /// Key strings that tie on their first 8 bytes, differ only after a NUL, or are multi-byte.
    static let keyStrings = [
        "a", "a\u{0}", "a\u{0}b", "abcdefgh", "abcdefghi", "abcdefghij", "abcdefgi", "웹툰웹툰웹툰", "웹툰웹툰웹", "z",
        "abcdefgh\u{0}",
    ]

    static func reference<Row: ProcessedRow>(_ rows: [Row]) -> [Row] {
        var best: [[UInt8]: (Row, [UInt8])] = [:]
        for row in rows {
            let key = sortKey(row)
            let bytes = encoded(row)
            if let (current, currentBytes) = best[key] {
                let newer =
                    row.fetchedAt != current.fetchedAt
                    ? row.fetchedAt > current.fetchedAt : currentBytes.lexicographicallyPrecedes(bytes)
                if newer { best[key] = (row, bytes) }
            } else {
                best[key] = (row, bytes)
            }
        }
        return best.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { best[$0]!.0 }
    }

    static func write<Row: ParquetRow>(_ rows: [Row], to path: String, rowGroupRows: Int) throws {
        var options = ParquetWriterOptions()
        options.rowGroupRows = rowGroupRows
        let writer = try ParquetWriter(path: path, schema: try ParquetSchema(Row.parquetColumns), options: options)
        for row in rows { try writer.append(row: row.parquetValues) }
        try writer.close()
    }

    /// Every row under `processed/TABLE`, file by file; each file must be in key order.
    static func readBack<Row: ParquetRow>(_: Row.Type, _ root: String) throws -> [Row] {
        var rows: [Row] = []
        for partition in try ParquetDataset(root: root + "/" + Row.table.rawValue).partitions() {
            let platform = try #require(partition.partition.value(of: "platform"))
            for file in partition.files {
                var fileRows: [Row] = []
                try ProcessedReducer.readRows(Row.self, from: file, platform: platform) { fileRows.append($0) }
                let keys = fileRows.map(sortKey)
                #expect(zip(keys, keys.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) }, "\(file)")
                rows += fileRows
            }
        }
        return rows
    }

    /// Reduces `rows` split over random files and row groups with `budget`, and compares with the reference.
    static func check<Row: ParquetRow>(
        _ rows: [Row], budget: Int, seed: UInt64, expectSpill: Bool? = nil, minimumMergePasses: Int = 0
    ) throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var g = SplitMix64(seed: seed)
        let fileCount = Int.random(in: 1...4, using: &g)
        var files: [[Row]] = Array(repeating: [], count: fileCount)
        for row in rows { files[Int.random(in: 0..<fileCount, using: &g)].append(row) }
        var paths: [String] = []
        for (index, fileRows) in files.enumerated() where !fileRows.isEmpty {
            let path = folder + "/in-\(index).parquet"
            try write(fileRows, to: path, rowGroupRows: Int.random(in: 17...600, using: &g))
            paths.append(path)
        }
        let reducer = ProcessedReducer(
            outputRoot: folder + "/processed",
            sortConfiguration: ExternalSortConfiguration(
                memoryBudget: budget, spillDirectory: folder, blockBytes: min(64 << 10, budget / 16)),
            logger: testLogger)
        let summary = try reducer.reduce(Row.self, inputs: paths, runID: "prop")
        let expected = reference(rows)
        #expect(summary.inputRows == rows.count)
        #expect(summary.outputRows == expected.count)
        if let expectSpill { #expect((summary.sort.spilledRuns > 0) == expectSpill) }
        #expect(summary.sort.mergePasses >= minimumMergePasses)
        let back = try readBack(Row.self, folder + "/processed")
        let sorted = back.sorted { sortKey($0).lexicographicallyPrecedes(sortKey($1)) }
        #expect(sorted.count == expected.count)
        for (got, want) in zip(sorted, expected) where got != want {
            Issue.record("\(Row.table): got \(got), expected \(want)")
            break
        }
        #expect(Set(summary.partitions.map { "\($0.snapshotDate)/\($0.platform)" }).count == summary.partitions.count)
        #expect(!contents(of: folder + "/processed").contains { $0.contains(".staging") || $0.contains(".old") })
        #expect(!contents(of: folder).contains { $0.contains("webtoon-sort-") }, "spill files left behind")
    }

    static func episodes(_ count: Int, keySpace: Int, seed: UInt64) -> [EpisodeRow] {
        var g = SplitMix64(seed: seed)
        var rows: [EpisodeRow] = []
        for _ in 0..<count {
            if let previous = rows.last, Int.random(in: 0..<10, using: &g) == 0 {
                rows.append(previous)  // an exact duplicate
                continue
            }
            var row = randomEpisode(using: &g, keySpace: keySpace, day: day)
            row.fetchedAt = Int64.random(in: -2...3, using: &g)
            row.titleID = Int64.random(in: -3...3, using: &g) * (Bool.random(using: &g) ? 1 : Int64.max / 4)
            rows.append(row)
        }
        return rows
    }

    static func genres(_ count: Int, seed: UInt64) -> [GenreRow] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            GenreRow(
                platform: Bool.random(using: &g) ? "naver" : "kakao", titleID: Int64.random(in: -2...2, using: &g),
                genreName: keyStrings.randomElement(using: &g)!, snapshotDate: day.adding(days: Int32.random(in: 0...1, using: &g)),
                fetchedAt: Int64.random(in: 0...2, using: &g))
        }
    }

    static func titles(_ count: Int, seed: UInt64) -> [TitleRow] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            TitleRow(
                platform: Bool.random(using: &g) ? "naver" : "kakao", id: Int64.random(in: 0...40, using: &g),
                title: g.text(maxLength: 12), author: g.text(maxLength: 6),
                views: g.maybe(Int64.random(in: 0...9, using: &g)), favoriteCount: g.maybe(Int64.random(in: -5...9, using: &g)),
                imageURL: g.text(maxLength: 8), releaseDay: Int.random(in: 0...7, using: &g),
                isCompleted: Bool.random(using: &g), restricted: Bool.random(using: &g), ageRating: g.maybe(g.text(maxLength: 3)),
                snapshotDate: day.adding(days: Int32.random(in: -1...1, using: &g)), fetchedAt: Int64.random(in: 0...2, using: &g))
        }
    }

    static func comments(_ count: Int, seed: UInt64) -> [CommentRow] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            CommentRow(
                platform: Bool.random(using: &g) ? "naver" : "kakao", titleID: Int64.random(in: 0...2, using: &g),
                episodeID: Int64.random(in: 0...2, using: &g), commentID: keyStrings.randomElement(using: &g)!,
                author: g.maybe(g.text(maxLength: 5)), body: g.text(maxLength: 30), likes: g.maybe(Int64.random(in: 0...9, using: &g)),
                createdAt: g.maybe(Int64.random(in: 0...9, using: &g)), snapshotDate: day,
                fetchedAt: Int64.random(in: 0...2, using: &g))
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func episodesMatchTheReference(seed: UInt64) throws {
        let rows = Self.episodes(1500 + Int(seed) * 300, keySpace: 900, seed: seed)
        try Self.check(rows, budget: 64 << 10, seed: seed, expectSpill: true, minimumMergePasses: 2)
        try Self.check(rows, budget: 1 << 20, seed: seed &+ 100)
        try Self.check(rows, budget: 256 << 20, seed: seed &+ 200, expectSpill: false)
    }

    @Test(arguments: [7, 8, 9])
    func stringKeysMatchTheReference(seed: UInt64) throws {
        try Self.check(Self.genres(2500, seed: seed), budget: 64 << 10, seed: seed, expectSpill: true)
        try Self.check(Self.genres(2500, seed: seed), budget: 256 << 20, seed: seed, expectSpill: false)
        try Self.check(Self.comments(1500, seed: seed), budget: 64 << 10, seed: seed, expectSpill: true)
        try Self.check(Self.comments(1500, seed: seed), budget: 256 << 20, seed: seed, expectSpill: false)
    }

    @Test(arguments: [10, 11])
    func titlesMatchTheReference(seed: UInt64) throws {
        try Self.check(Self.titles(2500, seed: seed), budget: 64 << 10, seed: seed, expectSpill: true)
        try Self.check(Self.titles(2500, seed: seed), budget: 256 << 20, seed: seed, expectSpill: false)
    }

    @Test func emptyInputsWriteNothing() throws {
        try Self.check([EpisodeRow](), budget: 1 << 20, seed: 1, expectSpill: false)
    }

    /// A row `validate()` rejects fails the reduce with that same error, even if a newer duplicate would replace it.
    @Test func anInvalidRowFailsWithTheRowValidationError() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var rows = Self.episodes(300, keySpace: 100, seed: 4)
        var bad = rows[150]
        bad.likes = -1
        bad.fetchedAt = -100
        rows.insert(bad, at: 151)
        try Self.write(rows, to: folder + "/in.parquet", rowGroupRows: 64)
        let reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        let error = #expect(throws: ReducerError.self) {
            _ = try reducer.reduce(EpisodeRow.self, inputs: [folder + "/in.parquet"], runID: "r")
        }
        #expect(error == ReducerError.captured { () throws(ReducerError) in try bad.validate() })
        #expect(!FileManager.default.fileExists(atPath: folder + "/processed/episodes"))

        var unknown = rows[3]
        unknown.platform = "line"
        try Self.write([rows[0], unknown], to: folder + "/platform.parquet", rowGroupRows: 64)
        let platformError = #expect(throws: ReducerError.self) {
            _ = try reducer.reduce(EpisodeRow.self, inputs: [folder + "/platform.parquet"], runID: "r")
        }
        #expect(platformError == ReducerError.captured { () throws(ReducerError) in try unknown.validate() })
    }

    /// Invalid UTF-8 in string columns becomes U+FFFD as on the row path (`String(decoding:)`), keys included: two
    /// genre names that differ only in invalid bytes are one key, and the latest fetch wins. A value that is valid
    /// only together with its neighbour's bytes is still repaired on its own.
    @Test func invalidUTF8IsReplacedAsTheRowPathDoes() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let names: [[UInt8]] = [
            Array("액션".utf8), [0x61, 0xFF], [0x61, 0xFE], [0x62, 0xEC], [0x95, 0xA1], Array("로맨스".utf8),
            [0x63, 0xC0, 0xAF], [0x64, 0xED, 0xA0, 0x80],
        ]
        var bytes: [UInt8] = []
        var offsets = [0]
        for name in names {
            bytes += name
            offsets.append(bytes.count)
        }
        let count = names.count
        let day = Self.day.daysSinceEpoch
        let batch = ColumnBatch([
            ColumnValues(.byteArray(ByteArrayColumn(Array(repeating: "naver", count: count)))),
            ColumnValues(.int64(Array(repeating: 7, count: count))),
            ColumnValues(.int32(Array(repeating: day, count: count))),
            ColumnValues(.byteArray(try #require(ByteArrayColumn(validatingBytes: bytes, offsets: offsets)))),
            ColumnValues(.int64((0..<count).map { Int64($0) })),
        ])
        let writer = try ParquetWriter(path: folder + "/in.parquet", schema: try ParquetSchema(GenreRow.parquetColumns))
        try writer.write(batch)
        try writer.close()
        let rows = names.enumerated().map { index, name in
            GenreRow(
                platform: "naver", titleID: 7, genreName: String(decoding: name, as: UTF8.self), snapshotDate: Self.day,
                fetchedAt: Int64(index))
        }
        let expected = Self.reference(rows)
        #expect(expected.count < rows.count, "names equal after replacement must be one key")
        let reducer = ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
        let summary = try reducer.reduce(GenreRow.self, inputs: [folder + "/in.parquet"], runID: "utf8")
        #expect(summary.outputRows == expected.count)
        let back = try Self.readBack(GenreRow.self, folder + "/processed")
        #expect(back.sorted { sortKey($0).lexicographicallyPrecedes(sortKey($1)) } == expected)
        #expect(back.contains { $0.genreName == "a\u{FFFD}" && $0.fetchedAt == 2 })
    }
}

extension ReducerError {
    /// The error `body` throws (nil if none), to compare with what the reducer reports.
    static func captured(_ body: () throws(ReducerError) -> Void) -> ReducerError? {
        do {
            try body()
            return nil
        } catch { return error }
    }
}
