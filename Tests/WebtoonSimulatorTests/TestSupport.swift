import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import WebtoonSimulator

/// SplitMix64, as in CompressionKitTests: a seeded generator for property tests.
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

/// A response as the test client saw it.
struct TestResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(body)) }
}

/// How a one-shot request ended.
enum TestOutcome: Sendable {
    case response(TestResponse)
    /// The connection closed (or was reset) before a complete response arrived.
    case failed(String)
}

/// The headers a crawler sends to each platform.
enum TestHeaders {
    static let naver = ["Referer": "https://comic.naver.com", "Service-Ticket-Id": "comic_webtoon"]
    static let kakao = ["Accept-Language": "ko", "Referer": "https://webtoon.kakao.com"]
}

/// A minimal HTTP/1.1 client over NIO for tests: one keep-alive connection, requests one at a time.
struct TestConnection {
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private let inbound: Box

    private final class Box {
        var iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        init(_ iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) {
            self.iterator = iterator
        }
    }

    static func with<R>(port: Int, _ body: (TestConnection) async throws -> R) async throws -> R {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(TestConnection(outbound: outbound, inbound: Box(inbound.makeAsyncIterator())))
        }
    }

    func get(_ uri: String, headers: [String: String] = [:]) async throws -> TestResponse {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
        head.headers.add(name: "Host", value: "127.0.0.1")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try await outbound.write(.head(head))
        try await outbound.write(.end(nil))
        var response = TestResponse(status: 0, headers: [:], body: [])
        while let part = try await inbound.iterator.next() {
            switch part {
            case .head(let h):
                response.status = Int(h.status.code)
                for (name, value) in h.headers { response.headers[name.lowercased()] = value }
            case .body(var buffer):
                response.body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                return response
            }
        }
        throw TestFailure("connection closed before the response to \(uri) ended")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One request on its own connection, reporting resets and truncation instead of throwing.
func oneShot(port: Int, _ uri: String, headers: [String: String] = [:]) async -> TestOutcome {
    do {
        return .response(try await TestConnection.with(port: port) { try await $0.get(uri, headers: headers) })
    } catch {
        return .failed("\(error)")
    }
}

/// A JSON value that keeps booleans, numbers, strings and null apart (for shape comparisons).
enum JSONValue: Decodable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue {
        if case .object(let o) = self, let v = o[key] { return v }
        return .null
    }

    subscript(index: Int) -> JSONValue {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return .null
    }

    var array: [JSONValue] { if case .array(let a) = self { a } else { [] } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var int: Int? { if case .number(let n) = self { Int(exactly: n) } else { nil } }
    var int64: Int64? { if case .number(let n) = self { Int64(exactly: n) } else { nil } }
    var double: Double? { if case .number(let n) = self { n } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var keys: Set<String> { if case .object(let o) = self { Set(o.keys) } else { [] } }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// The shared fixtures, a sibling of the package checkout (`../shared/fixtures`).
enum Fixtures {
    /// The first `shared/fixtures` found beside the package root or beside one of its ancestors (CI: a sibling of
    /// the clone; a git worktree under `wt/`: two levels up).
    static let root: URL = {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }  // …/Tests/WebtoonSimulatorTests/TestSupport.swift
        let packageRoot = directory
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent("shared/fixtures")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }()

    static func load(_ relativePath: String) throws -> JSONValue {
        let url = root.appendingPathComponent(relativePath)
        guard var data = FileManager.default.contents(atPath: url.path) else {
            throw TestFailure("fixture \(url.path) is missing (the shared fixtures must be a sibling of the checkout)")
        }
        if relativePath.hasSuffix(".jsonp") { data = Data(try unwrapJSONP(Array(data))) }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }
}

/// `cb({...});` → `{...}`.
func unwrapJSONP(_ bytes: [UInt8]) throws -> [UInt8] {
    guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), let close = bytes.lastIndex(of: UInt8(ascii: ")")),
        open < close
    else { throw TestFailure("not JSONP: \(String(decoding: bytes.prefix(80), as: UTF8.self))") }
    return Array(bytes[(open + 1)..<close])
}

/// Differences between the shape of `served` and of `fixture`: missing keys, unexpected keys (beyond `extras`) and
/// type mismatches, recursively through objects and the first element of arrays. `null` is accepted where the
/// fixture has an object (optional sub-objects such as `latestReadArticle`).
/// With `trimmed`, the fixture is a documented subset (e.g. a trimmed capture) and extra keys are fine.
func shapeDifferences(served: JSONValue, fixture: JSONValue, path: String = "$", extras: Set<String> = [],
                      trimmed: Bool = false) -> [String] {
    switch (served, fixture) {
    case (.object(let s), .object(let f)):
        var problems: [String] = []
        let fixtureKeys = Set(f.keys).subtracting(["_synthetic"])
        for missing in fixtureKeys.subtracting(s.keys).sorted() { problems.append("\(path).\(missing) missing") }
        for extra in Set(s.keys).subtracting(fixtureKeys).sorted() where !trimmed && !extras.contains(extra) {
            problems.append("\(path).\(extra) unexpected")
        }
        for key in fixtureKeys.intersection(s.keys).sorted() {
            problems += shapeDifferences(served: s[key]!, fixture: f[key]!, path: "\(path).\(key)", extras: extras,
                                         trimmed: trimmed)
        }
        return problems
    case (.array(let s), .array(let f)):
        guard let first = s.first, let model = f.first else { return [] }
        return shapeDifferences(served: first, fixture: model, path: "\(path)[0]", extras: extras, trimmed: trimmed)
    case (.null, .object):
        return []
    default:
        return served.kind == fixture.kind ? [] : ["\(path) is \(served.kind), fixture has \(fixture.kind)"]
    }
}

/// Starts a small simulator for one test and always shuts it down.
func withSimulator<R>(
    _ configuration: SimulatorConfiguration = .init(seed: 42, scale: .small, date: "2026-11-25"),
    _ body: (PlatformSimulator) async throws -> R
) async throws -> R {
    let simulator = try await PlatformSimulator.start(configuration: configuration, host: "127.0.0.1", port: 0)
    do {
        let result = try await body(simulator)
        await simulator.shutdown()
        return result
    } catch {
        await simulator.shutdown()
        throw error
    }
}
