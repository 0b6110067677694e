/// Rejects messages sent outside a time window and recognises repeated message ids inside it, remembering the reply
/// sent for each so an nng REQ resend gets the same answer instead of being applied twice. Bounded memory.
public struct ReplayWindow: Sendable {
    public enum Verdict: Hashable, Sendable {
        /// First time this id is seen: handle it, then `remember(reply:for:)`.
        case fresh
        /// Seen before; resend this reply (nil while the first copy is still being handled or its reply was evicted).
        case duplicate(reply: [UInt8]?)
    }

    /// Accepted distance between a message's `sentAt` and the receiver's clock, both ways.
    public let windowMillis: Int64
    public let maxEntries: Int
    public let maxReplyBytes: Int

    private struct Entry: Sendable {
        var reply: [UInt8]?
        let receivedAt: Timestamp
        let sentAt: Timestamp
    }
    private var entries: [MessageID: Entry] = [:]
    private var order: [MessageID] = []
    private var head = 0
    private var replyBytes = 0
    /// Messages sent at or before this were possibly forgotten early (capacity), so they are refused.
    private var forgottenThrough: Timestamp?

    public init(windowMillis: Int64 = 120_000, maxEntries: Int = 200_000, maxReplyBytes: Int = 64 << 20) {
        self.windowMillis = max(1, windowMillis)
        self.maxEntries = max(1, maxEntries)
        self.maxReplyBytes = max(0, maxReplyBytes)
    }

    public var count: Int { entries.count }

    public mutating func check(_ envelope: Envelope, now: Timestamp) throws(ProtocolError) -> Verdict {
        evict(now: now)
        let skew = now.millis(since: envelope.sentAt)
        guard skew <= windowMillis, skew >= -windowMillis else {
            throw ProtocolError(code: .clockSkew, detail: "sent at \(envelope.sentAt.millis), receiver time \(now.millis), window ±\(windowMillis) ms")
        }
        if let entry = entries[envelope.id] { return .duplicate(reply: entry.reply) }
        if let forgotten = forgottenThrough, envelope.sentAt <= forgotten {
            throw ProtocolError(code: .replayed, detail: "message \(envelope.id) is older than the replay memory (capacity \(maxEntries))")
        }
        if entries.count >= maxEntries { forgetOldest() }
        entries[envelope.id] = Entry(reply: nil, receivedAt: now, sentAt: envelope.sentAt)
        order.append(envelope.id)
        return .fresh
    }

    /// Stores the reply sent for `id`, for duplicates; replies beyond the byte budget are not kept.
    public mutating func remember(reply: [UInt8], for id: MessageID) {
        guard entries[id] != nil, entries[id]?.reply == nil else { return }
        guard replyBytes + reply.count <= maxReplyBytes else { return }
        entries[id]?.reply = reply
        replyBytes += reply.count
    }

    /// An id is kept until `receivedAt + 2 × window`: by then its `sentAt` (at most `receivedAt + window`) is out of the window.
    private mutating func evict(now: Timestamp) {
        while head < order.count {
            let id = order[head]
            guard let entry = entries[id] else {
                head += 1
                continue
            }
            guard now.millis(since: entry.receivedAt) > 2 * windowMillis else { break }
            drop(id)
        }
        compact()
    }

    private mutating func forgetOldest() {
        while head < order.count {
            let id = order[head]
            if let entry = entries[id] {
                forgottenThrough = max(forgottenThrough ?? entry.sentAt, entry.sentAt)
                drop(id)
                break
            }
            head += 1
        }
        compact()
    }

    private mutating func drop(_ id: MessageID) {
        if let reply = entries.removeValue(forKey: id)?.reply { replyBytes -= reply.count }
        head += 1
    }

    private mutating func compact() {
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

/// Counts refused messages by reason, for status and metrics.
public struct RejectionCounters: Hashable, Sendable {
    public private(set) var byReason: [RejectReason: Int64] = [:]
    public init() {}
    public mutating func record(_ reason: RejectReason) { byReason[reason, default: 0] += 1 }
    public subscript(reason: RejectReason) -> Int64 { byReason[reason, default: 0] }
    public var byName: [String: Int64] { Dictionary(uniqueKeysWithValues: byReason.map { ($0.key.rawValue, $0.value) }) }
}

/// The receive path in one place: decode and authenticate, check the replay window, count refusals.
public struct MessageGate: Sendable {
    public let codec: WireCodec
    public private(set) var replay: ReplayWindow
    public private(set) var rejections = RejectionCounters()

    public enum Admission: Hashable, Sendable {
        /// Handle this message, then call `remember(reply:for:)` with the encoded reply.
        case handle(Envelope)
        /// A resend of a message already answered: send these bytes again.
        case resend([UInt8])
        /// Refused: reply with `Reject(reason, detail)` (or drop, for garbage).
        case reject(ProtocolError)
    }

    public init(codec: WireCodec, replay: ReplayWindow = ReplayWindow()) {
        self.codec = codec
        self.replay = replay
    }

    public mutating func admit(_ bytes: [UInt8], now: Timestamp) -> Admission {
        admit(Result { () throws(ProtocolError) in try codec.decode(bytes) }, now: now)
    }

    /// The same for a frame already decoded with `codec` (decoding needs no shared state, so a server can do it
    /// outside whatever serialises the gate).
    public mutating func admit(_ decoded: Result<Envelope, ProtocolError>, now: Timestamp) -> Admission {
        do {
            let envelope = try decoded.get()
            switch try replay.check(envelope, now: now) {
            case .fresh: return .handle(envelope)
            case .duplicate(let reply?): return .resend(reply)
            case .duplicate(nil):
                let error = ProtocolError(code: .replayed, detail: "message \(envelope.id) was already received and has no stored reply")
                rejections.record(error.reason)
                return .reject(error)
            }
        } catch {
            rejections.record(error.reason)
            return .reject(error)
        }
    }

    public mutating func remember(reply: [UInt8], for id: MessageID) { replay.remember(reply: reply, for: id) }
}
