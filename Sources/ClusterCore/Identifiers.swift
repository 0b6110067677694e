import Crypto

/// Milliseconds since the Unix epoch. The whole core takes time as a parameter so tests inject a clock.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var millis: Int64
    public init(millis: Int64) { self.millis = millis }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.millis < rhs.millis }
    /// Saturating, so a huge configured duration cannot trap.
    public func adding(millis delta: Int64) -> Timestamp {
        let (sum, overflow) = millis.addingReportingOverflow(delta)
        return Timestamp(millis: overflow ? (delta > 0 ? .max : .min) : sum)
    }
    /// `self - earlier` in milliseconds, saturating.
    public func millis(since earlier: Timestamp) -> Int64 {
        let (diff, overflow) = millis.subtractingReportingOverflow(earlier.millis)
        return overflow ? (millis > earlier.millis ? .max : .min) : diff
    }
    public init(from decoder: any Decoder) throws { millis = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(millis)
    }
    public var description: String { "\(millis)ms" }
}

/// Identifier rules shared by every id type: bounded length and a charset safe in file names, SQL and logs.
enum IdentifierRules {
    static func isSafe(_ value: String, maxLength: Int, extra: Set<UInt8> = []) -> Bool {
        let utf8 = value.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        return utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || extra.contains(byte)
        }
    }
    static let runExtra: Set<UInt8> = Set("-._+".utf8)
    static let workerExtra: Set<UInt8> = Set("-._".utf8)
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Builds a `Codable` conformance that validates on decode, shared by the string id types.
public protocol ValidatedIdentifier: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    var rawValue: String { get }
    init?(rawValue: String)
}

extension ValidatedIdentifier {
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid \(Self.self) '\(raw.prefix(80))'")
        }
        self = value
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A run: lowercase letters, digits and `-._+`, at most 96 bytes. `RunSpec.defaultID` derives one from the spec.
public struct RunID: ValidatedIdentifier {
    public let rawValue: String
    public init?(rawValue: String) {
        guard IdentifierRules.isSafe(rawValue, maxLength: 96, extra: IdentifierRules.runExtra) else { return nil }
        self.rawValue = rawValue
    }
}

/// A worker's self-chosen name: lowercase letters, digits and `-._`, at most 64 bytes.
public struct WorkerID: ValidatedIdentifier {
    public let rawValue: String
    public init?(rawValue: String) {
        guard IdentifierRules.isSafe(rawValue, maxLength: 64, extra: IdentifierRules.workerExtra) else { return nil }
        self.rawValue = rawValue
    }
}

/// A unit of work: 32 lowercase hex digits, the first 128 bits of SHA-256 over the run id and the task identity.
/// Deterministic, so a child reported twice maps to the same unit; safe in file names.
public struct UnitID: ValidatedIdentifier {
    public let rawValue: String
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 32,
              IdentifierRules.isSafe(rawValue, maxLength: 32),
              rawValue.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        self.rawValue = rawValue
    }

    /// SHA-256 of `"wtcl-unit-v1" 0x00 run 0x00 platform 0x00 kind 0x00 key`, first 16 bytes as hex.
    /// NUL cannot occur inside the parts (validated by `UnitSeed`), so the encoding is unambiguous.
    public static func derive(run: RunID, platform: String, kind: String, key: String) -> UnitID {
        var input = Array("wtcl-unit-v1".utf8)
        for part in [run.rawValue, platform, kind, key] {
            input.append(0)
            input.append(contentsOf: part.utf8)
        }
        let digest = SHA256.hash(data: input)
        return UnitID(rawValue: IdentifierRules.hex(digest.prefix(16)))!
    }
}

/// Fences one lease of one unit: `<unit id>-<epoch>`, where the epoch counts every lease the unit ever had
/// (never reset, not even by `retry`), so a token from an earlier lease can never match a later one.
public struct LeaseToken: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let unit: UnitID
    public let epoch: UInt32
    public init(unit: UnitID, epoch: UInt32) {
        self.unit = unit
        self.epoch = epoch
    }
    public init?(rawValue: String) {
        let parts = rawValue.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let unit = UnitID(rawValue: String(parts[0])),
              parts[1].utf8.count <= 10, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let epoch = UInt32(parts[1])
        else { return nil }
        self.init(unit: unit, epoch: epoch)
    }
    public var rawValue: String { "\(unit.rawValue)-\(epoch)" }
    public var description: String { rawValue }
    public static func < (lhs: LeaseToken, rhs: LeaseToken) -> Bool { (lhs.unit, lhs.epoch) < (rhs.unit, rhs.epoch) }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = LeaseToken(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid lease token '\(raw.prefix(80))'")
        }
        self = value
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A message id chosen by the sender: 32 lowercase hex digits (128 random bits). Replays are detected by it.
public struct MessageID: ValidatedIdentifier {
    public let rawValue: String
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 32,
              rawValue.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        self.rawValue = rawValue
    }
    /// A fresh id from the given generator (pass `SystemRandomNumberGenerator` in production).
    public static func random(using generator: inout some RandomNumberGenerator) -> MessageID {
        var bytes = [UInt8]()
        for _ in 0..<2 { withUnsafeBytes(of: generator.next().littleEndian) { bytes.append(contentsOf: $0) } }
        return MessageID(rawValue: IdentifierRules.hex(bytes))!
    }
}
