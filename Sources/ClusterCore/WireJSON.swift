#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Hand-written bodies of the messages whose size grows with the batch — `leaseGrant` and `reportAck` from the
/// coordinator, `reportBatch` from workers: `JSONEncoder` dispatches per field and was the largest coordinator
/// cost after the ledger's records. They write the same JSON object as the generic path (sorted keys, absent
/// optionals omitted); any JSON decoder reads them (tested against `JSONDecoder`).
extension RecordJSONWriter {
    /// The body of `envelope`, or nil for other messages and for a value without a JSON form (a non-finite rate),
    /// which the generic path then encodes or refuses.
    static func body(_ envelope: Envelope) -> [UInt8]? {
        var writer: RecordJSONWriter
        switch envelope.message {
        case .leaseGrant(let grant):
            guard grant.allowances.allSatisfy({ $0.requestsPerSecond.isFinite }) else { return nil }
            writer = RecordJSONWriter(reservingCapacity: 160 + grant.units.reduce(0) { $0 + 230 + $1.seed.key.utf8.count + $1.seed.payload.count * 4 / 3 })
            writer.raw("{\"body\":")
            writer.write(grant)
        case .reportAck(let ack):
            writer = RecordJSONWriter(reservingCapacity: 160 + (ack.completes.count + ack.fails.count) * 12)
            writer.raw("{\"body\":{\"completes\":")
            writer.strings(ack.completes)
            writer.raw(",\"fails\":")
            writer.strings(ack.fails)
            writer.byte(UInt8(ascii: "}"))
        case .reportBatch(let batch):
            writer = RecordJSONWriter(reservingCapacity: 160 + batch.completes.count * 300 + batch.fails.count * 300)
            writer.raw("{\"body\":")
            writer.write(batch)
        default:
            return nil
        }
        writer.raw(",\"id\":")
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

    private mutating func write(_ grant: LeaseGrant) {
        raw("{\"allowances\":[")
        for (index, allowance) in grant.allowances.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            byte(UInt8(ascii: "{"))
            if let paused = allowance.pausedUntil {
                raw("\"pausedUntil\":")
                int(paused.millis)
                byte(UInt8(ascii: ","))
            }
            raw("\"platform\":")
            string(allowance.platform)
            raw(",\"requestsPerSecond\":")
            double(allowance.requestsPerSecond)
            byte(UInt8(ascii: "}"))
        }
        byte(UInt8(ascii: "]"))
        if let retryAfter = grant.retryAfterMillis {
            raw(",\"retryAfterMillis\":")
            int(retryAfter)
        }
        raw(",\"units\":[")
        for (index, unit) in grant.units.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            raw("{\"attempt\":")
            int(Int64(unit.attempt))
            raw(",\"deadline\":")
            int(unit.deadline.millis)
            raw(",\"run\":")
            string(unit.run.rawValue)
            raw(",\"seed\":")
            write(unit.seed)
            raw(",\"token\":")
            string(unit.token.rawValue)
            raw(",\"unit\":")
            string(unit.unit.rawValue)
            byte(UInt8(ascii: "}"))
        }
        raw("]}")
    }

    private mutating func write(_ batch: ReportBatch) {
        raw("{\"completes\":[")
        for (index, complete) in batch.completes.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            raw("{\"children\":[")
            for (child, seed) in complete.children.enumerated() {
                if child > 0 { byte(UInt8(ascii: ",")) }
                write(seed)
            }
            raw("],\"manifest\":{\"files\":[")
            for (file, entry) in complete.manifest.files.enumerated() {
                if file > 0 { byte(UInt8(ascii: ",")) }
                raw("{\"bytes\":")
                int(entry.bytes)
                raw(",\"path\":")
                string(entry.path)
                raw(",\"rows\":")
                int(entry.rows)
                raw(",\"sha256\":")
                string(entry.sha256)
                raw(",\"table\":")
                string(entry.table)
                byte(UInt8(ascii: "}"))
            }
            raw("]},\"stats\":")
            write(sorted: complete.stats)
            raw(",\"token\":")
            string(complete.token.rawValue)
            byte(UInt8(ascii: "}"))
        }
        raw("],\"fails\":[")
        for (index, fail) in batch.fails.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            raw("{\"error\":")
            string(fail.error)
            raw(",\"retryable\":")
            raw(fail.retryable ? "true" : "false")
            raw(",\"stats\":")
            write(sorted: fail.stats)
            raw(",\"token\":")
            string(fail.token.rawValue)
            byte(UInt8(ascii: "}"))
        }
        raw("]}")
    }

    private mutating func write(_ seed: UnitSeed) {
        raw("{\"key\":")
        string(seed.key)
        raw(",\"kind\":")
        string(seed.kind)
        raw(",\"payload\":")
        base64(seed.payload)
        raw(",\"platform\":")
        string(seed.platform)
        byte(UInt8(ascii: "}"))
    }

    private mutating func write(sorted stats: TaskStats) {
        raw("{\"bytes\":")
        int(stats.bytes)
        raw(",\"requests\":")
        int(stats.requests)
        raw(",\"retries\":")
        int(stats.retries)
        if let retryAfter = stats.retryAfterMillis {
            raw(",\"retryAfterMillis\":")
            int(retryAfter)
        }
        raw(",\"status403\":")
        int(stats.status403)
        raw(",\"status429\":")
        int(stats.status429)
        raw(",\"status5xx\":")
        int(stats.status5xx)
        byte(UInt8(ascii: "}"))
    }

    private mutating func strings(_ values: [String]) {
        byte(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            string(value)
        }
        byte(UInt8(ascii: "]"))
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

/// Fast path for the two messages whose size grows with the batch, `reportBatch` (read by the coordinator) and
/// `leaseGrant` (read by workers): reads a body in the exact shape the encoders write (known keys, each once, in
/// any order; integers without fraction or exponent) straight into the messages, where `JSONDecoder` walked every
/// field through its generic containers. Anything else — unknown or repeated keys, `1.0` for an integer, invalid
/// UTF-8, a lone surrogate, a value the types reject — returns nil, and the generic decoder decides (and words the
/// error), so accepted input and errors are unchanged.
public struct WireJSONReader {
    private let bytes: [UInt8]
    private var index: Int
    private let end: Int

    /// The envelope of a body `bytes[start..<end]` of type `kind`, or nil to use the generic decoder (always for
    /// other types).
    public static func envelope(_ kind: ClusterMessage.Kind, _ bytes: [UInt8], start: Int, end: Int) -> Envelope? {
        var reader = WireJSONReader(bytes: bytes, index: start, end: end)
        let envelope: Envelope? =
            switch kind {
            case .reportBatch: reader.readEnvelope { reader in reader.readBatch().map(ClusterMessage.reportBatch) }
            case .leaseGrant: reader.readEnvelope { reader in reader.readGrant().map(ClusterMessage.leaseGrant) }
            default: nil
            }
        guard let envelope else { return nil }
        reader.skipSpace()
        return reader.index == end ? envelope : nil
    }

    private mutating func readEnvelope(_ readBody: (inout WireJSONReader) -> ClusterMessage?) -> Envelope? {
        var id: MessageID?, sender: WorkerID?, sentAt: Int64?, replyTo: MessageID?, message: ClusterMessage?
        var sawReplyTo = false
        let complete = readObject { reader, key in
            if reader.key(key, is: "body") {
                guard message == nil else { return false }
                message = readBody(&reader)
                return message != nil
            } else if reader.key(key, is: "id") {
                guard id == nil else { return false }
                id = reader.readString().flatMap(MessageID.init(rawValue:))
                return id != nil
            } else if reader.key(key, is: "sender") {
                guard sender == nil else { return false }
                sender = reader.readString().flatMap(WorkerID.init(rawValue:))
                return sender != nil
            } else if reader.key(key, is: "sentAt") {
                guard sentAt == nil else { return false }
                sentAt = reader.readInt()
                return sentAt != nil
            } else if reader.key(key, is: "replyTo") {
                guard !sawReplyTo else { return false }
                sawReplyTo = true
                if reader.readNull() { return true }
                replyTo = reader.readString().flatMap(MessageID.init(rawValue:))
                return replyTo != nil
            }
            return false
        }
        guard complete, let id, let sender, let sentAt, let message else { return nil }
        return Envelope(id: id, sender: sender, sentAt: Timestamp(millis: sentAt), replyTo: replyTo, message: message)
    }

    private mutating func readGrant() -> LeaseGrant? {
        var units: [GrantedUnit]?, allowances: [PlatformAllowance]?, retryAfter: Int64?
        var sawRetryAfter = false
        let complete = readObject { reader, key in
            if reader.key(key, is: "units") {
                guard units == nil else { return false }
                units = reader.readArray { $0.readGrantedUnit() }
                return units != nil
            } else if reader.key(key, is: "allowances") {
                guard allowances == nil else { return false }
                allowances = reader.readArray { $0.readAllowance() }
                return allowances != nil
            } else if reader.key(key, is: "retryAfterMillis") {
                guard !sawRetryAfter else { return false }
                sawRetryAfter = true
                if reader.readNull() { return true }
                retryAfter = reader.readInt()
                return retryAfter != nil
            }
            return false
        }
        guard complete, let units, let allowances else { return nil }
        return LeaseGrant(units: units, allowances: allowances, retryAfterMillis: retryAfter)
    }

    private mutating func readGrantedUnit() -> GrantedUnit? {
        var token: LeaseToken?, run: RunID?, unit: UnitID?, seed: UnitSeed?, attempt: Int64?, deadline: Int64?
        let complete = readObject { reader, key in
            if reader.key(key, is: "token") {
                guard token == nil else { return false }
                token = reader.readToken()
                return token != nil
            } else if reader.key(key, is: "run") {
                guard run == nil else { return false }
                run = reader.readString().flatMap(RunID.init(rawValue:))
                return run != nil
            } else if reader.key(key, is: "unit") {
                guard unit == nil else { return false }
                unit = reader.readString().flatMap(UnitID.init(rawValue:))
                return unit != nil
            } else if reader.key(key, is: "seed") {
                guard seed == nil else { return false }
                seed = reader.readSeed()
                return seed != nil
            } else if reader.key(key, is: "attempt") {
                guard attempt == nil else { return false }
                attempt = reader.readInt()
                return attempt != nil
            } else if reader.key(key, is: "deadline") {
                guard deadline == nil else { return false }
                deadline = reader.readInt()
                return deadline != nil
            }
            return false
        }
        guard complete, let token, let run, let unit, let seed, let attempt, let deadline else { return nil }
        return GrantedUnit(token: token, run: run, unit: unit, seed: seed, attempt: Int(attempt), deadline: Timestamp(millis: deadline))
    }

    private mutating func readAllowance() -> PlatformAllowance? {
        var platform: String?, rate: Double?, pausedUntil: Int64?
        var sawPausedUntil = false
        let complete = readObject { reader, key in
            if reader.key(key, is: "platform") {
                guard platform == nil else { return false }
                platform = reader.readString()
                return platform != nil
            } else if reader.key(key, is: "requestsPerSecond") {
                guard rate == nil else { return false }
                rate = reader.readDouble()
                return rate != nil
            } else if reader.key(key, is: "pausedUntil") {
                guard !sawPausedUntil else { return false }
                sawPausedUntil = true
                if reader.readNull() { return true }
                pausedUntil = reader.readInt()
                return pausedUntil != nil
            }
            return false
        }
        guard complete, let platform, let rate else { return nil }
        return PlatformAllowance(platform: platform, requestsPerSecond: rate, pausedUntil: pausedUntil.map(Timestamp.init(millis:)))
    }

    private mutating func readBatch() -> ReportBatch? {
        var completes: [Complete]?, fails: [Fail]?
        let complete = readObject { reader, key in
            if reader.key(key, is: "completes") {
                guard completes == nil else { return false }
                completes = reader.readArray { $0.readComplete() }
                return completes != nil
            } else if reader.key(key, is: "fails") {
                guard fails == nil else { return false }
                fails = reader.readArray { $0.readFail() }
                return fails != nil
            }
            return false
        }
        guard complete, let completes, let fails else { return nil }
        return ReportBatch(completes: completes, fails: fails)
    }

    private mutating func readComplete() -> Complete? {
        var token: LeaseToken?, files: [OutputFile]?, children: [UnitSeed]?, stats: TaskStats?
        let complete = readObject { reader, key in
            if reader.key(key, is: "token") {
                guard token == nil else { return false }
                token = reader.readToken()
                return token != nil
            } else if reader.key(key, is: "stats") {
                guard stats == nil else { return false }
                stats = reader.readStats()
                return stats != nil
            } else if reader.key(key, is: "manifest") {
                guard files == nil else { return false }
                return reader.readObject { reader, key in
                    guard reader.key(key, is: "files"), files == nil else { return false }
                    files = reader.readArray { $0.readFile() }
                    return files != nil
                }
            } else if reader.key(key, is: "children") {
                guard children == nil else { return false }
                children = reader.readArray { $0.readSeed() }
                return children != nil
            }
            return false
        }
        guard complete, let token, let files, let children, let stats else { return nil }
        return Complete(token: token, manifest: Manifest(files: files), children: children, stats: stats)
    }

    private mutating func readFail() -> Fail? {
        var token: LeaseToken?, error: String?, retryable: Bool?, stats: TaskStats?
        let complete = readObject { reader, key in
            if reader.key(key, is: "token") {
                guard token == nil else { return false }
                token = reader.readToken()
                return token != nil
            } else if reader.key(key, is: "error") {
                guard error == nil else { return false }
                error = reader.readString()
                return error != nil
            } else if reader.key(key, is: "retryable") {
                guard retryable == nil else { return false }
                retryable = reader.readBool()
                return retryable != nil
            } else if reader.key(key, is: "stats") {
                guard stats == nil else { return false }
                stats = reader.readStats()
                return stats != nil
            }
            return false
        }
        guard complete, let token, let error, let retryable, let stats else { return nil }
        return Fail(token: token, error: error, retryable: retryable, stats: stats)
    }

    private mutating func readFile() -> OutputFile? {
        var path: String?, table: String?, rows: Int64?, size: Int64?, sha256: String?
        let complete = readObject { reader, key in
            if reader.key(key, is: "path") {
                guard path == nil else { return false }
                path = reader.readString()
                return path != nil
            } else if reader.key(key, is: "table") {
                guard table == nil else { return false }
                table = reader.readString()
                return table != nil
            } else if reader.key(key, is: "rows") {
                guard rows == nil else { return false }
                rows = reader.readInt()
                return rows != nil
            } else if reader.key(key, is: "bytes") {
                guard size == nil else { return false }
                size = reader.readInt()
                return size != nil
            } else if reader.key(key, is: "sha256") {
                guard sha256 == nil else { return false }
                sha256 = reader.readString()
                return sha256 != nil
            }
            return false
        }
        guard complete, let path, let table, let rows, let size, let sha256 else { return nil }
        return OutputFile(path: path, table: table, rows: rows, bytes: size, sha256: sha256)
    }

    private mutating func readSeed() -> UnitSeed? {
        var kind: String?, platform: String?, name: String?, payload: [UInt8]?
        let complete = readObject { reader, key in
            if reader.key(key, is: "kind") {
                guard kind == nil else { return false }
                kind = reader.readString()
                return kind != nil
            } else if reader.key(key, is: "platform") {
                guard platform == nil else { return false }
                platform = reader.readString()
                return platform != nil
            } else if reader.key(key, is: "key") {
                guard name == nil else { return false }
                name = reader.readString()
                return name != nil
            } else if reader.key(key, is: "payload") {
                // The same bound and decoding as `UnitSeed.init(from:)`.
                guard payload == nil, let encoded = reader.readString(), encoded.utf8.count <= (ClusterLimits.maxPayloadBytes / 3 + 1) * 4,
                      let data = Data(base64Encoded: encoded)
                else { return false }
                payload = [UInt8](data)
                return true
            }
            return false
        }
        guard complete, let kind, let platform, let name, let payload else { return nil }
        return try? UnitSeed(kind: kind, platform: platform, key: name, payload: payload)
    }

    private mutating func readStats() -> TaskStats? {
        var requests: Int64?, retries: Int64?, status429: Int64?, status403: Int64?, status5xx: Int64?, size: Int64?, retryAfter: Int64?
        var sawRetryAfter = false
        let complete = readObject { reader, key in
            func read(_ slot: inout Int64?) -> Bool {
                guard slot == nil else { return false }
                slot = reader.readInt()
                return slot != nil
            }
            if reader.key(key, is: "requests") { return read(&requests) }
            if reader.key(key, is: "retries") { return read(&retries) }
            if reader.key(key, is: "status429") { return read(&status429) }
            if reader.key(key, is: "status403") { return read(&status403) }
            if reader.key(key, is: "status5xx") { return read(&status5xx) }
            if reader.key(key, is: "bytes") { return read(&size) }
            if reader.key(key, is: "retryAfterMillis") {
                guard !sawRetryAfter else { return false }
                sawRetryAfter = true
                return reader.readNull() || read(&retryAfter)
            }
            return false
        }
        guard complete, let requests, let retries, let status429, let status403, let status5xx, let size else { return nil }
        return TaskStats(requests: requests, retries: retries, status429: status429, status403: status403, status5xx: status5xx, bytes: size, retryAfterMillis: retryAfter)
    }

    /// A lease token read straight from its bytes, accepting exactly what `LeaseToken(rawValue:)` accepts
    /// (32 lowercase hex digits, `-`, 1 to 10 decimal digits within UInt32).
    private mutating func readToken() -> LeaseToken? {
        guard let range = readPlainString() else { return nil }
        let count = range.count
        guard count >= 34, count <= 43, bytes[range.lowerBound + 32] == UInt8(ascii: "-") else { return nil }
        var epoch: UInt64 = 0
        for index in (range.lowerBound + 33)..<range.upperBound {
            let byte = bytes[index]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            epoch = epoch * 10 + UInt64(byte - 0x30)
        }
        guard epoch <= UInt64(UInt32.max),
              let unit = UnitID(rawValue: String(decoding: bytes[range.lowerBound..<(range.lowerBound + 32)], as: UTF8.self))
        else { return nil }
        return LeaseToken(unit: unit, epoch: UInt32(epoch))
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

    /// An object whose every member `member` reads, given the key's bytes (false: give up). Members give up on a
    /// key they already read.
    private mutating func readObject(_ member: (inout WireJSONReader, Range<Int>) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = readPlainString(), consume(UInt8(ascii: ":")) else { return false }
            skipSpace()
            guard member(&self, key) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// Whether the key's bytes are `name` (keys with escapes never match, so such input gives up).
    private func key(_ key: Range<Int>, is name: StaticString) -> Bool {
        name.utf8CodeUnitCount == key.count && name.withUTF8Buffer { $0.elementsEqual(bytes[key]) }
    }

    /// The bytes of a string without escapes or control characters (not checked as UTF-8: callers compare them
    /// with ASCII or validate them).
    private mutating func readPlainString() -> Range<Int>? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<(index - 1)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    private mutating func readArray<Element>(_ element: (inout WireJSONReader) -> Element?) -> [Element]? {
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

    /// A number in JSON's grammar as the nearest double (`Double(String)` rounds correctly, as `JSONDecoder` does).
    private mutating func readDouble() -> Double? {
        skipSpace()
        let start = index
        func digits() -> Int {
            let first = index
            while index < end, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - first
        }
        if index < end, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return nil }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
        }
        if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else { return nil }
        return value
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
