import CompressionKit
import Foundation
import Testing
import WebtoonCore
@testable import WebtoonCrawler

func temporaryFolder(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("webtoon-\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func allFiles(_ root: String) -> [String] {
    (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue
    }.sorted()
}

/// Decompresses a segment and decodes its lines.
func segmentLines(_ path: String) throws -> [[String: Any]] {
    let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let text = try Zstd.decompress(compressed, maxOutput: 1 << 28)
    return try text.split(separator: UInt8(ascii: "\n")).map {
        try #require(JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
    }
}

@Suite struct RawStorageTests {
    let date = CrawlDate("2026-03-09")!

    func raw(_ endpoint: Endpoint, _ platform: Platform, _ p: EndpointParameters, _ body: [UInt8], status: Int = 200)
        -> RawResponse
    {
        let catalog = EndpointCatalog.builtIn(platform)
        return RawResponse(
            request: catalog.request(endpoint, p),
            response: FetchedResponse(status: status, body: body, url: "u", fetchedAt: 1_700_000_000_123))
    }

    @Test func segmentsHoldOneLinePerResponseGroupedByKind() async throws {
        let root = try temporaryFolder("segments")
        let task = CrawlTask.crawlEpisodes(
            CrawlEpisodesTask(platform: .naver, titleId: 183559, episodeIds: [654, 653], mode: .full, crawlDate: date))
        let binary: [UInt8] = [0xFF, 0x00, 0x7B]
        let responses = [
            raw(.episodeRating, .naver, EndpointParameters(titleId: 183559, episodeId: 654), Array(#"{"starInfo":{}}"#.utf8)),
            raw(.comments, .naver, EndpointParameters(titleId: 183559, episodeId: 654), Array("_cb({\"a\":\"웹툰\"});".utf8)),
            raw(.episodeLikes, .naver, EndpointParameters(titleId: 183559, episodeId: 654), binary, status: 503),
            raw(.episodeRating, .naver, EndpointParameters(titleId: 183559, episodeId: 653), Array("{}".utf8)),
        ]
        let written = try await RawStorage(root: root + "/").write(task: task, raw: responses)
        #expect(written.count == 3)
        let stem = task.segmentName
        #expect(stem.hasPrefix("full-episodes-183559-654-653-2-"))
        let ratingPath = "\(root)/raw/naver/episode_info/2026/03/09/\(stem).jsonl.zst"
        #expect(written.contains(ratingPath))
        let lines = try segmentLines(ratingPath)
        #expect(lines.count == 2)
        #expect(lines[0]["body"] as? String == #"{"starInfo":{}}"#)
        #expect(lines[0]["status"] as? Int == 200 && lines[0]["fetchedAt"] as? Int == 1_700_000_000_123)
        #expect(lines[1]["episodeId"] as? Int == 653 && lines[1]["titleId"] as? Int == 183559)
        let likes = try segmentLines("\(root)/raw/naver/episode_likes/2026/03/09/\(stem).jsonl.zst")
        #expect(likes[0]["bodyBase64"] as? String == Data(binary).base64EncodedString() && likes[0]["body"] == nil)
        #expect(try segmentLines("\(root)/raw/naver/comments/2026/03/09/\(stem).jsonl.zst")[0]["body"] as? String
            == "_cb({\"a\":\"웹툰\"});")
        #expect(!allFiles(root).contains { $0.contains(".tmp-") })
        // Rewriting (a retried task) replaces the file atomically.
        try await RawStorage(root: root).write(task: task, raw: Array(responses.prefix(1)))
        #expect(try segmentLines(ratingPath).count == 1)
    }

    @Test func perResponseLayoutUsesTheOriginalPaths() async throws {
        let root = try temporaryFolder("original")
        let storage = RawStorage(root: root, layout: .perResponse)
        let naverTitle = CrawlTask.crawlTitle(CrawlTitleTask(platform: .naver, titleId: 77, mode: .full, crawlDate: date))
        try await storage.write(task: naverTitle, raw: [
            raw(.titleInfo, .naver, EndpointParameters(titleId: 77), Array("{}".utf8)),
            raw(.episodeList, .naver, EndpointParameters(titleId: 77, page: 2), Array("{}".utf8)),
        ])
        let kakaoList = CrawlTask.listTitles(ListTitlesTask(platform: .kakao, list: .weekly, mode: .full, crawlDate: date))
        try await storage.write(task: kakaoList, raw: [raw(.weekdayTitles, .kakao, EndpointParameters(day: 4), Array("{}".utf8))])
        let batch = CrawlTask.crawlEpisodes(CrawlEpisodesTask(platform: .naver, titleId: 77, episodeIds: [5], mode: .full, crawlDate: date))
        try await storage.write(task: batch, raw: [
            raw(.comments, .naver, EndpointParameters(titleId: 77, episodeId: 5), Array(#"_callback({"x":1});"#.utf8))
        ])
        #expect(allFiles(root) == [
            "raw/kakao/titles/2026/03/09/titles_4.json",
            "raw/naver/comments/2026/03/09/77/5.json",
            "raw/naver/episodes/2026/03/09/77/episodes_2.json",
            "raw/naver/title_info/2026/03/09/77.json",
        ])
        #expect(try String(contentsOfFile: root + "/raw/naver/comments/2026/03/09/77/5.json", encoding: .utf8) == #"{"x":1}"#)
    }

    @Test func unsafeNamesAreRefused() {
        for bad in ["..", ".", "a/b", "", "x y", "ü", String(repeating: "a", count: 201)] {
            #expect(throws: RawStorageError.self, "\(bad)") { try RawStorage.checkComponent(bad) }
        }
        #expect(throws: Never.self) { try RawStorage.checkComponent("full-title-183559.jsonl.zst") }
    }

    @Test func anUnwritableRootIsATypedError() async throws {
        let root = try temporaryFolder("blocked")
        _ = FileManager.default.createFile(atPath: root + "/raw", contents: Data("file, not a folder".utf8))
        let task = CrawlTask.crawlTitle(CrawlTitleTask(platform: .kakao, titleId: 1, mode: .full, crawlDate: date))
        let error = await #expect(throws: RawStorageError.self) {
            try await RawStorage(root: root).write(task: task, raw: [raw(.titleInfo, .kakao, EndpointParameters(titleId: 1), [])])
        }
        #expect(error?.description.contains("raw") == true)
    }
}
