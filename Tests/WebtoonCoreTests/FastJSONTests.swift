import Foundation
import Testing
@testable import WebtoonCore

/// `FastJSON` readers must agree with `JSONDecoder`: whenever the fast reader answers, `JSONDecoder` decodes the
/// same body to the same value. Checked on the fixtures and on hundreds of mutations of each.
@Suite struct FastJSONTests {
    typealias Compare = @Sendable ([UInt8]) -> (fast: String?, slow: String?)

    static func compare<T: Decodable & FastDecodable & SendableMetatype>(_ type: T.Type, jsonp: Bool = false) -> Compare {
        { bytes in
            var body = bytes
            if jsonp {
                guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), let close = bytes.lastIndex(of: UInt8(ascii: ")")),
                    open < close
                else { return (nil, nil) }
                body = Array(bytes[(open + 1)..<close])
            }
            func text(_ value: T) -> String {
                var out = ""
                dump(value, to: &out)
                return out
            }
            let fast = FastJSON.parse(body).flatMap(T.fast).map(text)
            let slow = (try? JSONDecoder().decode(T.self, from: Data(body))).map(text)
            return (fast, slow)
        }
    }

    static let cases: [(String, Compare)] = [
        ("real/naver/article_list_info_titleId_805671.json", compare(NaverParsers.InfoResponse.self)),
        ("real/naver/article_list_titleId_183559_page1_TRIMMED.json", compare(NaverParsers.ArticleListResponse.self)),
        ("synthetic/naver/article_list_titleId_183559_page1.json", compare(NaverParsers.ArticleListResponse.self)),
        ("synthetic/naver/userAction_info_titleId_183559_no_654.json", compare(NaverParsers.UserActionResponse.self)),
        ("synthetic/naver/like_search_contents_COMIC_183559_654.json", compare(NaverParsers.LikeResponse.self)),
        ("synthetic/naver/cbox_web_naver_list_jsonp_183559_654.jsonp", compare(NaverParsers.CboxResponse.self, jsonp: true)),
        ("real/naver/comment_v2_post_reaction_count_example.json", compare(NaverParsers.CommunityResponse.self)),
        ("synthetic/kakao/decorator_v2_contents_2467.json", compare(KakaoParsers.DecoratorResponse.self)),
        ("synthetic/kakao/episodes_v2_content_home_contents_2467_episodes.json", compare(KakaoParsers.EpisodesResponse.self)),
        ("synthetic/kakao/comment_v1_comments_relationType_EPISODE_relationId_123456.json", compare(KakaoParsers.CommentsResponse.self)),
        ("synthetic/kakao/popularity_v1_reviews_episode_123456.json", compare(KakaoParsers.PopularityResponse.self)),
        ("synthetic/kakao/error_envelope.json", compare(KakaoParsers.ErrorEnvelope.self)),
    ]

    @Test(arguments: 0..<cases.count)
    func fastReaderAgreesWithJSONDecoder(index: Int) throws {
        let (file, compare) = Self.cases[index]
        let original = try Fixtures.bytes(file)
        var generator = SplitMix64(seed: UInt64(index) &* 104_729 &+ 3)
        var fastAnswers = 0
        var slowAnswers = 0
        for round in -1..<600 {
            let body = round < 0 ? original : ParserFuzzTests.mutate(original, round: round, &generator)
            let (fast, slow) = compare(body)
            if round < 0 { #expect(fast != nil, "the fast reader should take the unmutated fixture \(file)") }
            if slow != nil { slowAnswers += 1 }
            guard let fast else { continue }
            fastAnswers += 1
            #expect(fast == slow, "round \(round) of \(file): \(String(decoding: body, as: UTF8.self))")
        }
        // The comparison is only meaningful if both readers accept a fair share of the mutations.
        #expect(fastAnswers > 20 && slowAnswers > 20, "\(file): fast \(fastAnswers), JSONDecoder \(slowAnswers)")
    }

    @Test func strictGrammar() {
        let valid = [
            #"{"a":"\u00e9\ud83d\ude00\n\/","b":[1,-0,2.5e-3,true,false,null],"c":{}}"#, " [ ] ", #""x""#, "-12",
        ]
        for text in valid {
            #expect(FastJSON.parse(Array(text.utf8)) != nil, "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil)
        }
        let invalid = [
            "", "{", #"{"a":1,}"#, "[1,]", "01", "1.", ".5", "+1", "1e", #"{"a" 1}"#, #""\ud800""#, #""\x""#, "\"\u{01}\"",
            "nul", "truex", "{} {}", #"{"a":1}x"#, "[" + String(repeating: "[", count: 100) + String(repeating: "]", count: 101),
        ]
        for text in invalid { #expect(FastJSON.parse(Array(text.utf8)) == nil, "\(text)") }
        #expect(FastJSON.parse([0x22, 0xFF, 0x22]) == nil)  // invalid UTF-8 in a string
    }

    @Test func stringsDecodeEscapes() throws {
        let json = try #require(FastJSON.parse(Array(#"{"s":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00웹툰"}"#.utf8)))
        #expect(json.required("s")?.string == "a\"b\\c/d\u{8}\u{C}\n\r\tAé😀웹툰")
        #expect(json["missing"] as FastJSON?? == .some(nil))
        #expect(FastJSON.parse(Array(#"{"k":1,"k":2}"#.utf8))?["k"] == nil)  // duplicate key: give up
    }
}

extension FastJSON: Equatable {
    public static func == (a: FastJSON, b: FastJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}
