import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A message that could not be decoded or was refused; `reason` is what a `Reject` reply carries.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let reason: RejectReason
        private init(_ reason: RejectReason) { self.reason = reason }
        /// The first four bytes are not `WTCL`.
        public static let badMagic = Code(.badMagic)
        /// A version byte this build does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// An authenticated message with a type byte this version does not define.
        public static let unknownMessageType = Code(.unknownMessageType)
        /// Shorter than its header, tag or declared body length, or longer than declared.
        public static let truncated = Code(.truncated)
        /// Larger than the receiver's limit.
        public static let oversized = Code(.oversized)
        /// The HMAC tag does not match.
        public static let unauthenticated = Code(.unauthenticated)
        /// The body is not the JSON this type requires.
        public static let malformed = Code(.malformed)
        /// The JSON parsed but a field is out of range.
        public static let invalidField = Code(.invalidField)
        /// The message id was seen within the replay window.
        public static let replayed = Code(.replayed)
        /// The send time lies outside the replay window.
        public static let clockSkew = Code(.clockSkew)
        public var description: String { reason.rawValue }
    }

    public let code: Code
    public let detail: String
    public init(code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }
    public var reason: RejectReason { code.reason }
    public var description: String { "cluster protocol: \(code): \(detail)" }
}

/// Frames, authenticates and parses protocol messages (see docs/protocol.md):
///
///     "WTCL" | version u8 (=1) | type u8 | body length u32 big-endian | JSON body | HMAC-SHA256 tag (32 bytes)
///
/// The tag covers every byte before it; its key is HMAC-SHA256(secret, "webtoon-cluster/v1/message-key").
public struct WireCodec: Sendable {
    public static let magic: [UInt8] = Array("WTCL".utf8)
    public static let version: UInt8 = 1
    /// Additions within version 1 that this build speaks (docs/protocol.md §8): 2 adds `reportBatch`/`reportAck`
    /// and `retryDead`/`retried`.
    public static let revision = 2
    public static let headerSize = 10
    public static let tagSize = 32
    /// Label that turns the shared secret into the message key.
    public static let keyLabel = "webtoon-cluster/v1/message-key"
    public static let minimumSecretBytes = 16

    /// Derived key bytes (SymmetricKey is not Sendable in swift-crypto 3, so it is rebuilt per use).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// Largest whole message (header + body + tag) accepted or produced.
    public let maxMessageBytes: Int

    public init(secret: [UInt8], maxMessageBytes: Int = 8 << 20) throws(ProtocolError) {
        guard secret.count >= WireCodec.minimumSecretBytes else {
            throw ProtocolError(code: .invalidField, detail: "cluster secret must be at least \(WireCodec.minimumSecretBytes) bytes, got \(secret.count)")
        }
        keyBytes = WireCodec.deriveKey(secret: secret)
        self.maxMessageBytes = max(WireCodec.headerSize + WireCodec.tagSize + 2, maxMessageBytes)
    }

    /// The message key: HMAC-SHA256 keyed by the secret over the ASCII label.
    public static func deriveKey(secret: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(keyLabel.utf8), using: SymmetricKey(data: secret)))
    }

    // MARK: Encode

    public func encode(_ envelope: Envelope) throws(ProtocolError) -> [UInt8] {
        let body: [UInt8]
        if let written = RecordJSONWriter.body(envelope) {
            body = written
        } else {
            do {
                body = Array(try WireCodec.encodeBody(envelope))
            } catch {
                throw ProtocolError(code: .malformed, detail: "cannot encode \(envelope.message.kind): \(error)")
            }
        }
        let total = WireCodec.headerSize + body.count + WireCodec.tagSize
        guard total <= maxMessageBytes else {
            throw ProtocolError(code: .oversized, detail: "\(envelope.message.kind) would be \(total) bytes, limit \(maxMessageBytes)")
        }
        var bytes = WireCodec.magic
        bytes.reserveCapacity(total)
        bytes.append(WireCodec.version)
        bytes.append(envelope.message.kind.rawValue)
        let length = UInt32(body.count)
        bytes.append(contentsOf: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        bytes.append(contentsOf: body)
        bytes.append(contentsOf: HMAC<SHA256>.authenticationCode(for: bytes, using: key))
        return bytes
    }

    private static func encodeBody(_ envelope: Envelope) throws -> Data {
        func wrap<Body: Codable>(_ body: Body) throws -> Data {
            let encoder = JSONEncoder()
            // Unescaped slashes: paths and base64 payloads need no escapes (WireJSONReader's fast path).
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(
                WireEnvelope(id: envelope.id, sender: envelope.sender, sentAt: envelope.sentAt, replyTo: envelope.replyTo, body: body))
        }
        switch envelope.message {
        case .hello(let body): return try wrap(body)
        case .welcome(let body): return try wrap(body)
        case .leaseRequest(let body): return try wrap(body)
        case .leaseGrant(let body): return try wrap(body)
        case .heartbeat(let body): return try wrap(body)
        case .heartbeatAck(let body): return try wrap(body)
        case .complete(let body): return try wrap(body)
        case .fail(let body): return try wrap(body)
        case .statusRequest(let body): return try wrap(body)
        case .statusResponse(let body): return try wrap(body)
        case .ack(let body): return try wrap(body)
        case .reject(let body): return try wrap(body)
        case .drain(let body): return try wrap(body)
        case .goodbye(let body): return try wrap(body)
        case .reportBatch(let body): return try wrap(body)
        case .reportAck(let body): return try wrap(body)
        case .retryDead(let body): return try wrap(body)
        case .retried(let body): return try wrap(body)
        }
    }

    // MARK: Decode

    /// Checks, in this order: size limit, header length, magic, version, declared length, HMAC (constant time),
    /// type byte, JSON, field ranges. Never traps; every failure is a `ProtocolError`.
    public func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Envelope {
        guard bytes.count <= maxMessageBytes else {
            throw ProtocolError(code: .oversized, detail: "\(bytes.count) bytes exceed the limit of \(maxMessageBytes)")
        }
        guard bytes.count >= WireCodec.headerSize + WireCodec.tagSize else {
            throw ProtocolError(code: .truncated, detail: "\(bytes.count) bytes is shorter than header and tag (\(WireCodec.headerSize + WireCodec.tagSize))")
        }
        guard bytes[0..<4].elementsEqual(WireCodec.magic) else {
            throw ProtocolError(code: .badMagic, detail: "first bytes are not 'WTCL'")
        }
        guard bytes[4] == WireCodec.version else {
            throw ProtocolError(code: .unsupportedVersion, detail: "version \(bytes[4]), this build speaks \(WireCodec.version)")
        }
        let declared = bytes[6..<10].reduce(0) { ($0 << 8) | Int($1) }
        let actual = bytes.count - WireCodec.headerSize - WireCodec.tagSize
        guard declared == actual else {
            throw ProtocolError(code: .truncated, detail: "body length field says \(declared) bytes, message carries \(actual)")
        }
        let signedEnd = bytes.count - WireCodec.tagSize
        // Whole arrays, not slices: swift-crypto 3.12 reads the tag's bytes from index 0.
        let tag = Array(bytes[signedEnd...])
        let signed = Array(bytes[..<signedEnd])
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: signed, using: key) else {
            throw ProtocolError(code: .unauthenticated, detail: "HMAC tag does not match (wrong cluster secret or altered message)")
        }
        guard let kind = ClusterMessage.Kind(rawValue: bytes[5]) else {
            throw ProtocolError(code: .unknownMessageType, detail: "type byte \(bytes[5])")
        }
        let envelope: Envelope
        if let fast = WireJSONReader.envelope(kind, bytes, start: WireCodec.headerSize, end: signedEnd) {
            envelope = fast
        } else {
            do {
                envelope = try WireCodec.decodeBody(kind, Data(bytes[WireCodec.headerSize..<signedEnd]))
            } catch {
                throw ProtocolError(code: .malformed, detail: "\(kind) body: \(WireCodec.describe(error))")
            }
        }
        if let problem = envelope.message.validationProblem {
            throw ProtocolError(code: .invalidField, detail: "\(kind): \(problem)")
        }
        return envelope
    }

    private static func decodeBody(_ kind: ClusterMessage.Kind, _ data: Data) throws -> Envelope {
        let decoder = JSONDecoder()
        func unwrap<Body: Codable>(_: Body.Type, _ make: (Body) -> ClusterMessage) throws -> Envelope {
            let wire = try decoder.decode(WireEnvelope<Body>.self, from: data)
            return Envelope(id: wire.id, sender: wire.sender, sentAt: wire.sentAt, replyTo: wire.replyTo, message: make(wire.body))
        }
        switch kind {
        case .hello: return try unwrap(Hello.self, ClusterMessage.hello)
        case .welcome: return try unwrap(Welcome.self, ClusterMessage.welcome)
        case .leaseRequest: return try unwrap(LeaseRequest.self, ClusterMessage.leaseRequest)
        case .leaseGrant: return try unwrap(LeaseGrant.self, ClusterMessage.leaseGrant)
        case .heartbeat: return try unwrap(Heartbeat.self, ClusterMessage.heartbeat)
        case .heartbeatAck: return try unwrap(HeartbeatAck.self, ClusterMessage.heartbeatAck)
        case .complete: return try unwrap(Complete.self, ClusterMessage.complete)
        case .fail: return try unwrap(Fail.self, ClusterMessage.fail)
        case .statusRequest: return try unwrap(StatusRequest.self, ClusterMessage.statusRequest)
        case .statusResponse: return try unwrap(ClusterStatus.self, ClusterMessage.statusResponse)
        case .ack: return try unwrap(Ack.self, ClusterMessage.ack)
        case .reject: return try unwrap(Reject.self, ClusterMessage.reject)
        case .drain: return try unwrap(Drain.self, ClusterMessage.drain)
        case .goodbye: return try unwrap(Goodbye.self, ClusterMessage.goodbye)
        case .reportBatch: return try unwrap(ReportBatch.self, ClusterMessage.reportBatch)
        case .reportAck: return try unwrap(ReportAck.self, ClusterMessage.reportAck)
        case .retryDead: return try unwrap(RetryDead.self, ClusterMessage.retryDead)
        case .retried: return try unwrap(Retried.self, ClusterMessage.retried)
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context),
            DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "<root>" : path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// The JSON object every message body is: envelope fields plus the type-specific `body`.
struct WireEnvelope<Body: Codable>: Codable {
    let id: MessageID
    let sender: WorkerID
    let sentAt: Timestamp
    let replyTo: MessageID?
    let body: Body
}

extension ClusterMessage {
    /// Range checks beyond what JSON decoding enforces; nil when the message is acceptable.
    var validationProblem: String? {
        func names(_ list: [String], _ field: String) -> String? {
            guard list.count <= 64 else { return "\(field) has \(list.count) entries (max 64)" }
            return list.allSatisfy(isValidClusterName) ? nil : "\(field) contains a name outside [a-z0-9_-]{1,32}"
        }
        switch self {
        case .hello(let hello):
            guard (1...ClusterLimits.maxUnitsPerLease).contains(hello.capacity) else { return "capacity \(hello.capacity) outside 1...\(ClusterLimits.maxUnitsPerLease)" }
            guard hello.softwareVersion.utf8.count <= 64 else { return "softwareVersion longer than 64 bytes" }
            return names(hello.platforms, "platforms")
        case .welcome(let welcome):
            return welcome.leaseMillis > 0 && welcome.heartbeatMillis > 0 ? nil : "timings must be positive"
        case .leaseRequest(let request):
            guard (0...ClusterLimits.maxUnitsPerLease).contains(request.maxUnits) else { return "maxUnits \(request.maxUnits) outside 0...\(ClusterLimits.maxUnitsPerLease)" }
            return names(request.platforms, "platforms")
        case .leaseGrant(let grant):
            return grant.units.count <= ClusterLimits.maxUnitsPerLease ? nil : "too many units"
        case .heartbeat(let heartbeat):
            guard heartbeat.tokens.count <= ClusterLimits.maxTokensPerHeartbeat else { return "\(heartbeat.tokens.count) tokens exceed \(ClusterLimits.maxTokensPerHeartbeat)" }
            guard heartbeat.signals.allSatisfy({ isValidClusterName($0.platform) && $0.stats.isValid }) else { return "invalid platform signals" }
            return heartbeat.signals.count <= 64 ? nil : "too many platform signals"
        case .heartbeatAck(let ack):
            return ack.leases.count <= ClusterLimits.maxTokensPerHeartbeat ? nil : "too many leases"
        case .complete(let complete):
            return complete.validationProblem
        case .reportBatch(let batch):
            guard batch.completes.count + batch.fails.count <= ClusterLimits.maxUnitsPerLease else {
                return "\(batch.completes.count + batch.fails.count) reports exceed \(ClusterLimits.maxUnitsPerLease)"
            }
            for (index, complete) in batch.completes.enumerated() {
                if let problem = complete.validationProblem { return "completes[\(index)]: \(problem)" }
            }
            for (index, fail) in batch.fails.enumerated() {
                if let problem = fail.validationProblem { return "fails[\(index)]: \(problem)" }
            }
            return nil
        case .reportAck(let ack):
            guard ack.completes.count + ack.fails.count <= ClusterLimits.maxUnitsPerLease else { return "too many outcomes" }
            return (ack.completes + ack.fails).allSatisfy { $0.utf8.count <= 64 } ? nil : "outcome too long"
        case .retryDead(let retry):
            return (retry.units?.count ?? 0) <= ClusterLimits.maxTokensPerHeartbeat ? nil : "more than \(ClusterLimits.maxTokensPerHeartbeat) units"
        case .retried:
            return nil
        case .fail(let fail):
            return fail.validationProblem
        case .goodbye(let goodbye):
            return goodbye.releasing.count <= ClusterLimits.maxTokensPerHeartbeat ? nil : "too many tokens"
        case .reject(let reject):
            return reject.detail.utf8.count <= ClusterLimits.maxErrorBytes ? nil : "detail too long"
        case .drain(let drain):
            return drain.reason.utf8.count <= ClusterLimits.maxErrorBytes ? nil : "reason too long"
        case .ack(let ack):
            return ack.outcome.utf8.count <= 64 ? nil : "outcome too long"
        case .statusRequest, .statusResponse:
            return nil
        }
    }
}

extension Complete {
    var validationProblem: String? {
        guard children.count <= ClusterLimits.maxChildrenPerCompletion else { return "\(children.count) children exceed \(ClusterLimits.maxChildrenPerCompletion)" }
        guard manifest.files.count <= ClusterLimits.maxFilesPerCompletion else { return "too many files" }
        guard manifest.files.allSatisfy(\.isValid) else { return "a file entry is invalid (path, table, counts or sha256)" }
        return stats.isValid ? nil : "negative statistics"
    }
}

extension Fail {
    var validationProblem: String? {
        guard error.utf8.count <= ClusterLimits.maxErrorBytes else { return "error longer than \(ClusterLimits.maxErrorBytes) bytes" }
        return stats.isValid ? nil : "negative statistics"
    }
}
