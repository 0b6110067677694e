/// Where a unit is in its life. Every unit is in exactly one state.
public enum UnitState: String, Hashable, Sendable, Codable, CaseIterable {
    /// Waiting to be leased.
    case pending
    /// Held by a worker until its lease deadline.
    case leased
    /// Completed; its manifest was accepted. Terminal.
    case done
    /// Gave up after `maxAttempts` (or a non-retryable failure), keeping the last error. Terminal until `retry`.
    case dead
}

/// A worker's time-limited claim on a unit.
public struct Lease: Hashable, Sendable, Codable {
    public let token: LeaseToken
    public let worker: WorkerID
    public let grantedAt: Timestamp
    public var deadline: Timestamp
}

/// The durable row of one unit. The store persists it whole (upsert), so the state machine rebuilds from rows alone.
public struct UnitRecord: Hashable, Sendable, Codable {
    public let id: UnitID
    public let run: RunID
    /// The unit whose completion reported this one, if any.
    public let parent: UnitID?
    public let seed: UnitSeed
    public let createdAt: Timestamp
    public internal(set) var state: UnitState
    /// Leases granted since creation or the last `retry`; at most `maxAttempts`.
    public internal(set) var attempts: Int
    /// Leases ever granted (never reset): the epoch of the current or next token.
    public internal(set) var leaseEpoch: UInt32
    public internal(set) var lease: Lease?
    public internal(set) var lastError: String?
    /// Order of this unit in its platform's pending queue (FIFO); meaningful while pending.
    public internal(set) var pendingSeq: UInt64
    public internal(set) var pendingSince: Timestamp?
    public internal(set) var updatedAt: Timestamp
    /// The token whose completion was accepted, when done.
    public internal(set) var completedBy: LeaseToken?
    public internal(set) var manifest: Manifest?
    /// Worker statistics summed over accepted completions and failures of current leases.
    public internal(set) var stats: TaskStats

    public var kind: String { seed.kind }
    public var platform: String { seed.platform }

    /// The same row with its manifest set: a store that keeps accepted files apart puts them back with this.
    public func withManifest(_ manifest: Manifest) -> UnitRecord {
        var copy = self
        copy.manifest = manifest
        return copy
    }
}

public enum RunState: String, Hashable, Sendable, Codable {
    case active, finished
}

/// Totals of a run, kept incrementally so finishing needs no scan.
public struct RunTotals: Hashable, Sendable, Codable {
    public internal(set) var stats: TaskStats = .zero
    public internal(set) var rowsByTable: [String: Int64] = [:]
    public internal(set) var files: Int64 = 0
    public internal(set) var outputBytes: Int64 = 0
    /// Leases that ran out (the worker went silent or was too slow).
    public internal(set) var leaseExpiries: Int64 = 0
    /// Failures reported by workers on current leases.
    public internal(set) var failures: Int64 = 0
    /// Completions or failures ignored because their lease was no longer current.
    public internal(set) var staleReports: Int64 = 0
    /// Dead units sent back to pending by an operator.
    public internal(set) var retriedDead: Int64 = 0
    public init() {}
}

/// The durable row of one run.
public struct RunRecord: Hashable, Sendable, Codable {
    public let id: RunID
    public let spec: RunSpec
    public let createdAt: Timestamp
    public internal(set) var state: RunState
    public internal(set) var finishedAt: Timestamp?
    /// Last time a unit of the run became terminal or was created; stall detection measures from here.
    public internal(set) var lastProgressAt: Timestamp
    public internal(set) var totals: RunTotals
}

/// One lease grant as a journal entry: the units a worker got in one `lease` call, with their new epochs.
///
/// Leasing is the one transition that changes nothing a full row must repeat except the lease itself, and it is
/// half of all unit writes; one entry per grant (up to `maxUnitsPerLease` units) replaces one row upsert per unit.
/// Replay applies an entry to a unit whose restored row has an older epoch (it is pending then) and ignores it
/// otherwise: every later transition of the unit rewrites its full row with that epoch.
public struct LeaseGrantRecord: Hashable, Sendable, Codable {
    public let worker: WorkerID
    public let grantedAt: Timestamp
    public let deadline: Timestamp
    public internal(set) var units: [UnitID]
    /// `epochs[i]` is the epoch of `units[i]`'s new lease token.
    public internal(set) var epochs: [UInt32]
    public init(worker: WorkerID, grantedAt: Timestamp, deadline: Timestamp, units: [UnitID], epochs: [UInt32]) {
        self.worker = worker
        self.grantedAt = grantedAt
        self.deadline = deadline
        self.units = units
        self.epochs = epochs
    }
}

/// One durable change: the new full content of a row, or a lease grant journal entry. A batch is persisted in one
/// transaction (group commit); applying the batches in order to an empty store reproduces the state machine exactly.
public enum LedgerChange: Hashable, Sendable, Codable {
    case run(RunRecord)
    case unit(UnitRecord)
    case leases(LeaseGrantRecord)
}

/// Unit counts per state.
public struct StateCounts: Hashable, Sendable, Codable {
    public internal(set) var pending = 0
    public internal(set) var leased = 0
    public internal(set) var done = 0
    public internal(set) var dead = 0
    public init() {}
    public init(pending: Int, leased: Int, done: Int, dead: Int) {
        self.pending = pending
        self.leased = leased
        self.done = done
        self.dead = dead
    }
    public var total: Int { pending + leased + done + dead }
    public var terminal: Int { done + dead }
    public var backlog: Int { pending + leased }
    public subscript(state: UnitState) -> Int {
        get {
            switch state {
            case .pending: pending
            case .leased: leased
            case .done: done
            case .dead: dead
            }
        }
        set {
            switch state {
            case .pending: pending = newValue
            case .leased: leased = newValue
            case .done: done = newValue
            case .dead: dead = newValue
            }
        }
    }
    static func + (lhs: StateCounts, rhs: StateCounts) -> StateCounts {
        StateCounts(pending: lhs.pending + rhs.pending, leased: lhs.leased + rhs.leased, done: lhs.done + rhs.done, dead: lhs.dead + rhs.dead)
    }
}

/// Settings of the ledger state machine.
public struct LedgerConfig: Hashable, Sendable, Codable {
    /// How long a lease lasts without a heartbeat.
    public var leaseMillis: Int64
    /// Leases a unit may use before it is dead.
    public var maxAttempts: Int
    /// Units of one platform leased at once, cluster-wide (nil: unlimited).
    public var maxLeasedPerPlatform: Int?

    public init(leaseMillis: Int64 = 60_000, maxAttempts: Int = 5, maxLeasedPerPlatform: Int? = nil) {
        self.leaseMillis = max(1, leaseMillis)
        self.maxAttempts = max(1, maxAttempts)
        self.maxLeasedPerPlatform = maxLeasedPerPlatform.map { max(1, $0) }
    }
}

/// What happened to a completion.
public enum CompletionOutcome: String, Hashable, Sendable, Codable {
    /// First valid completion by the current lease holder: the manifest is accepted, children created.
    case accepted
    /// The same lease already completed this unit; acknowledged, nothing changes.
    case duplicate
    /// The lease is no longer current (expired, re-leased, failed or released); acknowledged and ignored.
    case stale
    /// No such unit.
    case unknownUnit
    /// The report broke a rule (child of a platform outside the run, invalid file entry); the attempt counts as failed.
    case invalid
}

/// What happened to a failure report.
public enum FailureOutcome: String, Hashable, Sendable, Codable {
    /// Back to pending for another attempt.
    case requeued
    /// No attempts left, or not retryable: the unit is dead.
    case dead
    /// The lease is no longer current; ignored.
    case stale
    case unknownUnit
}

/// A heartbeat's verdict on one token.
public struct LeaseStatus: Hashable, Sendable, Codable {
    public let token: LeaseToken
    /// False: stop working on it, the lease is gone (its result would be ignored).
    public let valid: Bool
    public let deadline: Timestamp?
    public init(token: LeaseToken, valid: Bool, deadline: Timestamp?) {
        self.token = token
        self.valid = valid
        self.deadline = deadline
    }
}
