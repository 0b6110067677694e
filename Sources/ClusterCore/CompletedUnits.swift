/// A done unit as the ledger keeps it once its row is in the store: what a late or duplicate report needs and
/// nothing else (its seed, manifest and statistics live only in the store). A full historical crawl has millions
/// of done units, so this is what the coordinator's memory is made of.
public struct CompletedUnit: Hashable, Sendable {
    public let run: RunID
    /// The lease whose completion was accepted.
    public let token: LeaseToken

    public init(run: RunID, token: LeaseToken) {
        self.run = run
        self.token = token
    }
}

/// A done unit read back from the store's typed columns, without its JSON record (restoring a ledger).
public struct CompletedUnitRow: Sendable {
    public let id: UnitID
    public let run: RunID
    public let platform: String
    public let kind: String
    /// The unit's lease epoch, which is the accepted lease's (a done unit is never leased again).
    public let epoch: UInt32
    public let pendingSeq: UInt64

    public init(id: UnitID, run: RunID, platform: String, kind: String, epoch: UInt32, pendingSeq: UInt64) {
        self.id = id
        self.run = run
        self.platform = platform
        self.kind = kind
        self.epoch = epoch
        self.pendingSeq = pendingSeq
    }
}

/// A unit id's 128 bits. A `UnitID` is 32 hex digits in a heap-allocated string; as a key of millions of done
/// units this saves the allocation and most of the bytes.
struct UnitKey: Hashable, Sendable {
    let high: UInt64
    let low: UInt64

    init(_ id: UnitID) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var index = 0
        // `UnitID` guarantees exactly 32 lowercase hex digits.
        for byte in id.rawValue.utf8 {
            let nibble = UInt64(byte <= 0x39 ? byte &- 0x30 : byte &- 0x61 &+ 10)
            if index < 16 { high = high << 4 | nibble } else { low = low << 4 | nibble }
            index += 1
        }
        self.high = high
        self.low = low
    }

    var id: UnitID {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in 0..<16 {
            bytes[15 - index] = digits[Int(high >> (4 * UInt64(index)) & 0xF)]
            bytes[31 - index] = digits[Int(low >> (4 * UInt64(index)) & 0xF)]
        }
        return UnitID(rawValue: String(decoding: bytes, as: UTF8.self))!
    }
}

/// Done units in 24 bytes of payload each: the id's bits, an index into the runs seen, the accepted epoch.
struct CompletedUnitTable: Sendable {
    private struct Entry: Sendable {
        let run: UInt32
        let epoch: UInt32
    }

    private var entries: [UnitKey: Entry] = [:]
    private var runs: [RunID] = []
    private var runIndex: [RunID: UInt32] = [:]

    var count: Int { entries.count }

    /// Keeps `id` as done; true when it was not kept already.
    @discardableResult
    mutating func insert(_ id: UnitID, run: RunID, epoch: UInt32) -> Bool {
        let index: UInt32
        // Consecutive done units nearly always belong to one run: compare with the last before hashing the name.
        if let last = runs.last, last == run {
            index = UInt32(runs.count - 1)
        } else if let known = runIndex[run] {
            index = known
        } else {
            index = UInt32(runs.count)
            runs.append(run)
            runIndex[run] = index
        }
        return entries.updateValue(Entry(run: index, epoch: epoch), forKey: UnitKey(id)) == nil
    }

    subscript(id: UnitID) -> CompletedUnit? {
        guard !entries.isEmpty, let entry = entries[UnitKey(id)] else { return nil }
        return CompletedUnit(run: runs[Int(entry.run)], token: LeaseToken(unit: id, epoch: entry.epoch))
    }

    func contains(_ id: UnitID) -> Bool { !entries.isEmpty && entries[UnitKey(id)] != nil }

    /// Every entry with its id spelled out again: for comparing ledgers in tests and tools, not for hot paths.
    var all: [UnitID: CompletedUnit] {
        var out: [UnitID: CompletedUnit] = [:]
        out.reserveCapacity(entries.count)
        for (key, entry) in entries {
            let id = key.id
            out[id] = CompletedUnit(run: runs[Int(entry.run)], token: LeaseToken(unit: id, epoch: entry.epoch))
        }
        return out
    }
}
