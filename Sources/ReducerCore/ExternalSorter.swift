public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How much memory the sorter may use and where it spills.
public struct ExternalSortConfiguration: Sendable, Hashable {
    /// Bytes for buffered records plus their sort index (default 1 GiB). Merging uses at most half of it for block
    /// buffers. Records are accounted by their encoded size, not by a guess of Swift object sizes.
    public var memoryBudget: Int
    /// Folder under which a private `webtoon-sort-XXXXXX` folder holds the run files; removed when done.
    public var spillDirectory: String
    /// Target size of a checksummed spill block (default 64 KiB).
    public var blockBytes: Int
    /// Largest accepted encoded record; at most a quarter of the budget.
    public var maxRecordBytes: Int
    /// Threads of a columnar reduce, each owning whole (day, platform) partitions and a share of the budget
    /// (default 2, one per core of the target machine); 1, or a budget too small to share, reduces on one.
    public var partitionWorkers: Int

    public init(
        memoryBudget: Int = 1 << 30, spillDirectory: String = ExternalSortConfiguration.defaultSpillDirectory,
        blockBytes: Int = 64 << 10, maxRecordBytes: Int? = nil, partitionWorkers: Int = 2
    ) {
        self.memoryBudget = memoryBudget
        self.spillDirectory = spillDirectory
        self.blockBytes = blockBytes
        self.maxRecordBytes = maxRecordBytes ?? min(16 << 20, memoryBudget / 4)
        self.partitionWorkers = partitionWorkers
    }

    /// `$TMPDIR`, else `/tmp`.
    public static var defaultSpillDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }

    /// Runs merged at once: half the budget divided into block buffers, at least 2.
    public var mergeFanIn: Int { max(2, min(1024, memoryBudget / 2 / max(1, blockBytes))) }

    func validate() throws(ReducerError) {
        func fail(_ detail: String) -> ReducerError {
            ReducerError(code: .invalidConfiguration, operation: "configure external sort", detail: detail)
        }
        guard blockBytes >= 64, blockBytes <= 64 << 20 else {
            throw fail("blockBytes \(blockBytes) not in 64...64 MiB")
        }
        guard partitionWorkers >= 1, partitionWorkers <= 64 else {
            throw fail("partitionWorkers \(partitionWorkers) not in 1...64")
        }
        guard memoryBudget >= 4 * blockBytes else {
            throw fail("memoryBudget \(memoryBudget) is below 4 × blockBytes (\(4 * blockBytes))")
        }
        guard maxRecordBytes >= SortRecord.headerBytes, maxRecordBytes <= memoryBudget / 4,
            maxRecordBytes <= Int(UInt32.max)
        else { throw fail("maxRecordBytes \(maxRecordBytes) not in \(SortRecord.headerBytes)...budget/4") }
    }
}

/// What one sort did.
public struct ExternalSortStatistics: Sendable, Hashable {
    public var inputRecords = 0
    public var outputRecords = 0
    /// Records dropped because a later (or tie-broken) record had the same key.
    public var duplicatesDropped: Int { inputRecords - outputRecords }
    public var spilledRuns = 0
    public var spilledBytes = 0
    /// Merge passes over spill files, the final one included; 0 when everything fit in memory.
    public var mergePasses = 0
    /// Threads that reduced partitions at once (the columnar path's `partitionWorkers` in effect).
    public var partitionWorkers = 1
    public init() {}
}

/// External merge sort with deduplication over opaque records `(key, version, payload)`.
///
/// Records are buffered in one arena of `memoryBudget` bytes (records grow from the front, the sort index from the
/// back), sorted when it is full and written as a run of checksummed blocks; `finish` k-way merges the runs with a
/// heap (in several passes if there are more than `mergeFanIn`). For each key exactly one record comes out: the one
/// with the highest version, then the larger payload bytes, so the result never depends on input order.
///
/// Synchronous and blocking (file I/O): run it on a dedicated thread, never on the cooperative pool. Not thread-safe.
public final class ExternalSorter {
    public let configuration: ExternalSortConfiguration
    private let logger: Logger
    private var arena: UnsafeMutableRawPointer?
    private let arenaCapacity: Int
    private var used = 0
    private var count = 0
    private let runs: SpillRuns
    private var finished = false
    private var statistics = ExternalSortStatistics()

    /// Index bytes per buffered record: an 8-byte offset plus room for the sort's scratch buffer.
    private static let indexCost = 12

    public init(configuration: ExternalSortConfiguration = ExternalSortConfiguration(), logger: Logger)
        throws(ReducerError)
    {
        try configuration.validate()
        self.configuration = configuration
        runs = SpillRuns(parent: configuration.spillDirectory, blockBytes: configuration.blockBytes)
        self.logger = logger
        arenaCapacity = configuration.memoryBudget & ~7
    }

    deinit {
        arena?.deallocate()
        runs.removeAll()
    }

    /// Adds one record. `key` orders and identifies it (memcmp order); among equal keys the highest `version` wins.
    public func add(key: UnsafeRawBufferPointer, version: Int64, payload: UnsafeRawBufferPointer) throws(ReducerError) {
        guard !finished else {
            throw ReducerError(code: .misuse, operation: "add to external sort", detail: "called after finish")
        }
        let size = SortRecord.headerBytes + key.count + payload.count
        guard size <= configuration.maxRecordBytes else {
            throw ReducerError(
                code: .recordTooLarge, operation: "add to external sort",
                detail: "record of \(size) bytes exceeds maxRecordBytes \(configuration.maxRecordBytes)")
        }
        if used + size + (count + 1) * Self.indexCost > arenaCapacity { try spill() }
        let base: UnsafeMutableRawPointer
        if let arena {
            base = arena
        } else {
            base = UnsafeMutableRawPointer.allocate(byteCount: arenaCapacity, alignment: 8)
            arena = base
        }
        SortRecord.write(to: base + used, key: key, version: version, payload: payload)
        (base + arenaCapacity - 8 * (count + 1)).storeBytes(of: used, as: Int.self)
        used += size
        count += 1
        statistics.inputRecords += 1
    }

    /// The index of buffered records, sorted into merge order.
    private func sortedIndex(_ base: UnsafeMutableRawPointer) -> UnsafeMutableBufferPointer<Int> {
        let index = (base + arenaCapacity - 8 * count).bindMemory(to: Int.self, capacity: count)
        var buffer = UnsafeMutableBufferPointer(start: index, count: count)
        let records = UnsafeRawPointer(base)
        buffer.sort { SortRecord.compare(records + $0, records + $1) < 0 }
        return buffer
    }

    /// Calls `body` with the first record of each key group in the buffered, sorted records.
    private func forEachBufferedWinner<E: Error>(_ body: (UnsafeRawPointer) throws(E) -> Void) throws(E) {
        guard let base = arena, count > 0 else { return }
        let records = UnsafeRawPointer(base)
        var previous: UnsafeRawPointer?
        for offset in sortedIndex(base) {
            let record = records + offset
            if let previous, SortRecord.compareBytes(SortRecord.key(previous), SortRecord.key(record)) == 0 {
                continue
            }
            previous = record
            try body(record)
        }
    }

    /// Sorts the buffer, writes its winners as one run and empties the buffer.
    private func spill() throws(ReducerError) {
        guard count > 0 else { return }
        let writer = try runs.newWriter()
        try forEachBufferedWinner { (record) throws(ReducerError) in try writer.append(record) }
        try writer.finish()
        statistics.spilledRuns += 1
        statistics.spilledBytes += writer.bytesWritten
        logger.debug(
            "spilled sort run",
            metadata: [
                "run": "\(writer.path)", "records": "\(count)", "kept": "\(writer.totalRecords)",
                "bytes": "\(writer.bytesWritten)",
            ])
        used = 0
        count = 0
    }

    private var maxBlockBytes: Int { max(configuration.blockBytes, configuration.maxRecordBytes) }

    /// Merges `paths` in key order, calling `body` with each key's winner, and deletes them afterwards.
    private func merge(_ paths: [String], _ body: (UnsafeRawPointer) throws -> Void) throws {
        var readers: [SpillReader] = []
        readers.reserveCapacity(paths.count)
        for path in paths {
            let reader = try SpillReader(path: path, maxBlockBytes: maxBlockBytes)
            if reader.current != nil { readers.append(reader) }
        }
        // Min-heap of reader indices ordered by their current record.
        var heap = Array(readers.indices)
        func less(_ a: Int, _ b: Int) -> Bool { SortRecord.compare(readers[a].current!, readers[b].current!) < 0 }
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { return }
                var child = left
                if left + 1 < heap.count, less(heap[left + 1], heap[left]) { child = left + 1 }
                if !less(heap[child], heap[parent]) { return }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        var lastKey: [UInt8] = []
        var haveLast = false
        while let top = heap.first {
            let reader = readers[top]
            let record = reader.current!
            let key = SortRecord.key(record)
            let duplicate = haveLast && lastKey.withUnsafeBytes { SortRecord.compareBytes($0, key) == 0 }
            if !duplicate {
                lastKey.removeAll(keepingCapacity: true)
                lastKey.append(contentsOf: key)
                haveLast = true
                try body(record)
            }
            try reader.advance()
            if reader.current == nil {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
        }
        readers.removeAll()
        runs.remove(paths)
    }

    /// Emits every key's winner in key order, then releases memory and spill files. `key` and `payload` are valid only
    /// during the call.
    public func finish(
        _ body: (_ key: UnsafeRawBufferPointer, _ version: Int64, _ payload: UnsafeRawBufferPointer) throws -> Void
    ) throws -> ExternalSortStatistics {
        guard !finished else {
            throw ReducerError(code: .misuse, operation: "finish external sort", detail: "called twice")
        }
        finished = true
        defer {
            arena?.deallocate()
            arena = nil
            runs.removeAll()
        }
        var emitted = 0
        let emit = { (record: UnsafeRawPointer) throws in
            emitted += 1
            try body(SortRecord.key(record), SortRecord.version(record), SortRecord.payload(record))
        }
        if runs.pending.isEmpty {
            try forEachBufferedWinner(emit)
        } else {
            try spill()
            arena?.deallocate()
            arena = nil
            let fanIn = configuration.mergeFanIn
            while runs.pending.count > fanIn {
                let group = runs.take(fanIn)
                let writer = try runs.newWriter()
                try merge(group) { record in try writer.append(record) }
                try writer.finish()
                statistics.spilledBytes += writer.bytesWritten
                statistics.mergePasses += 1
            }
            try merge(runs.take(), emit)
            statistics.mergePasses += 1
        }
        statistics.outputRecords = emitted
        return statistics
    }
}

/// Sorts and deduplicates typed processed rows with `ExternalSorter`: key `(snapshotDate, platform, natural key…)`,
/// version `fetchedAt`, payload the encoded row.
public final class ProcessedRowSorter<Row: ProcessedRow> {
    private let sorter: ExternalSorter
    private var key = SortKeyEncoder()
    private var writer = RowWriter()

    public init(configuration: ExternalSortConfiguration = ExternalSortConfiguration(), logger: Logger)
        throws(ReducerError)
    {
        sorter = try ExternalSorter(configuration: configuration, logger: logger)
    }

    /// Validates and buffers one row.
    public func add(_ row: Row) throws(ReducerError) {
        try row.validate()
        key.removeAll()
        row.appendSortKey(to: &key)
        writer.removeAll()
        row.encode(to: &writer)
        let sorter = self.sorter
        let outcome = key.bytes.withUnsafeBytes { keyBytes in
            writer.bytes.withUnsafeBytes { payload in
                Result { () throws(ReducerError) in
                    try sorter.add(key: keyBytes, version: row.fetchedAt, payload: payload)
                }
            }
        }
        try outcome.get()
    }

    /// Calls `body` with the winning row of every key, in key order.
    public func finish(_ body: (Row) throws -> Void) throws -> ExternalSortStatistics {
        try sorter.finish { _, _, payload in
            var reader = RowReader(payload, table: Row.table.rawValue)
            try body(try Row.decode(from: &reader))
        }
    }
}
