#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes the ledger's durable records as the same JSON objects their `Codable` conformance produces (absent
/// optionals omitted, keys in declaration order), without `JSONEncoder`'s per-field dynamic dispatch: the group
/// commit encodes every changed unit, and `JSONEncoder` was the largest cost of the coordinator
/// (docs/bench/dispatch.md). `JSONDecoder` reads the output back into equal records (tested), except that a
/// unit record leaves its manifest out: the store keeps accepted files as rows of their own (`outputArray`).
public struct RecordJSONWriter: Sendable {
    public internal(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// A JSON array of the records.
    public static func array(_ units: [UnitRecord]) -> String {
        var writer = RecordJSONWriter(reservingCapacity: units.count * 640 + 2)
        writer.byte(UInt8(ascii: "["))
        for (index, unit) in units.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.write(unit)
        }
        writer.byte(UInt8(ascii: "]"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The accepted files of done units as one flat JSON array of
    /// `{"unit", "token", "path", "table", "rows", "bytes", "sha256"}` objects (units that are not done, or have
    /// no manifest, add nothing).
    public static func outputArray(_ units: [UnitRecord]) -> String {
        var writer = RecordJSONWriter(reservingCapacity: units.reduce(2) { $0 + ($1.manifest?.files.count ?? 0) * 330 })
        writer.byte(UInt8(ascii: "["))
        var first = true
        for unit in units where unit.state == .done {
            guard let token = unit.completedBy, let manifest = unit.manifest else { continue }
            for file in manifest.files {
                if !first { writer.byte(UInt8(ascii: ",")) }
                first = false
                writer.raw("{\"unit\":")
                writer.string(unit.id.rawValue)
                writer.raw(",\"token\":")
                writer.string(token.rawValue)
                writer.raw(",\"path\":")
                writer.string(file.path)
                writer.raw(",\"table\":")
                writer.string(file.table)
                writer.raw(",\"rows\":")
                writer.int(file.rows)
                writer.raw(",\"bytes\":")
                writer.int(file.bytes)
                writer.raw(",\"sha256\":")
                writer.string(file.sha256)
                writer.byte(UInt8(ascii: "}"))
            }
        }
        writer.byte(UInt8(ascii: "]"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// A JSON array of the lease grant journal entries.
    public static func grantArray(_ grants: [LeaseGrantRecord]) -> String {
        var writer = RecordJSONWriter(reservingCapacity: grants.reduce(2) { $0 + 96 + $1.units.count * 46 })
        writer.byte(UInt8(ascii: "["))
        for (index, grant) in grants.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.write(grant)
        }
        writer.byte(UInt8(ascii: "]"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    public mutating func write(_ grant: LeaseGrantRecord) {
        raw("{\"worker\":")
        string(grant.worker.rawValue)
        raw(",\"grantedAt\":")
        int(grant.grantedAt.millis)
        raw(",\"deadline\":")
        int(grant.deadline.millis)
        raw(",\"units\":[")
        for (index, unit) in grant.units.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            string(unit.rawValue)
        }
        raw("],\"epochs\":[")
        for (index, epoch) in grant.epochs.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            uint(UInt64(epoch))
        }
        raw("]}")
    }

    public mutating func write(_ unit: UnitRecord) {
        raw("{\"id\":")
        string(unit.id.rawValue)
        raw(",\"run\":")
        string(unit.run.rawValue)
        if let parent = unit.parent {
            raw(",\"parent\":")
            string(parent.rawValue)
        }
        raw(",\"seed\":{\"kind\":")
        string(unit.seed.kind)
        raw(",\"platform\":")
        string(unit.seed.platform)
        raw(",\"key\":")
        string(unit.seed.key)
        raw(",\"payload\":")
        base64(unit.seed.payload)
        raw("},\"createdAt\":")
        int(unit.createdAt.millis)
        raw(",\"state\":")
        string(unit.state.rawValue)
        raw(",\"attempts\":")
        int(Int64(unit.attempts))
        raw(",\"leaseEpoch\":")
        int(Int64(unit.leaseEpoch))
        if let lease = unit.lease {
            raw(",\"lease\":{\"token\":")
            string(lease.token.rawValue)
            raw(",\"worker\":")
            string(lease.worker.rawValue)
            raw(",\"grantedAt\":")
            int(lease.grantedAt.millis)
            raw(",\"deadline\":")
            int(lease.deadline.millis)
            byte(UInt8(ascii: "}"))
        }
        if let lastError = unit.lastError {
            raw(",\"lastError\":")
            string(lastError)
        }
        raw(",\"pendingSeq\":")
        uint(unit.pendingSeq)
        if let pendingSince = unit.pendingSince {
            raw(",\"pendingSince\":")
            int(pendingSince.millis)
        }
        raw(",\"updatedAt\":")
        int(unit.updatedAt.millis)
        if let completedBy = unit.completedBy {
            raw(",\"completedBy\":")
            string(completedBy.rawValue)
        }
        raw(",\"stats\":")
        write(unit.stats)
        byte(UInt8(ascii: "}"))
    }

    mutating func write(_ stats: TaskStats) {
        raw("{\"requests\":")
        int(stats.requests)
        raw(",\"retries\":")
        int(stats.retries)
        raw(",\"status429\":")
        int(stats.status429)
        raw(",\"status403\":")
        int(stats.status403)
        raw(",\"status5xx\":")
        int(stats.status5xx)
        raw(",\"bytes\":")
        int(stats.bytes)
        if let retryAfter = stats.retryAfterMillis {
            raw(",\"retryAfterMillis\":")
            int(retryAfter)
        }
        byte(UInt8(ascii: "}"))
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A JSON string: quote, backslash and control characters escaped; everything else as UTF-8.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for unit in text.utf8 {
            switch unit {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(unit)
            case 0..<0x20:
                let hex = { (nibble: UInt8) in nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10 }
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex(unit >> 4), hex(unit & 0xF)])
            default:
                bytes.append(unit)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            uint(value.magnitude)
        } else {
            uint(UInt64(value))
        }
    }

    mutating func uint(_ value: UInt64) {
        var rest = value
        var count = 0
        repeat {
            count += 1
            rest /= 10
        } while rest > 0
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        rest = value
        var index = start + count - 1
        repeat {
            bytes[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0
    }
}
