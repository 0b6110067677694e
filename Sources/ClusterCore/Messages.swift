/// Worker → coordinator: the first message of a worker (and again after a coordinator restart).
public struct Hello: Hashable, Sendable, Codable {
    /// Units the worker runs at once; it never asks for more than this many leases in total.
    public let capacity: Int
    public let platforms: [String]
    public let softwareVersion: String
    public init(capacity: Int, platforms: [String], softwareVersion: String) {
        self.capacity = capacity
        self.platforms = platforms
        self.softwareVersion = softwareVersion
    }
}

/// Coordinator → worker: reply to hello, with the timings the worker must keep.
public struct Welcome: Hashable, Sendable, Codable {
    public let leaseMillis: Int64
    public let heartbeatMillis: Int64
    public let serverTime: Timestamp
    /// The coordinator's protocol revision within version 1 (absent: 1). From 2 it accepts `reportBatch` and
    /// `retryDead`; a worker sends batches only to a coordinator that announced them.
    public let revision: Int?
    public init(leaseMillis: Int64, heartbeatMillis: Int64, serverTime: Timestamp, revision: Int? = WireCodec.revision) {
        self.leaseMillis = leaseMillis
        self.heartbeatMillis = heartbeatMillis
        self.serverTime = serverTime
        self.revision = revision
    }
}

/// Worker → coordinator: pull up to `maxUnits` units of these platforms.
public struct LeaseRequest: Hashable, Sendable, Codable {
    public let maxUnits: Int
    public let platforms: [String]
    public init(maxUnits: Int, platforms: [String]) {
        self.maxUnits = maxUnits
        self.platforms = platforms
    }
}

/// One leased unit as the worker receives it.
public struct GrantedUnit: Hashable, Sendable, Codable {
    public let token: LeaseToken
    public let run: RunID
    public let unit: UnitID
    /// Kind, platform, key and the opaque payload of the task.
    public let seed: UnitSeed
    /// 1 for the first attempt.
    public let attempt: Int
    public let deadline: Timestamp
    public init(token: LeaseToken, run: RunID, unit: UnitID, seed: UnitSeed, attempt: Int, deadline: Timestamp) {
        self.token = token
        self.run = run
        self.unit = unit
        self.seed = seed
        self.attempt = attempt
        self.deadline = deadline
    }
}

/// The request rate a worker may use for one platform until its next grant or heartbeat reply.
public struct PlatformAllowance: Hashable, Sendable, Codable {
    public let platform: String
    /// This worker's share of the cluster-wide rate, requests per second (0 while paused).
    public let requestsPerSecond: Double
    /// Send no request to the platform before this time.
    public let pausedUntil: Timestamp?
    public init(platform: String, requestsPerSecond: Double, pausedUntil: Timestamp?) {
        self.platform = platform
        self.requestsPerSecond = requestsPerSecond
        self.pausedUntil = pausedUntil
    }
}

/// Coordinator → worker: the units leased (possibly none) and the worker's budgets.
public struct LeaseGrant: Hashable, Sendable, Codable {
    public let units: [GrantedUnit]
    public let allowances: [PlatformAllowance]
    /// When no unit was granted: wait this long before asking again.
    public let retryAfterMillis: Int64?
    public init(units: [GrantedUnit], allowances: [PlatformAllowance], retryAfterMillis: Int64?) {
        self.units = units
        self.allowances = allowances
        self.retryAfterMillis = retryAfterMillis
    }
}

/// Politeness signals a worker saw on one platform since its previous heartbeat (for budgets only; accounting
/// comes from complete and fail).
public struct PlatformSignals: Hashable, Sendable, Codable {
    public let platform: String
    public let stats: TaskStats
    public init(platform: String, stats: TaskStats) {
        self.platform = platform
        self.stats = stats
    }
}

/// Worker → coordinator: the leases it still works on, every `heartbeatMillis`.
public struct Heartbeat: Hashable, Sendable, Codable {
    public let tokens: [LeaseToken]
    public let signals: [PlatformSignals]
    public init(tokens: [LeaseToken], signals: [PlatformSignals]) {
        self.tokens = tokens
        self.signals = signals
    }
}

/// Coordinator → worker: which leases are still valid (invalid ones must be abandoned), and fresh budgets.
public struct HeartbeatAck: Hashable, Sendable, Codable {
    public let leases: [LeaseStatus]
    public let allowances: [PlatformAllowance]
    /// True: finish what you hold, lease nothing more, then say goodbye.
    public let drain: Bool
    public init(leases: [LeaseStatus], allowances: [PlatformAllowance], drain: Bool) {
        self.leases = leases
        self.allowances = allowances
        self.drain = drain
    }
}

/// Worker → coordinator: a unit finished; its files are already at their final names.
public struct Complete: Hashable, Sendable, Codable {
    public let token: LeaseToken
    public let manifest: Manifest
    /// Tasks the unit discovered; created once each, whatever the number of reports.
    public let children: [UnitSeed]
    public let stats: TaskStats
    public init(token: LeaseToken, manifest: Manifest, children: [UnitSeed], stats: TaskStats) {
        self.token = token
        self.manifest = manifest
        self.children = children
        self.stats = stats
    }
}

/// Worker → coordinator: a unit failed.
public struct Fail: Hashable, Sendable, Codable {
    public let token: LeaseToken
    public let error: String
    /// False for failures another attempt cannot fix (the unit goes dead at once).
    public let retryable: Bool
    public let stats: TaskStats
    public init(token: LeaseToken, error: String, retryable: Bool, stats: TaskStats) {
        self.token = token
        self.error = error
        self.retryable = retryable
        self.stats = stats
    }
}

/// Worker → coordinator (revision 2): several finished units in one message, so a worker with free capacity for
/// many units pays one round trip and one commit wait for all of them. Each entry is applied exactly as the
/// single `complete` or `fail` would be, in order: completes first, then fails.
public struct ReportBatch: Hashable, Sendable, Codable {
    public let completes: [Complete]
    public let fails: [Fail]
    public init(completes: [Complete], fails: [Fail]) {
        self.completes = completes
        self.fails = fails
    }
}

/// Coordinator → worker: the outcome of each entry of a `ReportBatch`, in the same order (the strings of `Ack`).
public struct ReportAck: Hashable, Sendable, Codable {
    public let completes: [String]
    public let fails: [String]
    public init(completes: [String], fails: [String]) {
        self.completes = completes
        self.fails = fails
    }
}

/// Operator → coordinator (revision 2): send dead units back to pending (attempts reset) in the running
/// coordinator, durably, as `webtoon units retry` does offline. `units` nil: every dead unit (of `run`, if given).
public struct RetryDead: Hashable, Sendable, Codable {
    public let units: [UnitID]?
    public let run: RunID?
    public init(units: [UnitID]?, run: RunID?) {
        self.units = units
        self.run = run
    }
}

/// Coordinator → operator: the units that were dead and are pending again (committed before this reply).
public struct Retried: Hashable, Sendable, Codable {
    public let units: [UnitID]
    public init(units: [UnitID]) { self.units = units }
}

/// Anyone → coordinator: ask for `ClusterStatus`.
public struct StatusRequest: Hashable, Sendable, Codable {
    /// Include per-worker rows.
    public let includeWorkers: Bool
    public init(includeWorkers: Bool = true) { self.includeWorkers = includeWorkers }
}

/// Coordinator → peer: the request was applied (or recognised as a duplicate or stale report).
public struct Ack: Hashable, Sendable, Codable {
    /// `accepted`, `duplicate`, `stale`, `unknownUnit`, `invalid`, `requeued`, `dead`, `released`, `registered`.
    public let outcome: String
    public init(outcome: String) { self.outcome = outcome }
}

/// Why a message was refused.
public enum RejectReason: String, Hashable, Sendable, Codable, CaseIterable {
    case badMagic, unsupportedVersion, unknownMessageType, truncated, oversized, unauthenticated, malformed,
        invalidField, replayed, clockSkew, unknownWorker, unexpectedMessage
}

/// Coordinator → peer: the message was refused, with the reason and a human-readable detail.
public struct Reject: Hashable, Sendable, Codable {
    public let reason: RejectReason
    public let detail: String
    public init(reason: RejectReason, detail: String) {
        self.reason = reason
        self.detail = detail
    }
}

/// Coordinator → worker (reply to a lease request): lease nothing more, finish, then say goodbye.
public struct Drain: Hashable, Sendable, Codable {
    public let reason: String
    public init(reason: String) { self.reason = reason }
}

/// Worker → coordinator: leaving; leases in `releasing` go back to pending without counting an attempt.
public struct Goodbye: Hashable, Sendable, Codable {
    public let releasing: [LeaseToken]
    public init(releasing: [LeaseToken]) { self.releasing = releasing }
}

/// Every message of protocol version 1 (revision 2). The raw value is the type byte on the wire.
public enum ClusterMessage: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case leaseRequest(LeaseRequest)
    case leaseGrant(LeaseGrant)
    case heartbeat(Heartbeat)
    case heartbeatAck(HeartbeatAck)
    case complete(Complete)
    case fail(Fail)
    case statusRequest(StatusRequest)
    case statusResponse(ClusterStatus)
    case ack(Ack)
    case reject(Reject)
    case drain(Drain)
    case goodbye(Goodbye)
    case reportBatch(ReportBatch)
    case reportAck(ReportAck)
    case retryDead(RetryDead)
    case retried(Retried)

    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        case hello = 1, welcome, leaseRequest, leaseGrant, heartbeat, heartbeatAck, complete, fail, statusRequest,
            statusResponse, ack, reject, drain, goodbye
        // Revision 2.
        case reportBatch, reportAck, retryDead, retried
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .leaseRequest: .leaseRequest
        case .leaseGrant: .leaseGrant
        case .heartbeat: .heartbeat
        case .heartbeatAck: .heartbeatAck
        case .complete: .complete
        case .fail: .fail
        case .statusRequest: .statusRequest
        case .statusResponse: .statusResponse
        case .ack: .ack
        case .reject: .reject
        case .drain: .drain
        case .goodbye: .goodbye
        case .reportBatch: .reportBatch
        case .reportAck: .reportAck
        case .retryDead: .retryDead
        case .retried: .retried
        }
    }
}

/// A message with its sender, unique id and send time (used against replays), and the request it answers.
public struct Envelope: Hashable, Sendable {
    public let id: MessageID
    /// A worker id, `coordinator`, or any client name (same charset as worker ids).
    public let sender: WorkerID
    public let sentAt: Timestamp
    public let replyTo: MessageID?
    public let message: ClusterMessage
    public init(id: MessageID, sender: WorkerID, sentAt: Timestamp, replyTo: MessageID? = nil, message: ClusterMessage) {
        self.id = id
        self.sender = sender
        self.sentAt = sentAt
        self.replyTo = replyTo
        self.message = message
    }
}
