import Foundation
import Logging
import ReducerCore

/// A tiny deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let testLogger = Logger(label: "ReducerCoreTests")

/// A fresh private folder, removed by the caller with `removeTemporaryFolder`.
func makeTemporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "reducer-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeTemporaryFolder(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

func contents(of folder: String) -> [String] {
    ((try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []).sorted()
}

extension RandomNumberGenerator {
    mutating func text(maxLength: Int) -> String {
        let alphabet = Array("abcxyz 웹툰가\u{0}#/")
        let count = Int.random(in: 0...maxLength, using: &self)
        return String((0..<count).map { _ in alphabet.randomElement(using: &self)! })
    }

    mutating func maybe<T>(_ value: T) -> T? { Bool.random(using: &self) ? value : nil }
}

func encoded(_ row: some ProcessedRow) -> [UInt8] {
    var writer = RowWriter()
    row.encode(to: &writer)
    return writer.bytes
}

func sortKey(_ row: some ProcessedRow) -> [UInt8] {
    var key = SortKeyEncoder()
    row.appendSortKey(to: &key)
    return key.bytes
}

func randomEpisode(using generator: inout SplitMix64, keySpace: Int, day: CalendarDay) -> EpisodeRow {
    let k = Int.random(in: 0..<keySpace, using: &generator)
    let likes = generator.maybe(Int64.random(in: 0...1_000_000, using: &generator))
    let comments = generator.maybe(Int64.random(in: 0...50_000, using: &generator))
    return EpisodeRow(
        platform: k % 2 == 0 ? "naver" : "kakao", titleID: Int64(k % 7) - 3, episodeID: Int64(k),
        no: Int64.random(in: 1...500, using: &generator), title: generator.text(maxLength: 40), likes: likes,
        comments: comments, rating: generator.maybe(Double.random(in: 0...10, using: &generator)),
        imageURL: generator.text(maxLength: 20), publishedDate: generator.maybe(day.adding(days: -3)),
        snapshotDate: day.adding(days: Int32(k % 3)), fetchedAt: Int64.random(in: 0...5, using: &generator),
        missingReason: likes == nil || comments == nil ? "likes: HTTP 404" : nil)
}
