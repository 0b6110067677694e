import Foundation
import Testing
import WebtoonCore

/// Arbitrary mutations of valid responses never crash a parser; every failure is a `ResponseError` naming the
/// endpoint and the title/episode asked for.
@Suite struct ParserFuzzTests {
    typealias Parse = @Sendable ([UInt8]) throws(ResponseError) -> Void

    static let p = EndpointParameters(titleId: 183559, episodeId: 654, page: 1, offset: 0, limit: 5, day: 0)
    static let cases: [(String, Endpoint, Parse)] = [
        ("real/naver/article_list_info_titleId_805671.json", .titleInfo, { b throws(ResponseError) in
            _ = try NaverParsers.titleInfo(b, naverRequest(.titleInfo, EndpointParameters(titleId: 805671)))
        }),
        ("real/naver/article_list_titleId_183559_page1_TRIMMED.json", .episodeList, { b throws(ResponseError) in
            _ = try NaverParsers.articlePage(b, naverRequest(.episodeList, p))
        }),
        ("synthetic/naver/article_list_titleId_183559_page1.json", .episodeList, { b throws(ResponseError) in
            _ = try NaverParsers.articlePage(b, naverRequest(.episodeList, p))
        }),
        ("synthetic/naver/titlelist_weekday_order_view.json", .weekdayTitles, { b throws(ResponseError) in
            _ = try NaverParsers.weekdayTitles(b, naverRequest(.weekdayTitles, p))
        }),
        ("synthetic/naver/titlelist_finished_order_view_page1.json", .finishedTitles, { b throws(ResponseError) in
            _ = try NaverParsers.finishedTitles(b, naverRequest(.finishedTitles, p))
        }),
        ("synthetic/naver/userAction_info_titleId_183559_no_654.json", .episodeRating, { b throws(ResponseError) in
            _ = try NaverParsers.rating(b, naverRequest(.episodeRating, p))
        }),
        ("synthetic/naver/like_search_contents_COMIC_183559_654.json", .episodeLikes, { b throws(ResponseError) in
            _ = try NaverParsers.likes(b, naverRequest(.episodeLikes, p))
        }),
        ("synthetic/naver/cbox_web_naver_list_jsonp_183559_654.jsonp", .comments, { b throws(ResponseError) in
            _ = try NaverParsers.cboxComments(b, naverRequest(.comments, p), top: 3)
        }),
        ("synthetic/kakao/timetables_days_placement_timetable_mon.json", .weekdayTitles, { b throws(ResponseError) in
            _ = try KakaoParsers.timetable(b, kakaoRequest(.weekdayTitles, p))
        }),
        ("synthetic/kakao/decorator_v2_contents_2467.json", .titleInfo, { b throws(ResponseError) in
            _ = try KakaoParsers.titleInfo(b, kakaoRequest(.titleInfo, EndpointParameters(titleId: 2467)))
        }),
        ("synthetic/kakao/episodes_v2_content_home_contents_2467_episodes.json", .episodeList, { b throws(ResponseError) in
            _ = try KakaoParsers.episodePage(b, kakaoRequest(.episodeList, EndpointParameters(titleId: 2467, offset: 0, limit: 5)))
        }),
        ("synthetic/kakao/comment_v1_comments_relationType_EPISODE_relationId_123456.json", .comments, { b throws(ResponseError) in
            _ = try KakaoParsers.commentCount(b, kakaoRequest(.comments, p))
        }),
        ("synthetic/kakao/popularity_v1_reviews_episode_123456.json", .episodeLikes, { b throws(ResponseError) in
            _ = try KakaoParsers.likes(b, kakaoRequest(.episodeLikes, EndpointParameters(titleId: 2467, episodeId: 123456)))
        }),
    ]

    @Test(arguments: 0..<cases.count)
    func mutationsNeverCrash(index: Int) throws {
        let (file, endpoint, parse) = Self.cases[index]
        let original = try Fixtures.bytes(file)
        try parse(original)  // the unmutated fixture parses
        var generator = SplitMix64(seed: UInt64(index) &* 7919 &+ 1)
        var failures = 0
        for round in 0..<400 {
            let mutated = Self.mutate(original, round: round, &generator)
            do {
                try parse(mutated)
            } catch {
                failures += 1
                #expect(error.endpoint == endpoint)
                #expect(!error.detail.isEmpty)
                #expect(error.description.contains(endpoint.rawValue))
            }
        }
        #expect(failures > 50, "mutations should break the fixture often (\(failures) of 400)")
    }

    /// Truncation, byte flips, inserted garbage, deleted keys, and JSON-level type swaps.
    static func mutate(_ input: [UInt8], round: Int, _ g: inout SplitMix64) -> [UInt8] {
        var bytes = input
        switch round % 5 {
        case 0:
            return Array(bytes.prefix(Int(g.next() % UInt64(bytes.count))))
        case 1:
            for _ in 0..<(1 + Int(g.next() % 4)) {
                let i = Int(g.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(truncatingIfNeeded: 1 << (g.next() % 8))
            }
            return bytes
        case 2:
            let i = Int(g.next() % UInt64(bytes.count))
            let junk: [[UInt8]] = [Array("\"".utf8), Array("}".utf8), Array("[".utf8), [0xFF, 0xFE], Array("null,".utf8)]
            bytes.insert(contentsOf: junk[Int(g.next() % UInt64(junk.count))], at: i)
            return bytes
        default:
            return jsonMutation(bytes, swapTypes: round % 5 == 4, &g) ?? Array(bytes.dropLast())
        }
    }

    static func jsonMutation(_ bytes: [UInt8], swapTypes: Bool, _ g: inout SplitMix64) -> [UInt8]? {
        // JSONP: mutate the inside.
        var prefix: [UInt8] = []
        var suffix: [UInt8] = []
        var body = bytes
        if let open = bytes.firstIndex(of: UInt8(ascii: "(")), bytes.first != UInt8(ascii: "{"),
            let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        {
            prefix = Array(bytes[...open])
            suffix = Array(bytes[close...])
            body = Array(bytes[(open + 1)..<close])
        }
        guard var root = try? JSONSerialization.jsonObject(with: Data(body)) else { return nil }
        var paths: [[Any]] = []
        collect(root, [], &paths)
        guard !paths.isEmpty else { return nil }
        let path = paths[Int(g.next() % UInt64(paths.count))]
        let replacements: [Any] = ["12", 12, 1.5, NSNull(), [Any](), [String: Any](), true, -7, "ab/../x"]
        root = rewrite(root, path[...], delete: !swapTypes, replacement: replacements[Int(g.next() % UInt64(replacements.count))])
        guard let data = try? JSONSerialization.data(withJSONObject: root) else { return nil }
        return prefix + [UInt8](data) + suffix
    }

    static func collect(_ node: Any, _ path: [Any], _ out: inout [[Any]]) {
        if let object = node as? [String: Any] {
            for (key, value) in object {
                out.append(path + [key])
                collect(value, path + [key], &out)
            }
        } else if let array = node as? [Any] {
            for (index, value) in array.enumerated() {
                out.append(path + [index])
                collect(value, path + [index], &out)
            }
        }
    }

    static func rewrite(_ node: Any, _ path: ArraySlice<Any>, delete: Bool, replacement: Any) -> Any {
        guard let head = path.first else { return replacement }
        let rest = path.dropFirst()
        if var object = node as? [String: Any], let key = head as? String {
            if rest.isEmpty && delete {
                object.removeValue(forKey: key)
            } else if let child = object[key] {
                object[key] = rewrite(child, rest, delete: delete, replacement: replacement)
            }
            return object
        }
        if var array = node as? [Any], let index = head as? Int, array.indices.contains(index) {
            if rest.isEmpty && delete {
                array.remove(at: index)
            } else {
                array[index] = rewrite(array[index], rest, delete: delete, replacement: replacement)
            }
            return array
        }
        return node
    }
}
