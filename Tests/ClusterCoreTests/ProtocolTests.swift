import ClusterCore
import Crypto
import Testing

import Foundation

@Suite struct ProtocolTests {
    static let secret = Array("correct horse battery staple, cluster".utf8)
    let codec = try! WireCodec(secret: ProtocolTests.secret, maxMessageBytes: 1 << 20)
    let now = Timestamp(millis: 1_764_000_000_000)

    func envelope(_ message: ClusterMessage, id: UInt64 = 1, sentAt: Timestamp? = nil) -> Envelope {
        var rng = SplitMix64(seed: id)
        return Envelope(id: MessageID.random(using: &rng), sender: worker("w-1.a_b"), sentAt: sentAt ?? now, replyTo: MessageID.random(using: &rng), message: message)
    }

    /// One example of every message type, with non-default values in every field.
    static func samples() -> [ClusterMessage] {
        let run = spec().defaultID
        let unit = seed("key/웹툰", kind: "episodes", payload: [0, 1, 2, 255])
        let token = LeaseToken(unit: unit.unitID(in: run), epoch: 7)
        let stats = TaskStats(requests: 10, retries: 2, status429: 1, status403: 3, status5xx: 4, bytes: 5_000, retryAfterMillis: 30_000)
        var core = CoordinatorCore(config: CoordinatorConfig())
        try! core.createRun(spec(), roots: [unit], now: Timestamp(millis: 5))
        let status = core.status(now: Timestamp(millis: 10))
        return [
            .hello(Hello(capacity: 8, platforms: ["kakao", "naver"], softwareVersion: "0.1.0")),
            .welcome(Welcome(leaseMillis: 60_000, heartbeatMillis: 20_000, serverTime: Timestamp(millis: 42))),
            .leaseRequest(LeaseRequest(maxUnits: 4, platforms: ["naver"])),
            .leaseGrant(LeaseGrant(
                units: [GrantedUnit(token: token, run: run, unit: token.unit, seed: unit, attempt: 2, deadline: Timestamp(millis: 99))],
                allowances: [PlatformAllowance(platform: "naver", requestsPerSecond: 1.25, pausedUntil: Timestamp(millis: 7))], retryAfterMillis: 500)),
            .heartbeat(Heartbeat(tokens: [token], signals: [PlatformSignals(platform: "kakao", stats: stats)])),
            .heartbeatAck(HeartbeatAck(leases: [LeaseStatus(token: token, valid: true, deadline: Timestamp(millis: 5)), LeaseStatus(token: token, valid: false, deadline: nil)], allowances: [], drain: true)),
            .complete(Complete(token: token, manifest: manifest(rows: 12), children: [seed("child", payload: [9])], stats: stats)),
            .fail(Fail(token: token, error: "HTTP 500: \"oops\" \n 실패", retryable: false, stats: .zero)),
            .statusRequest(StatusRequest(includeWorkers: false)),
            .statusResponse(status),
            .ack(Ack(outcome: "accepted")),
            .reject(Reject(reason: .unauthenticated, detail: "bad tag")),
            .drain(Drain(reason: "maintenance")),
            .goodbye(Goodbye(releasing: [token])),
            .reportBatch(ReportBatch(
                completes: [Complete(token: token, manifest: manifest(rows: 1), children: [], stats: .zero)],
                fails: [Fail(token: token, error: "timeout", retryable: true, stats: stats)])),
            .reportAck(ReportAck(completes: ["accepted"], fails: ["stale"])),
            .retryDead(RetryDead(units: [token.unit], run: run)),
            .retryDead(RetryDead(units: nil, run: nil)),
            .retried(Retried(units: [token.unit])),
        ]
    }

    @Test func everyMessageTypeRoundTrips() throws {
        let samples = ProtocolTests.samples()
        #expect(Set(samples.map(\.kind)) == Set(ClusterMessage.Kind.allCases))
        for (index, message) in samples.enumerated() {
            let original = envelope(message, id: UInt64(index))
            let bytes = try codec.encode(original)
            #expect(Array(bytes.prefix(6)) == Array("WTCL".utf8) + [1, message.kind.rawValue])
            #expect(try codec.decode(bytes) == original, "\(message.kind)")
        }
    }

    @Test func frameLayoutMatchesTheDocument() throws {
        let bytes = try codec.encode(envelope(.ack(Ack(outcome: "accepted"))))
        let length = bytes[6..<10].reduce(0) { ($0 << 8) | Int($1) }
        #expect(bytes.count == 10 + length + 32)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(bytes[10..<(10 + length)])) as? [String: Any])
        #expect(Set(body.keys) == ["id", "sender", "sentAt", "replyTo", "body"])
        #expect((body["body"] as? [String: Any])?["outcome"] as? String == "accepted")
        // Tag = HMAC-SHA256(key, header + body), key = HMAC-SHA256(secret, label): recomputed here from the document.
        let key = HMAC<SHA256>.authenticationCode(for: Array("webtoon-cluster/v1/message-key".utf8), using: SymmetricKey(data: ProtocolTests.secret))
        let tag = HMAC<SHA256>.authenticationCode(for: bytes[..<(10 + length)], using: SymmetricKey(data: Array(key)))
        #expect(Array(tag) == Array(bytes.suffix(32)))
    }

    @Test func wrongSecretIsUnauthenticated() throws {
        let other = try WireCodec(secret: Array("another secret of enough length".utf8))
        let bytes = try other.encode(envelope(.statusRequest(StatusRequest())))
        let error = #expect(throws: ProtocolError.self) { try codec.decode(bytes) }
        #expect(error?.code == .unauthenticated)
    }

    @Test func shortSecretIsRefused() {
        let error = #expect(throws: ProtocolError.self) { try WireCodec(secret: Array("short".utf8)) }
        #expect(error?.code == .invalidField)
    }

    @Test func wrongVersionAndMagicAreTypedRejections() throws {
        var bytes = try codec.encode(envelope(.statusRequest(StatusRequest())))
        bytes[4] = 2
        #expect(throws: ProtocolError(code: .unsupportedVersion, detail: "version 2, this build speaks 1")) { try codec.decode(bytes) }
        bytes[4] = 1
        bytes[0] = UInt8(ascii: "X")
        let error = #expect(throws: ProtocolError.self) { try codec.decode(bytes) }
        #expect(error?.code == .badMagic)
    }

    @Test func everyTruncationIsRejected() throws {
        let bytes = try codec.encode(envelope(.hello(Hello(capacity: 2, platforms: ["naver"], softwareVersion: "1"))))
        for length in 0..<bytes.count {
            let error = #expect(throws: ProtocolError.self) { try codec.decode(Array(bytes.prefix(length))) }
            #expect([.truncated, .badMagic].contains(error?.code), "prefix \(length)")
        }
        let extended = bytes + [0]
        #expect(throws: ProtocolError.self) { try codec.decode(extended) }
    }

    @Test func oversizedIsRejectedBeforeParsingAndNotProduced() throws {
        let small = try WireCodec(secret: ProtocolTests.secret, maxMessageBytes: 256)
        let big = envelope(.fail(Fail(token: LeaseToken(unit: UnitID.derive(run: spec().defaultID, platform: "naver", kind: "t", key: "k"), epoch: 1), error: String(repeating: "x", count: 1_000), retryable: true, stats: .zero)))
        #expect(throws: ProtocolError.self) { try small.encode(big) }
        let error = #expect(throws: ProtocolError.self) { try small.decode(try codec.encode(big)) }
        #expect(error?.code == .oversized)
        let huge = #expect(throws: ProtocolError.self) { try small.decode([UInt8](repeating: 0, count: 10_000)) }
        #expect(huge?.code == .oversized)
    }

    @Test func unknownTypeAndMalformedBodiesAreTypedRejectionsEvenWhenAuthenticated() throws {
        #expect(try sign(type: 200, body: #"{}"#).decodeError(codec) == .unknownMessageType)
        #expect(try sign(type: 11, body: "not json").decodeError(codec) == .malformed)
        #expect(try sign(type: 11, body: #"{"id":"00","sender":"w","sentAt":1,"body":{"outcome":"x"}}"#).decodeError(codec) == .malformed)
        let goodHeader = #""id":"0123456789abcdef0123456789abcdef","sender":"w1","sentAt":1"#
        #expect(try sign(type: 1, body: "{\(goodHeader),\"body\":{\"capacity\":0,\"platforms\":[],\"softwareVersion\":\"1\"}}").decodeError(codec) == .invalidField)
        #expect(try sign(type: 1, body: "{\(goodHeader),\"body\":{\"capacity\":1,\"platforms\":[\"Naver!\"],\"softwareVersion\":\"1\"}}").decodeError(codec) == .invalidField)
        #expect(try sign(type: 3, body: "{\(goodHeader),\"body\":{\"maxUnits\":99999999999999999999,\"platforms\":[]}}").decodeError(codec) == .malformed)
        #expect(try sign(type: 7, body: "{\(goodHeader),\"body\":{\"token\":\"zz-1\"}}").decodeError(codec) == .malformed)
        // A well-formed body from the document decodes (what a Python client would send).
        let status = try codec.decode(sign(type: 9, body: "{\(goodHeader),\"replyTo\":null,\"body\":{\"includeWorkers\":true}}").bytes)
        #expect(status.message == .statusRequest(StatusRequest(includeWorkers: true)))
    }

    struct Signed {
        let bytes: [UInt8]
        func decodeError(_ codec: WireCodec) -> ProtocolError.Code? {
            do {
                _ = try codec.decode(bytes)
                return nil
            } catch {
                return error.code
            }
        }
    }

    /// Frames and signs an arbitrary body the way the document says, independently of `WireCodec.encode`.
    func sign(type: UInt8, body: String, version: UInt8 = 1) throws -> Signed {
        let json = Array(body.utf8)
        let length = UInt32(json.count)
        var bytes = Array("WTCL".utf8) + [version, type]
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += json
        let key = SymmetricKey(data: WireCodec.deriveKey(secret: ProtocolTests.secret))
        bytes += HMAC<SHA256>.authenticationCode(for: bytes, using: key)
        return Signed(bytes: bytes)
    }

    @Test func randomMessagesRoundTripAndRandomMutationsNeverCrash() throws {
        var rng = SplitMix64(seed: 0xC0FFEE)
        let samples = ProtocolTests.samples()
        var rejectedByCode: [String: Int] = [:]
        for iteration in 0..<600 {
            let message = samples[Int(rng.next() % UInt64(samples.count))]
            let original = envelope(message, id: rng.next(), sentAt: Timestamp(millis: Int64(rng.next() % 1_000_000_000_000)))
            let bytes = try codec.encode(original)
            #expect(try codec.decode(bytes) == original)
            var mutated = bytes
            switch rng.next() % 4 {
            case 0: mutated[Int(rng.next() % UInt64(mutated.count))] ^= UInt8(1 << (rng.next() % 8))
            case 1: mutated.removeLast(Int(rng.next() % UInt64(mutated.count)) + 1)
            case 2: mutated.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(mutated.count)))
            default: mutated = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            do {
                _ = try codec.decode(mutated)
                Issue.record("iteration \(iteration): a mutated message was accepted")
            } catch {
                rejectedByCode[error.code.description, default: 0] += 1
            }
        }
        #expect(rejectedByCode["unauthenticated", default: 0] > 0)
        #expect(rejectedByCode["truncated", default: 0] > 0)
    }

    @Test func mutatedBodiesWithValidTagsNeverCrashTheParser() throws {
        // Re-signing after mutation reaches the JSON parser and the validators: they must refuse or accept, never trap.
        var rng = SplitMix64(seed: 77)
        let samples = ProtocolTests.samples()
        var outcomes: [String: Int] = [:]
        for _ in 0..<1_500 {
            let bytes = try codec.encode(envelope(samples[Int(rng.next() % UInt64(samples.count))], id: rng.next()))
            var body = Array(bytes[10..<(bytes.count - 32)])
            for _ in 0..<(Int(rng.next() % 3) + 1) {
                let index = Int(rng.next() % UInt64(body.count))
                switch rng.next() % 3 {
                case 0:
                    let syntax = Array(#"{}[]",:0-9e.\"ntf"#.utf8)
                    body[index] = syntax[Int(rng.next() % UInt64(syntax.count))]
                case 1: body.remove(at: index)
                default: body[index] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let signed = try sign(type: bytes[5], body: String(decoding: body, as: UTF8.self))
            outcomes[signed.decodeError(codec)?.description ?? "accepted", default: 0] += 1
        }
        #expect(outcomes["malformed", default: 0] > 0)
    }

    @Test func replayWindowRejectsOldAndFutureMessagesAndAnswersDuplicatesWithTheStoredReply() throws {
        var gate = MessageGate(codec: codec, replay: ReplayWindow(windowMillis: 60_000, maxEntries: 3))
        let request = try codec.encode(envelope(.statusRequest(StatusRequest()), id: 1))
        guard case .handle(let first) = gate.admit(request, now: now) else { Issue.record("fresh message not admitted"); return }
        // A resend before the reply is stored is refused as a replay; after, it gets the same reply bytes.
        #expect(gate.admit(request, now: now) == .reject(ProtocolError(code: .replayed, detail: "message \(first.id) was already received and has no stored reply")))
        gate.remember(reply: [1, 2, 3], for: first.id)
        #expect(gate.admit(request, now: now.adding(millis: 1_000)) == .resend([1, 2, 3]))

        let old = try codec.encode(envelope(.statusRequest(StatusRequest()), id: 2, sentAt: now.adding(millis: -60_001)))
        let future = try codec.encode(envelope(.statusRequest(StatusRequest()), id: 3, sentAt: now.adding(millis: 60_001)))
        for bytes in [old, future] {
            guard case .reject(let error) = gate.admit(bytes, now: now) else { Issue.record("skewed message admitted"); continue }
            #expect(error.code == .clockSkew)
        }
        // Past the capacity the oldest id is forgotten, and everything sent up to its time is refused from then on.
        for id in 10..<13 {
            guard case .handle = gate.admit(try codec.encode(envelope(.statusRequest(StatusRequest()), id: UInt64(id), sentAt: now.adding(millis: Int64(id)))), now: now) else {
                Issue.record("fresh message \(id) not admitted")
                continue
            }
        }
        guard case .reject(let forgotten) = gate.admit(request, now: now.adding(millis: 2_000)) else { Issue.record("replay after eviction admitted"); return }
        #expect(forgotten.code == .replayed)
        // After two windows everything is evicted; a replay is then refused by its timestamp.
        guard case .reject(let late) = gate.admit(request, now: now.adding(millis: 130_000)) else { Issue.record("late replay admitted"); return }
        #expect(late.code == .clockSkew)
        #expect(gate.replay.count <= 3)
        #expect(gate.rejections[.replayed] == 2 && gate.rejections[.clockSkew] == 3)
    }

    @Test func unauthenticatedMessagesAreCounted() throws {
        var gate = MessageGate(codec: codec)
        let other = try WireCodec(secret: Array("another secret of enough length".utf8))
        for id in 0..<5 { _ = gate.admit(try other.encode(envelope(.statusRequest(StatusRequest()), id: UInt64(id))), now: now) }
        _ = gate.admit(Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0, count: 40), now: now)
        #expect(gate.rejections[.unauthenticated] == 5)
        #expect(gate.rejections[.badMagic] == 1)
    }

    @Test func identifiersRefuseUnsafeText() {
        #expect(WorkerID(rawValue: "Worker 1") == nil)
        #expect(WorkerID(rawValue: "../etc") == nil)
        #expect(WorkerID(rawValue: String(repeating: "a", count: 65)) == nil)
        #expect(UnitID(rawValue: String(repeating: "g", count: 32)) == nil)
        #expect(LeaseToken(rawValue: String(repeating: "a", count: 32) + "-99999999999") == nil)
        #expect(LeaseToken(rawValue: String(repeating: "a", count: 32) + "-12")?.epoch == 12)
        #expect(RunID(rawValue: "2026-11-25.daily.kakao+naver") != nil)
        #expect(throws: ClusterError.self) { try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-13-01") }
        #expect(throws: ClusterError.self) { try UnitSeed(kind: "title", platform: "naver", key: "a\u{0}b", payload: []) }
        #expect(throws: ClusterError.self) { try UnitSeed(kind: "title", platform: "naver", key: "k", payload: [UInt8](repeating: 0, count: 65_537)) }
    }
}
