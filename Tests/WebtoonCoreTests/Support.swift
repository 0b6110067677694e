import Foundation
import Testing
import WebtoonCore

/// Finds /work/shared/fixtures (CI: a sibling of the clone). Order: $WEBTOON_FIXTURES, <root>/../shared/fixtures,
/// <root>/../../shared/fixtures (a worktree one level deeper).
enum Fixtures {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func directory() throws -> URL {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["WEBTOON_FIXTURES"] { candidates.append(URL(fileURLWithPath: env)) }
        candidates.append(packageRoot.appendingPathComponent("../shared/fixtures").standardized)
        candidates.append(packageRoot.appendingPathComponent("../../shared/fixtures").standardized)
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("real").path) {
            return candidate
        }
        throw FixtureMissing(searched: candidates.map(\.path))
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        let url = try directory().appendingPathComponent(relative)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw FixtureMissing(searched: [url.path])
        }
        return [UInt8](data)
    }

    static func config(_ name: String) throws -> [UInt8] {
        let path = packageRoot.appendingPathComponent("config/\(name)").path
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureMissing(searched: [path]) }
        return [UInt8](data)
    }
}

struct FixtureMissing: Error, CustomStringConvertible {
    let searched: [String]
    var description: String {
        "shared fixtures not found (set WEBTOON_FIXTURES or check out the shared folder beside the clone); searched: "
            + searched.joined(separator: ", ")
    }
}

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

let naver = EndpointCatalog.builtIn(.naver)
let kakao = EndpointCatalog.builtIn(.kakao)
let testDate = CrawlDate("2026-11-25")!  // a Wednesday

func naverRequest(_ endpoint: Endpoint, _ parameters: EndpointParameters = EndpointParameters()) -> EndpointRequest {
    naver.request(endpoint, parameters)
}

func kakaoRequest(_ endpoint: Endpoint, _ parameters: EndpointParameters = EndpointParameters()) -> EndpointRequest {
    kakao.request(endpoint, parameters)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
