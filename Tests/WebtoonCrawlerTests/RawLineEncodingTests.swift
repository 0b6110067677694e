import Foundation
import Testing
import WebtoonCore
@testable import WebtoonCrawler

/// The hand-written raw line must equal `JSONEncoder`'s bytes for the same record, whatever the body holds.
@Suite struct RawLineEncodingTests {
    static func fixtureBodies() -> [[UInt8]] {
        let root = URL(fileURLWithPath: "/work/shared/fixtures")
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { !$0.hasDirectoryPath } ?? []
        return files.sorted { $0.path < $1.path }.compactMap { try? [UInt8](Data(contentsOf: $0)) }
    }

    static func responses(_ bodies: [[UInt8]]) -> [RawResponse] {
        var result: [RawResponse] = []
        let parameterSets = [
            EndpointParameters(), EndpointParameters(titleId: 183559, episodeId: 654),
            EndpointParameters(titleId: 7, page: 3), EndpointParameters(titleId: 2467, offset: 40, limit: 20),
            EndpointParameters(day: 6),
        ]
        for (index, body) in bodies.enumerated() {
            for platform in Platform.allCases {
                let catalog = EndpointCatalog.builtIn(platform)
                let served = Endpoint.allCases.filter { catalog.endpoints[$0] != nil }
                let endpoint = served[index % served.count]
                let parameters = parameterSets[index % parameterSets.count]
                result.append(
                    RawResponse(
                        request: catalog.request(endpoint, parameters),
                        response: FetchedResponse(
                            status: [200, 401, 503][index % 3], body: body, url: "ignored",
                            fetchedAt: 1_700_000_000_000 + Int64(index))))
            }
        }
        return result
    }

    @Test func fixturesEncodeLikeJSONEncoder() throws {
        let bodies = Self.fixtureBodies()
        #expect(!bodies.isEmpty)
        for response in Self.responses(bodies) {
            #expect(RawStorage.line(response) == (try RawStorage.encoderLine(response)))
        }
    }

    @Test func everyEscapeEncodesLikeJSONEncoder() throws {
        var generator = SystemRandomNumberGenerator()
        var bodies: [[UInt8]] = [
            [], Array((0..<128).map { UInt8($0) }), Array("\"\\/\u{7F}\u{2028}\u{2029}웹툰 😀".utf8),
            [0xFF, 0x00, 0x7B], [0xC3], Array("ok".utf8) + [0xE0, 0x80],
        ]
        for _ in 0..<300 {
            let length = Int.random(in: 0..<64, using: &generator)
            // Mostly ASCII with control characters and quotes, sometimes invalid UTF-8 (base64 path).
            bodies.append((0..<length).map { _ in
                Bool.random(using: &generator) ? UInt8.random(in: 0..<0x80, using: &generator)
                    : [UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x01, 0x1F, UInt8(ascii: "/"), 0xEC, 0x9B, 0xB9][
                        Int.random(in: 0..<9, using: &generator)]
            })
        }
        for response in Self.responses(bodies) {
            #expect(RawStorage.line(response) == (try RawStorage.encoderLine(response)))
        }
    }
}
