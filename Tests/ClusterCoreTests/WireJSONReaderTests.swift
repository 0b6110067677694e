import ClusterCore
import Crypto
import Foundation
import Testing

/// `WireJSONReader` must read exactly what `JSONDecoder` reads, and give up (nil, so the generic decoder decides)
/// on everything else.
@Suite struct WireJSONReaderTests {
    static let codec = try! WireCodec(secret: Array(repeating: 3, count: 32))
    static let tricky = "quote \" backslash \\ slash / newline \n tab \t bell \u{7} 웹툰 é 😀"

    static func batch(_ random: inout SplitMix64, run: RunID) -> ReportBatch {
        func token() -> LeaseToken {
            let id = seed("u\(random.next() % 1_000)").unitID(in: run)
            return LeaseToken(rawValue: "\(id.rawValue)-\(random.next() % 9 + 1)")!
        }
        func stats() -> TaskStats {
            TaskStats(requests: Int64(random.next() % 5), retries: 1, status429: 0, status403: Int64(random.next() % 2), status5xx: 3,
                      bytes: random.next() % 2 == 0 ? Int64.max : 0, retryAfterMillis: random.next() % 2 == 0 ? nil : Int64(random.next() % 90_000))
        }
        let completes = (0..<Int(random.next() % 6)).map { index in
            Complete(
                token: token(),
                manifest: Manifest(files: (0..<Int(random.next() % 3)).map { file in
                    OutputFile(path: file == 0 ? "naver/episodes/\(tricky)-\(index).parquet" : "kakao/x.parquet", table: "episodes",
                               rows: Int64(random.next() % 100), bytes: Int64(random.next() % 1_000_000), sha256: String(repeating: "a0", count: 32))
                }),
                children: (0..<Int(random.next() % 3)).map { child in
                    seed(child == 0 ? tricky : "t\(random.next())", kind: "title", platform: child % 2 == 0 ? "naver" : "kakao",
                         payload: (0..<Int(random.next() % 40 + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                },
                stats: stats())
        }
        let fails = (0..<Int(random.next() % 3)).map { index in
            Fail(token: token(), error: index == 0 ? "HTTP 500: \(tricky) nul \u{0}" : "timeout", retryable: random.next() % 2 == 0, stats: stats())
        }
        return ReportBatch(completes: completes, fails: fails)
    }

    /// The body of an encoded message (between header and tag).
    static func body(_ message: [UInt8]) -> [UInt8] { Array(message[WireCodec.headerSize..<(message.count - WireCodec.tagSize)]) }

    /// The envelope fields around a body, as both the codec and JSONEncoder/JSONDecoder see them.
    struct Wire<Body: Codable>: Codable {
        let id: MessageID
        let sender: WorkerID
        let sentAt: Timestamp
        let replyTo: MessageID?
        let body: Body
    }

    /// Both directions against Foundation: the reader reads `JSONEncoder`'s output (which escapes slashes) as
    /// `JSONDecoder` does, and `JSONDecoder` reads the hand-written writer's output back to the same batch.
    @Test func readsWhatJSONEncoderWritesAndTheWriterWritesWhatJSONDecoderReads() throws {
        var random = SplitMix64(seed: 99)
        var system = SystemRandomNumberGenerator()
        let run = spec().defaultID
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for round in 0..<60 {
            let batch = Self.batch(&random, run: run)
            let envelope = Envelope(
                id: MessageID.random(using: &system), sender: worker("w-\(round)"), sentAt: Timestamp(millis: 1_764_000_000_000 + Int64(round)),
                replyTo: round % 3 == 0 ? MessageID.random(using: &system) : nil, message: .reportBatch(batch))
            let foundation = Array(try encoder.encode(Wire(id: envelope.id, sender: envelope.sender, sentAt: envelope.sentAt, replyTo: envelope.replyTo, body: batch)))
            let fast = try #require(WireJSONReader.envelope(.reportBatch, foundation, start: 0, end: foundation.count), "round \(round): JSONEncoder's output takes the fast path")
            #expect(fast == envelope, "round \(round)")

            let written = Self.body(try Self.codec.encode(envelope))
            let decoded = try JSONDecoder().decode(Wire<ReportBatch>.self, from: Data(written))
            #expect(decoded.body == batch && decoded.id == envelope.id && decoded.replyTo == envelope.replyTo && decoded.sentAt == envelope.sentAt, "round \(round)")
            #expect(try Self.codec.decode(try Self.codec.encode(envelope)) == envelope)
        }
    }

    /// Lease grants, both directions against Foundation, with rates that need every part of the number grammar.
    @Test func leaseGrantsReadAsJSONDecoderReadsThem() throws {
        var random = SplitMix64(seed: 7)
        var system = SystemRandomNumberGenerator()
        let run = spec().defaultID
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let rates: [Double] = [0, 0.1, 1e-5, 1e20, 12, 1_000, 1.7976931348623157e308, .leastNonzeroMagnitude, 2.5e-7, 333.3333333333333]
        for round in 0..<30 {
            let units = (0..<Int(random.next() % 5)).map { index in
                let seed = seed(index == 0 ? Self.tricky : "k\(random.next())", platform: index % 2 == 0 ? "naver" : "kakao",
                                payload: (0..<Int(random.next() % 50 + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                let id = seed.unitID(in: run)
                return GrantedUnit(token: LeaseToken(unit: id, epoch: UInt32(random.next() % 4_000_000_000)), run: run, unit: id, seed: seed,
                                   attempt: Int(random.next() % 5) + 1, deadline: Timestamp(millis: 1_764_000_000_000 + Int64(random.next() % 1_000_000)))
            }
            let allowances = (0..<Int(random.next() % 3)).map { index in
                PlatformAllowance(platform: index == 0 ? "naver" : "kakao", requestsPerSecond: rates[Int(random.next() % UInt64(rates.count))],
                                  pausedUntil: random.next() % 2 == 0 ? nil : Timestamp(millis: Int64(random.next() % 1_000_000)))
            }
            let grant = LeaseGrant(units: units, allowances: allowances, retryAfterMillis: units.isEmpty ? Int64(random.next() % 500) : nil)
            let envelope = Envelope(id: MessageID.random(using: &system), sender: worker("coordinator"), sentAt: Timestamp(millis: Int64(round)),
                                    replyTo: MessageID.random(using: &system), message: .leaseGrant(grant))
            let foundation = Array(try encoder.encode(Wire(id: envelope.id, sender: envelope.sender, sentAt: envelope.sentAt, replyTo: envelope.replyTo, body: grant)))
            #expect(WireJSONReader.envelope(.leaseGrant, foundation, start: 0, end: foundation.count) == envelope, "round \(round): JSONEncoder's output")
            let written = Self.body(try Self.codec.encode(envelope))
            #expect(try JSONDecoder().decode(Wire<LeaseGrant>.self, from: Data(written)).body == grant, "round \(round): the writer's output")
            #expect(WireJSONReader.envelope(.leaseGrant, written, start: 0, end: written.count) == envelope, "round \(round): the fast path reads the writer")
        }
        // Numbers outside the grammar or the range give up.
        for rate in ["01", "1.", ".5", "1e", "-", "1e400", "+1"] {
            let body = "{\"body\":{\"allowances\":[{\"platform\":\"naver\",\"requestsPerSecond\":\(rate)}],\"units\":[]},\"id\":\"\(String(repeating: "ab", count: 16))\",\"sender\":\"coordinator\",\"sentAt\":1}"
            #expect(WireJSONReader.envelope(.leaseGrant, Array(body.utf8), start: 0, end: body.utf8.count) == nil, "\(rate)")
        }
    }

    /// The coordinator's reply to a batch is hand-written too; `JSONDecoder` reads it back.
    @Test func reportAcksRoundTrip() throws {
        var system = SystemRandomNumberGenerator()
        for ack in [ReportAck(completes: ["accepted", "duplicate", "stale"], fails: ["requeued"]), ReportAck(completes: [], fails: [])] {
            let envelope = Envelope(id: MessageID.random(using: &system), sender: worker("coordinator"), sentAt: Timestamp(millis: 7), replyTo: MessageID.random(using: &system), message: .reportAck(ack))
            let body = Self.body(try Self.codec.encode(envelope))
            #expect(try JSONDecoder().decode(Wire<ReportAck>.self, from: Data(body)).body == ack)
            #expect(try Self.codec.decode(try Self.codec.encode(envelope)) == envelope)
        }
    }

    @Test func keyOrderSpacingEscapesAndNullsAreRead() throws {
        let token = "\(seed("a").unitID(in: spec().defaultID).rawValue)-2"
        let json = """
            { "sentAt" : -5 , "sender":"w1", "replyTo": null, "id":"\(String(repeating: "ab", count: 16))",
              "body": {"fails": [ {"stats":{"bytes":0,"status5xx":0,"status403":0,"status429":0,"retries":0,"requests":-0,"retryAfterMillis":null},
                                  "retryable":false, "error":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\\t\\\\\\"", "token":"\(token)"} ],
                       "completes": [] } }
            """
        let body = Array(json.utf8)
        let fast = try #require(WireJSONReader.envelope(.reportBatch, body, start: 0, end: body.count))
        let wrapped = Envelope(id: fast.id, sender: fast.sender, sentAt: fast.sentAt, replyTo: fast.replyTo, message: fast.message)
        #expect(wrapped.sentAt == Timestamp(millis: -5) && wrapped.replyTo == nil)
        guard case .reportBatch(let batch) = fast.message else { Issue.record("not a report batch"); return }
        #expect(batch.fails.first?.error == "é😀/\u{8}\u{C}\r\t\\\"")
        #expect(batch.fails.first?.stats == TaskStats())
    }

    /// Inputs outside the fast path's shape give nil; the codec still decodes (or rejects) them as before.
    @Test func givesUpOnAnythingElse() throws {
        let token = "\(seed("a").unitID(in: spec().defaultID).rawValue)-2"
        let id = String(repeating: "cd", count: 16)
        func envelope(_ body: String, sentAt: String = "1") -> String {
            "{\"body\":\(body),\"id\":\"\(id)\",\"sender\":\"w1\",\"sentAt\":\(sentAt)}"
        }
        let stats = "{\"bytes\":0,\"requests\":1,\"retries\":0,\"status403\":0,\"status429\":0,\"status5xx\":0}"
        let valid = envelope("{\"completes\":[],\"fails\":[{\"error\":\"x\",\"retryable\":true,\"stats\":\(stats),\"token\":\"\(token)\"}]}")
        #expect(WireJSONReader.envelope(.reportBatch, Array(valid.utf8), start: 0, end: valid.utf8.count) != nil, "the control case is read")
        let cases: [String] = [
            envelope("{\"completes\":[],\"fails\":[],\"extra\":1}"),  // unknown key (JSONDecoder ignores it)
            envelope("{\"completes\":[],\"completes\":[],\"fails\":[]}"),  // repeated key
            envelope("{\"completes\":[],\"fails\":[]}", sentAt: "1.0"),  // fraction
            envelope("{\"completes\":[],\"fails\":[]}", sentAt: "01"),  // leading zero (invalid JSON)
            envelope("{\"completes\":[],\"fails\":[]}", sentAt: "9223372036854775808"),  // beyond Int64
            envelope("{\"completes\":[]}"),  // missing key
            envelope("{\"completes\":[],\"fails\":[{\"error\":\"\\ud800\",\"retryable\":true,\"stats\":\(stats),\"token\":\"\(token)\"}]}"),  // lone surrogate
            envelope("{\"completes\":[],\"fails\":[{\"error\":\"x\",\"retryable\":1,\"stats\":\(stats),\"token\":\"\(token)\"}]}"),  // not a bool
            envelope("{\"completes\":[],\"fails\":[{\"error\":\"x\",\"retryable\":true,\"stats\":\(stats),\"token\":\"nope\"}]}"),  // invalid token
            envelope("{\"completes\":[],\"fails\":[]}") + " x",  // trailing bytes
            String(envelope("{\"completes\":[],\"fails\":[]}").dropLast()),  // truncated
        ]
        for text in cases {
            #expect(WireJSONReader.envelope(.reportBatch, Array(text.utf8), start: 0, end: text.utf8.count) == nil, "\(text)")
        }
        var invalidUTF8 = Array(valid.utf8)
        let marker = try #require(invalidUTF8.indices.first { invalidUTF8[$0...].starts(with: Array("\"error\":\"x".utf8)) }) + 9
        invalidUTF8.replaceSubrange(marker...marker, with: [0xC3, 0x28])
        #expect(WireJSONReader.envelope(.reportBatch, invalidUTF8, start: 0, end: invalidUTF8.count) == nil, "invalid UTF-8 in a string")

        // Through the codec, the generic decoder still reads what JSON allows (an unknown key) and still rejects
        // the rest with the same errors.
        let base = Envelope(id: MessageID(rawValue: id)!, sender: worker("w1"), sentAt: Timestamp(millis: 1), message: .reportBatch(ReportBatch(completes: [], fails: [])))
        #expect(try Self.codec.decode(Self.sign(cases[0])) == base)
        for (text, code) in [(cases[3], ProtocolError.Code.malformed), (cases[8], .malformed), (cases[10], .malformed)] {
            let error = #expect(throws: ProtocolError.self) { try Self.codec.decode(Self.sign(text)) }
            #expect(error?.code == code, "\(text)")
        }
    }

    /// Frames and signs a `reportBatch` body independently of `WireCodec.encode`.
    static func sign(_ body: String) -> [UInt8] {
        let json = Array(body.utf8)
        let length = UInt32(json.count)
        var bytes = Array("WTCL".utf8) + [1, ClusterMessage.Kind.reportBatch.rawValue]
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += json
        bytes += HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: WireCodec.deriveKey(secret: Array(repeating: 3, count: 32))))
        return bytes
    }
}
