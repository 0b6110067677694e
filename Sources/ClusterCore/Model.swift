#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Limits that bound every field a peer can send, so no allocation is sized by an unchecked length.
public enum ClusterLimits {
    public static let maxNameBytes = 32
    public static let maxKeyBytes = 512
    public static let maxPayloadBytes = 64 * 1024
    public static let maxErrorBytes = 4 * 1024
    public static let maxChildrenPerCompletion = 10_000
    public static let maxFilesPerCompletion = 1_000
    public static let maxUnitsPerLease = 1_000
    public static let maxTokensPerHeartbeat = 10_000
    public static let maxPathBytes = 1_024
}

/// `daily` refreshes what changed since the last run; `full` re-crawls every title.
public enum RunMode: String, Hashable, Sendable, Codable, CaseIterable {
    case daily, full
}

/// Lowercase letters, digits, `-` and `_`, 1...32 bytes: platform names, unit kinds, table names.
public func isValidClusterName(_ name: String) -> Bool {
    IdentifierRules.isSafe(name, maxLength: ClusterLimits.maxNameBytes, extra: Set("-_".utf8))
}

/// What a run crawls: platforms, mode and the crawl date in KST (`YYYY-MM-DD`), and how it is split.
public struct RunSpec: Hashable, Sendable, Codable {
    public let platforms: [String]
    public let mode: RunMode
    public let crawlDate: String
    /// Episodes per episode unit, fixed when the run is planned and kept in the ledger, so every worker splits a
    /// title identically and a resumed run keeps its unit ids; nil: each platform catalog's default.
    public let episodeBatchSize: Int?

    public static let maxEpisodeBatchSize = 10_000

    /// Platforms are sorted and de-duplicated, so equal runs have equal specs.
    public init(platforms: [String], mode: RunMode, crawlDate: String, episodeBatchSize: Int? = nil) throws(ClusterError) {
        let sorted = Array(Set(platforms)).sorted()
        guard !sorted.isEmpty, sorted.allSatisfy(isValidClusterName) else {
            throw ClusterError(code: .invalidArgument, operation: "RunSpec", detail: "platforms must be non-empty names of [a-z0-9_-]: \(platforms)")
        }
        guard RunSpec.isDate(crawlDate) else {
            throw ClusterError(code: .invalidArgument, operation: "RunSpec", detail: "crawl date '\(crawlDate.prefix(40))' is not YYYY-MM-DD")
        }
        if let episodeBatchSize, !(1...RunSpec.maxEpisodeBatchSize).contains(episodeBatchSize) {
            throw ClusterError(code: .invalidArgument, operation: "RunSpec", detail: "episode batch size \(episodeBatchSize) is not in 1...\(RunSpec.maxEpisodeBatchSize)")
        }
        self.platforms = sorted
        self.mode = mode
        self.crawlDate = crawlDate
        self.episodeBatchSize = episodeBatchSize
    }

    /// The same run with another batch size.
    public func with(episodeBatchSize: Int?) throws(ClusterError) -> RunSpec {
        try RunSpec(platforms: platforms, mode: mode, crawlDate: crawlDate, episodeBatchSize: episodeBatchSize)
    }

    /// `<date>.<mode>.<platform>+<platform>`, e.g. `2026-11-25.daily.kakao+naver`; starting the same run twice resumes it.
    public var defaultID: RunID {
        RunID(rawValue: "\(crawlDate).\(mode.rawValue).\(platforms.joined(separator: "+"))")!
    }

    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == 0x2D, bytes[7] == 0x2D else { return false }
        let digits = bytes.enumerated().filter { $0.offset != 4 && $0.offset != 7 }.map(\.element)
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        let month = Int(bytes[5] - 0x30) * 10 + Int(bytes[6] - 0x30)
        let day = Int(bytes[8] - 0x30) * 10 + Int(bytes[9] - 0x30)
        return (1...12).contains(month) && (1...31).contains(day)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(
                platforms: container.decode([String].self, forKey: .platforms),
                mode: container.decode(RunMode.self, forKey: .mode),
                crawlDate: container.decode(String.self, forKey: .crawlDate),
                episodeBatchSize: container.decodeIfPresent(Int.self, forKey: .episodeBatchSize))
        } catch let error as ClusterError {
            throw DecodingError.dataCorruptedError(forKey: .platforms, in: container, debugDescription: error.description)
        }
    }
}

/// A task as the platform layer describes it: opaque to the cluster except for kind, platform and a deterministic key.
public struct UnitSeed: Hashable, Sendable, Codable {
    public let kind: String
    public let platform: String
    /// Unique within a run for this platform and kind; the unit id is derived from it.
    public let key: String
    /// The task encoded by the platform layer; travels as base64 in JSON.
    public let payload: [UInt8]

    public init(kind: String, platform: String, key: String, payload: [UInt8]) throws(ClusterError) {
        guard isValidClusterName(kind), isValidClusterName(platform) else {
            throw ClusterError(code: .invalidArgument, operation: "UnitSeed", detail: "kind '\(kind.prefix(40))' and platform '\(platform.prefix(40))' must be names of [a-z0-9_-]")
        }
        guard !key.isEmpty, key.utf8.count <= ClusterLimits.maxKeyBytes, !key.utf8.contains(0) else {
            throw ClusterError(code: .invalidArgument, operation: "UnitSeed", detail: "key must be 1...\(ClusterLimits.maxKeyBytes) bytes without NUL")
        }
        guard payload.count <= ClusterLimits.maxPayloadBytes else {
            throw ClusterError(code: .invalidArgument, operation: "UnitSeed", detail: "payload of \(payload.count) bytes exceeds \(ClusterLimits.maxPayloadBytes)")
        }
        self.kind = kind
        self.platform = platform
        self.key = key
        self.payload = payload
    }

    public func unitID(in run: RunID) -> UnitID { UnitID.derive(run: run, platform: platform, kind: kind, key: key) }

    enum CodingKeys: String, CodingKey { case kind, platform, key, payload }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let encoded = try container.decode(String.self, forKey: .payload)
        guard encoded.utf8.count <= (ClusterLimits.maxPayloadBytes / 3 + 1) * 4, let data = Data(base64Encoded: encoded) else {
            throw DecodingError.dataCorruptedError(forKey: .payload, in: container, debugDescription: "payload is not base64 of at most \(ClusterLimits.maxPayloadBytes) bytes")
        }
        do {
            try self.init(
                kind: container.decode(String.self, forKey: .kind), platform: container.decode(String.self, forKey: .platform),
                key: container.decode(String.self, forKey: .key), payload: [UInt8](data))
        } catch let error as ClusterError {
            throw DecodingError.dataCorruptedError(forKey: .key, in: container, debugDescription: error.description)
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(platform, forKey: .platform)
        try container.encode(key, forKey: .key)
        try container.encode(Data(payload).base64EncodedString(), forKey: .payload)
    }
}

/// One file a unit wrote (already renamed to its final, deterministic name).
public struct OutputFile: Hashable, Sendable, Codable {
    public let path: String
    /// Table (dataset) the file belongs to.
    public let table: String
    public let rows: Int64
    public let bytes: Int64
    /// SHA-256 of the file content, 64 lowercase hex digits.
    public let sha256: String

    public init(path: String, table: String, rows: Int64, bytes: Int64, sha256: String) {
        self.path = path
        self.table = table
        self.rows = rows
        self.bytes = bytes
        self.sha256 = sha256
    }

    var isValid: Bool {
        !path.isEmpty && path.utf8.count <= ClusterLimits.maxPathBytes && !path.utf8.contains(0) && isValidClusterName(table)
            && rows >= 0 && bytes >= 0 && sha256.utf8.count == 64
            && sha256.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// The accepted result of a unit: its files; rows per table are summed from them.
public struct Manifest: Hashable, Sendable, Codable {
    public let files: [OutputFile]
    public init(files: [OutputFile]) { self.files = files }
    public static let empty = Manifest(files: [])

    /// Rows per table, summed over the files (saturating).
    public var rowsByTable: [String: Int64] {
        files.reduce(into: [:]) { $0[$1.table, default: 0] = $0[$1.table, default: 0].addingSaturating($1.rows) }
    }
    public var totalBytes: Int64 { files.reduce(0) { $0.addingSaturating($1.bytes) } }
}

/// What a worker spent on a unit (or since its last heartbeat): requests and the responses that matter for politeness.
public struct TaskStats: Hashable, Sendable, Codable {
    public var requests: Int64
    public var retries: Int64
    public var status429: Int64
    public var status403: Int64
    public var status5xx: Int64
    public var bytes: Int64
    /// The largest Retry-After the worker was told, in milliseconds, if any.
    public var retryAfterMillis: Int64?

    public init(requests: Int64 = 0, retries: Int64 = 0, status429: Int64 = 0, status403: Int64 = 0, status5xx: Int64 = 0, bytes: Int64 = 0, retryAfterMillis: Int64? = nil) {
        self.requests = requests
        self.retries = retries
        self.status429 = status429
        self.status403 = status403
        self.status5xx = status5xx
        self.bytes = bytes
        self.retryAfterMillis = retryAfterMillis
    }
    public static let zero = TaskStats()

    var isValid: Bool {
        [requests, retries, status429, status403, status5xx, bytes].allSatisfy { $0 >= 0 } && (retryAfterMillis ?? 0) >= 0
    }

    /// Field-wise saturating sum; the Retry-After is the larger one.
    public func adding(_ other: TaskStats) -> TaskStats {
        TaskStats(
            requests: requests.addingSaturating(other.requests), retries: retries.addingSaturating(other.retries),
            status429: status429.addingSaturating(other.status429), status403: status403.addingSaturating(other.status403),
            status5xx: status5xx.addingSaturating(other.status5xx), bytes: bytes.addingSaturating(other.bytes),
            retryAfterMillis: [retryAfterMillis, other.retryAfterMillis].compactMap { $0 }.max())
    }
}

extension Int64 {
    func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// `text` without NUL (PostgreSQL text and jsonb cannot hold it), cut at a scalar boundary to at most `maxBytes`
/// UTF-8 bytes.
func truncatedUTF8(_ text: String, maxBytes: Int) -> String {
    guard text.utf8.count > maxBytes || text.utf8.contains(0) else { return text }
    var used = 0
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars where scalar != "\u{0}" {
        let size = String(scalar).utf8.count
        guard used + size <= maxBytes else { break }
        used += size
        scalars.append(scalar)
    }
    return String(scalars)
}
