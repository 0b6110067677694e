#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Hand-written body of the one message whose size grows with the batch: a `leaseGrant` of K units was the largest
/// coordinator cost after the ledger's records (`JSONEncoder` dispatches per field). Writes the same JSON object as
/// the generic path (sorted keys, absent optionals omitted); any JSON decoder reads it (tested against
/// `JSONDecoder`). Returns nil when a value has no JSON form (a non-finite rate), leaving the error to the generic path.
extension RecordJSONWriter {
    static func leaseGrantBody(_ envelope: Envelope, _ grant: LeaseGrant) -> [UInt8]? {
        guard grant.allowances.allSatisfy({ $0.requestsPerSecond.isFinite }) else { return nil }
        var writer = RecordJSONWriter(reservingCapacity: 160 + grant.units.reduce(0) { $0 + 230 + $1.seed.key.utf8.count + $1.seed.payload.count * 4 / 3 })
        writer.raw("{\"body\":{\"allowances\":[")
        for (index, allowance) in grant.allowances.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.byte(UInt8(ascii: "{"))
            if let paused = allowance.pausedUntil {
                writer.raw("\"pausedUntil\":")
                writer.int(paused.millis)
                writer.byte(UInt8(ascii: ","))
            }
            writer.raw("\"platform\":")
            writer.string(allowance.platform)
            writer.raw(",\"requestsPerSecond\":")
            writer.double(allowance.requestsPerSecond)
            writer.byte(UInt8(ascii: "}"))
        }
        writer.byte(UInt8(ascii: "]"))
        if let retryAfter = grant.retryAfterMillis {
            writer.raw(",\"retryAfterMillis\":")
            writer.int(retryAfter)
        }
        writer.raw(",\"units\":[")
        for (index, unit) in grant.units.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.raw("{\"attempt\":")
            writer.int(Int64(unit.attempt))
            writer.raw(",\"deadline\":")
            writer.int(unit.deadline.millis)
            writer.raw(",\"run\":")
            writer.string(unit.run.rawValue)
            writer.raw(",\"seed\":{\"key\":")
            writer.string(unit.seed.key)
            writer.raw(",\"kind\":")
            writer.string(unit.seed.kind)
            writer.raw(",\"payload\":")
            writer.base64(unit.seed.payload)
            writer.raw(",\"platform\":")
            writer.string(unit.seed.platform)
            writer.raw("},\"token\":")
            writer.string(unit.token.rawValue)
            writer.raw(",\"unit\":")
            writer.string(unit.unit.rawValue)
            writer.byte(UInt8(ascii: "}"))
        }
        writer.raw("]},\"id\":")
        writer.string(envelope.id.rawValue)
        if let replyTo = envelope.replyTo {
            writer.raw(",\"replyTo\":")
            writer.string(replyTo.rawValue)
        }
        writer.raw(",\"sender\":")
        writer.string(envelope.sender.rawValue)
        writer.raw(",\"sentAt\":")
        writer.int(envelope.sentAt.millis)
        writer.byte(UInt8(ascii: "}"))
        return writer.bytes
    }

    /// A finite double in Swift's shortest round-trip form, which is valid JSON (`1e-05`, `0.5`, `12.0`).
    mutating func double(_ value: Double) {
        bytes.append(contentsOf: value.description.utf8)
    }

    /// A quoted standard base64 string (with padding), as `Data.base64EncodedString()` writes it.
    public mutating func base64(_ data: [UInt8]) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        byte(UInt8(ascii: "\""))
        alphabet.withUTF8Buffer { table in
            var index = 0
            while index + 3 <= data.count {
                let chunk = UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2])
                bytes.append(table[Int(chunk >> 18)])
                bytes.append(table[Int((chunk >> 12) & 63)])
                bytes.append(table[Int((chunk >> 6) & 63)])
                bytes.append(table[Int(chunk & 63)])
                index += 3
            }
            let rest = data.count - index
            if rest > 0 {
                let chunk = UInt32(data[index]) << 16 | (rest == 2 ? UInt32(data[index + 1]) << 8 : 0)
                bytes.append(table[Int(chunk >> 18)])
                bytes.append(table[Int((chunk >> 12) & 63)])
                bytes.append(rest == 2 ? table[Int((chunk >> 6) & 63)] : UInt8(ascii: "="))
                bytes.append(UInt8(ascii: "="))
            }
        }
        byte(UInt8(ascii: "\""))
    }
}

/// Fast path for the one request whose size grows with the batch: reads a `reportBatch` body in the exact shape
/// the generic encoder writes (known keys, each once, in any order; integers without fraction or exponent)
/// straight into the messages, where `JSONDecoder` walked every field through its generic containers. Anything
/// else — unknown or repeated keys, `1.0`, invalid UTF-8, a lone surrogate, a value the types reject —
/// returns nil, and the generic decoder decides (and words the error), so accepted input and errors are unchanged.
public struct ReportBatchReader {
    private let bytes: [UInt8]
    private var index: Int
    private let end: Int

    /// The envelope of a `reportBatch` body `bytes[start..<end]`, or nil to use the generic decoder.
    public static func envelope(_ bytes: [UInt8], start: Int, end: Int) -> Envelope? {
        var reader = ReportBatchReader(bytes: bytes, index: start, end: end)
        guard let envelope = reader.readEnvelope() else { return nil }
        reader.skipSpace()
        return reader.index == end ? envelope : nil
    }

    private mutating func readEnvelope() -> Envelope? {
        var id: MessageID?, sender: WorkerID?, sentAt: Int64?, replyTo: MessageID?, batch: ReportBatch?
        let complete = readObject { reader, key in
            switch key {
            case "id": id = reader.readString().flatMap(MessageID.init(rawValue:)); return id != nil
            case "sender": sender = reader.readString().flatMap(WorkerID.init(rawValue:)); return sender != nil
            case "sentAt": sentAt = reader.readInt(); return sentAt != nil
            case "replyTo":
                if reader.readNull() { return true }
                replyTo = reader.readString().flatMap(MessageID.init(rawValue:))
                return replyTo != nil
            case "body": batch = reader.readBatch(); return batch != nil
            default: return false
            }
        }
        guard complete, let id, let sender, let sentAt, let batch else { return nil }
        return Envelope(id: id, sender: sender, sentAt: Timestamp(millis: sentAt), replyTo: replyTo, message: .reportBatch(batch))
    }

    private mutating func readBatch() -> ReportBatch? {
        var completes: [Complete]?, fails: [Fail]?
        let complete = readObject { reader, key in
            switch key {
            case "completes": completes = reader.readArray { $0.readComplete() }; return completes != nil
            case "fails": fails = reader.readArray { $0.readFail() }; return fails != nil
            default: return false
            }
        }
        guard complete, let completes, let fails else { return nil }
        return ReportBatch(completes: completes, fails: fails)
    }

    private mutating func readComplete() -> Complete? {
        var token: LeaseToken?, files: [OutputFile]?, children: [UnitSeed]?, stats: TaskStats?
        let complete = readObject { reader, key in
            switch key {
            case "token": token = reader.readString().flatMap(LeaseToken.init(rawValue:)); return token != nil
            case "manifest":
                return reader.readObject { reader, key in
                    guard key == "files" else { return false }
                    files = reader.readArray { $0.readFile() }
                    return files != nil
                }
            case "children": children = reader.readArray { $0.readSeed() }; return children != nil
            case "stats": stats = reader.readStats(); return stats != nil
            default: return false
            }
        }
        guard complete, let token, let files, let children, let stats else { return nil }
        return Complete(token: token, manifest: Manifest(files: files), children: children, stats: stats)
    }

    private mutating func readFail() -> Fail? {
        var token: LeaseToken?, error: String?, retryable: Bool?, stats: TaskStats?
        let complete = readObject { reader, key in
            switch key {
            case "token": token = reader.readString().flatMap(LeaseToken.init(rawValue:)); return token != nil
            case "error": error = reader.readString(); return error != nil
            case "retryable": retryable = reader.readBool(); return retryable != nil
            case "stats": stats = reader.readStats(); return stats != nil
            default: return false
            }
        }
        guard complete, let token, let error, let retryable, let stats else { return nil }
        return Fail(token: token, error: error, retryable: retryable, stats: stats)
    }

    private mutating func readFile() -> OutputFile? {
        var path: String?, table: String?, rows: Int64?, size: Int64?, sha256: String?
        let complete = readObject { reader, key in
            switch key {
            case "path": path = reader.readString(); return path != nil
            case "table": table = reader.readString(); return table != nil
            case "rows": rows = reader.readInt(); return rows != nil
            case "bytes": size = reader.readInt(); return size != nil
            case "sha256": sha256 = reader.readString(); return sha256 != nil
            default: return false
            }
        }
        guard complete, let path, let table, let rows, let size, let sha256 else { return nil }
        return OutputFile(path: path, table: table, rows: rows, bytes: size, sha256: sha256)
    }

    private mutating func readSeed() -> UnitSeed? {
        var kind: String?, platform: String?, key: String?, payload: [UInt8]?
        let complete = readObject { reader, name in
            switch name {
            case "kind": kind = reader.readString(); return kind != nil
            case "platform": platform = reader.readString(); return platform != nil
            case "key": key = reader.readString(); return key != nil
            case "payload":
                // The same bound and decoding as `UnitSeed.init(from:)`.
                guard let encoded = reader.readString(), encoded.utf8.count <= (ClusterLimits.maxPayloadBytes / 3 + 1) * 4,
                      let data = Data(base64Encoded: encoded)
                else { return false }
                payload = [UInt8](data)
                return true
            default: return false
            }
        }
        guard complete, let kind, let platform, let key, let payload else { return nil }
        return try? UnitSeed(kind: kind, platform: platform, key: key, payload: payload)
    }

    private mutating func readStats() -> TaskStats? {
        var values: [Int64?] = Array(repeating: nil, count: 6)
        var retryAfter: Int64?
        let complete = readObject { reader, key in
            let slot: Int
            switch key {
            case "requests": slot = 0
            case "retries": slot = 1
            case "status429": slot = 2
            case "status403": slot = 3
            case "status5xx": slot = 4
            case "bytes": slot = 5
            case "retryAfterMillis":
                if reader.readNull() { return true }
                retryAfter = reader.readInt()
                return retryAfter != nil
            default: return false
            }
            values[slot] = reader.readInt()
            return values[slot] != nil
        }
        guard complete, let requests = values[0], let retries = values[1], let status429 = values[2], let status403 = values[3],
              let status5xx = values[4], let size = values[5]
        else { return nil }
        return TaskStats(requests: requests, retries: retries, status429: status429, status403: status403, status5xx: status5xx, bytes: size, retryAfterMillis: retryAfter)
    }

    // MARK: JSON pieces

    private mutating func skipSpace() {
        while index < end, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < end, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// An object whose every member `member` reads (false: give up); a key seen twice gives up too.
    private mutating func readObject(_ member: (inout ReportBatchReader, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        var seen: [String] = []
        repeat {
            guard let key = readString(), !seen.contains(key), consume(UInt8(ascii: ":")) else { return false }
            seen.append(key)
            skipSpace()
            guard member(&self, key) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    private mutating func readArray<Element>(_ element: (inout ReportBatchReader) -> Element?) -> [Element]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var out: [Element] = []
        if consume(UInt8(ascii: "]")) { return out }
        repeat {
            skipSpace()
            guard let value = element(&self) else { return nil }
            out.append(value)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? out : nil
    }

    /// A JSON string: valid UTF-8, no raw control characters, escapes decoded (a lone surrogate gives up).
    private mutating func readString() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                return String(validating: bytes[start..<index], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return readEscapedString(from: start) }
            if byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    /// The rest of a string that has escapes, from its first byte `start`; `index` is at the first backslash.
    private mutating func readEscapedString(from start: Int) -> String? {
        var out = Array(bytes[start..<index])
        while index < end {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < end else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard let first = readHex4() else { return nil }
                    var value = first
                    if (0xD800..<0xDC00).contains(first) {
                        guard end - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                        index += 2
                        guard let second = readHex4(), (0xDC00..<0xE000).contains(second) else { return nil }
                        value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(value) else { return nil }
                    UTF8.encode(scalar) { out.append($0) }
                default:
                    return nil
                }
            case 0..<0x20:
                return nil
            default:
                out.append(byte)
            }
        }
        return nil
    }

    private mutating func readHex4() -> UInt32? {
        guard end - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// An integer in JSON's grammar without fraction or exponent, within Int64.
    private mutating func readInt() -> Int64? {
        skipSpace()
        let negative = index < end && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var magnitude: UInt64 = 0
        while index < end, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let (times, overflowTimes) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
            guard !overflowTimes, !overflowSum else { return nil }
            magnitude = sum
            index += 1
        }
        let digits = index - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if index < end, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    private mutating func readLiteral(_ literal: StaticString) -> Bool {
        skipSpace()
        let count = literal.utf8CodeUnitCount
        guard end - index >= count else { return false }
        let matches = literal.withUTF8Buffer { $0.elementsEqual(bytes[index..<index + count]) }
        if matches { index += count }
        return matches
    }

    private mutating func readBool() -> Bool? {
        if readLiteral("true") { return true }
        if readLiteral("false") { return false }
        return nil
    }

    private mutating func readNull() -> Bool { readLiteral("null") }
}
