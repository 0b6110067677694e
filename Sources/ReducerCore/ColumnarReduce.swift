import Logging
import ParquetKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a columnar reduce shares its memory budget. Everything it holds is counted: decoded batches (read in
/// exactly-sized slices), sort entries by capacity, the compressed chunks of the row group being read, the merge
/// cursors' chunks and block buffers, and a fixed share for the output being gathered and encoded.
struct ColumnarMemoryPlan {
    let budget: Int

    /// The sink's share: one gathered batch (`budget / 32`), the writer's buffered row group (`budget / 32`, set by
    /// `ProcessedReducer`) and its encoding.
    var outputReserve: Int { budget / 8 }
    /// What the sort buffer (batches + entries) and the input being decoded may hold.
    var sortLimit: Int { budget - outputReserve }
    /// Decoded bytes per input slice (a row group is decoded page by page in slices of this size).
    var sliceBytes: Int { min(8 << 20, max(128 << 10, budget / 64)) }
    /// Decoded bytes per spill chunk. Each run being merged holds one decoded chunk, so the chunk size sets the
    /// merge fan-in: `budget / 1024` lets one pass merge about 600 runs per worker (≈ 50 GB of Parquet at a 1 GiB
    /// budget); `budget / 256` allowed about 150, fewer than the ≈ 237 a 20 GB input spills per worker.
    var spillChunkBytes: Int { min(2 << 20, max(32 << 10, budget / 1024)) }
    /// Bytes one gathered output batch may take.
    var gatherBytes: Int { budget / 32 }
    /// Per entry of capacity (the sort is in place).
    static let entryBytes = SortEntry.bytes

    static func rows(_ bytes: Int, bytesPerRow: Int, minimum: Int = 64) -> Int {
        max(minimum, bytes / max(1, bytesPerRow))
    }

    /// Rows per output row group: about `min(16 MiB, budget / 64)` decoded bytes at the widest input row seen. Row
    /// groups are cut by this count, not by the size of the batches handed to the writer (which depends on how the
    /// merge retired its chunks), so the files do not depend on spills or on how many workers reduced.
    func outputRowGroupRows(bytesPerRow: Int, limit: Int) -> Int {
        min(limit, max(1024, min(16 << 20, budget / 64) / max(1, bytesPerRow)))
    }
}

/// The input side of a columnar reduce: reads each file's row groups in slices of about `sliceBytes` decoded bytes,
/// normalized to the layout, and tracks the widest decoded row seen (which sizes the next slices, and at the end
/// the output row groups).
final class ColumnarInput {
    let layout: ColumnarLayout
    let sliceBytes: Int
    private(set) var bytesPerRow = 0

    init(layout: ColumnarLayout, sliceBytes: Int) {
        self.layout = layout
        self.sliceBytes = sliceBytes
    }

    /// What a reduce needs to know of its inputs before reading them, from their footers only.
    struct Footers {
        var rows = 0
        /// The most that reading one row group holds besides its slices: its compressed chunks and a first page
        /// per column (at most the decoded group), plus two slices (the one handed out and the next).
        var largestGroupReserve = 0
    }

    /// Reads the footers of `paths` once; an unreadable file is skipped here and fails properly when it is read.
    func footers(_ paths: [String]) -> Footers {
        var result = Footers()
        let names = layout.columns.map(\.name)
        for path in paths {
            guard let reader = try? ParquetReader(path: path) else { continue }
            result.rows += reader.rowCount
            for group in 0..<reader.rowGroupCount {
                guard let stored = try? reader.storedBytes(ofRowGroup: group, columns: names) else { continue }
                result.largestGroupReserve = max(result.largestGroupReserve, groupReserve(stored))
            }
        }
        return result
    }

    /// What one row group holds while it is read, before its first slice: see `Footers.largestGroupReserve`.
    func groupReserve(_ stored: (compressed: Int, uncompressed: Int)) -> Int {
        stored.compressed + min(stored.uncompressed, layout.columns.count << 20) + 2 * sliceBytes
    }

    /// Reads every row group of `path`: `beforeGroup` gets the bytes the group will hold (`groupReserve`) before it
    /// is read, `slice` each normalized slice and what the reader holds besides it.
    func read(
        path: String, beforeGroup: (_ reserve: Int) throws -> Void,
        slice: (_ batch: ColumnBatch, _ held: Int) throws -> Void
    ) throws {
        let reader = try ParquetReader(path: path)
        var fileTypes: [ParquetType] = []
        var names: [String] = []
        for column in layout.columns {
            guard let position = reader.schema.index(of: column.name) else {
                throw layout.invalid(path, column.name, "missing from the file")
            }
            fileTypes.append(reader.schema.columns[position].type)
            names.append(column.name)
        }
        let strings = layout.columns.filter { $0.type == .string }.count
        for group in 0..<reader.rowGroupCount {
            let rows = reader.rowCount(ofRowGroup: group)
            guard rows > 0 else { continue }
            let stored = try reader.storedBytes(ofRowGroup: group, columns: names)
            // Decoded width: the page bytes (less the 4-byte length of each string) plus an 8-byte offset per string.
            let estimate = max(bytesPerRow, stored.uncompressed / rows + 4 * strings)
            try beforeGroup(groupReserve(stored))
            let sliceRows = min(rows, ColumnarMemoryPlan.rows(sliceBytes, bytesPerRow: estimate))
            try reader.readRowGroup(group, columns: names, slicesOf: sliceRows) { batch, held in
                let normalized = try layout.normalize(batch, fileTypes: fileTypes, source: path)
                let count = normalized.rowCount
                if count > 0 {
                    bytesPerRow = max(bytesPerRow, (ColumnarLayout.bytes(of: normalized) + count - 1) / count)
                }
                try slice(normalized, held)
            }
        }
    }
}

/// Hands free heap pages back to the kernel (glibc's `malloc_trim`, which also releases whole free pages inside the
/// heap, not only at its top): the freed batches and sort buffers of a spilled run would otherwise stay resident as
/// fragments and count toward peak RSS beyond the budget. No allocator setting changes.
func releaseFreeHeap() {
    #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
    #endif
}

/// Receives each key's winner, in key order, from the columnar sort.
protocol WinnerSink: AnyObject {
    /// `entry.ref` points into `gatherer`; `entry.w0` is the (day, platform) partition.
    func accept(_ entry: SortEntry, from gatherer: Gatherer) throws
    func finish(from gatherer: Gatherer) throws
}

/// Sorts and deduplicates the rows of Parquet files column by column within a memory budget.
///
/// Input row groups are decoded in slices that stay in columnar form; each row adds one fixed-width `SortEntry`. When
/// the batches plus entries would exceed the budget (`ColumnarMemoryPlan`), the entries are sorted, each key's winner
/// is kept and the winners are written as a run: chunks of rows, each its column arrays (`SpillChunk`) compressed
/// with zstd (`SpillChunkCodec`) in a checksummed spill record. The runs are then merged with a heap (several passes when there are more than
/// fit the budget). Winners go to a `WinnerSink` as references; sinks gather whole columns at once.
///
/// Same rule as the row path: per (day, platform, natural key) the latest `fetched_at` wins, then the larger encoded
/// row (`RowWriter`), so the result never depends on input order.
final class ColumnarReduce<Row: ParquetRow> {
    let layout: ColumnarLayout
    let configuration: ExternalSortConfiguration
    private let logger: Logger
    private let buffer = Gatherer()
    private var entries: [SortEntry] = []
    /// Decoded bytes of the buffered batches.
    private var bufferedBytes = 0
    /// Compressed chunks (and the slice being decoded) of the input row group being read.
    private var inputReserve = 0
    /// Rows the inputs hold in all (caps the entry buffer), and the widest decoded row seen.
    private var expectedRows = Int.max
    private var bytesPerRow = 0
    private let plan: ColumnarMemoryPlan
    private let runs: SpillRuns
    /// Compresses the chunks written to runs and decompresses those read back.
    private let spillCodec: SpillChunkCodec
    /// Reads input files (single-worker use: `add(path:)`).
    let input: ColumnarInput
    /// Largest decoded chunk, its image, and the largest record written to a run, which set how many runs one
    /// merge pass can hold.
    private var largestChunkBytes = 0
    private var largestImageBytes = 0
    private var largestChunkRows = 0
    private var largestRecordBytes = 0
    private(set) var statistics = ExternalSortStatistics()

    /// Set on the workers of a `PartitionedColumnarReduce`: the shared owner table and this worker's index; only
    /// rows of partitions it owns are kept.
    var ownership: (owners: PartitionOwners, worker: Int)?

    /// `sliceBytes` overrides the plan's input slice size (workers of a partitioned reduce read as the whole
    /// budget would, so every worker sees the same slices and the same widest row).
    init(
        layout: ColumnarLayout, configuration: ExternalSortConfiguration, sliceBytes: Int? = nil, logger: Logger
    ) throws(ReducerError) {
        try configuration.validate()
        self.layout = layout
        self.configuration = configuration
        self.logger = logger
        plan = ColumnarMemoryPlan(budget: configuration.memoryBudget)
        runs = SpillRuns(parent: configuration.spillDirectory, blockBytes: configuration.blockBytes)
        spillCodec = try SpillChunkCodec()
        input = ColumnarInput(layout: layout, sliceBytes: sliceBytes ?? plan.sliceBytes)
    }

    /// Bytes the sort buffer holds now: batches, entry arrays by capacity, the input being read.
    private var memoryInUse: Int {
        bufferedBytes + entries.capacity * ColumnarMemoryPlan.entryBytes + inputReserve
    }

    /// Caps the entry buffer at the rows the inputs hold (footers), so a small input reserves no more.
    func reserve(forRows rows: Int) { expectedRows = max(1, rows) }

    /// Sizes the entry buffer once, from the first batch's row width: as many entries as the budget admits next to
    /// their rows, so it never grows (and never copies) while filling.
    private func sizeEntries(rows: Int) {
        guard entries.capacity == 0 else { return }
        let room = plan.sortLimit - inputReserve
        let capacity = min(expectedRows, max(rows, room / (bytesPerRow + ColumnarMemoryPlan.entryBytes)))
        entries.reserveCapacity(capacity)
    }

    /// Reads every row group of one input file, each in slices of about `plan.sliceBytes` decoded bytes.
    func add(path: String) throws {
        defer { inputReserve = 0 }
        try input.read(
            path: path,
            beforeGroup: { reserve in
                inputReserve = 0
                if !entries.isEmpty, memoryInUse + reserve > plan.sortLimit { try spill() }
                inputReserve = reserve
            },
            slice: { batch, held in
                // While reading: what the reader holds now, and the next slice being decoded.
                inputReserve = held + 2 * input.sliceBytes
                try add(batch, source: path)
            })
    }

    /// Checks the rows of a normalized batch (a row `validate()` could reject is built and validated, so it fails
    /// with that error) and returns each row's platform code.
    static func platformCodes(of batch: ColumnBatch, layout: ColumnarLayout, source: String) throws -> [UInt8] {
        var next = 0
        while let suspect = Row.firstSuspectRow(in: batch, rows: next..<batch.rowCount) {
            try layout.row(Row.self, batch, suspect, source: source).validate()
            next = suspect + 1
        }
        switch layout.platformCodes(batch) {
        case .success(let found): return found
        case .failure(let bad):
            try layout.row(Row.self, batch, bad.row, source: source).validate()
            throw layout.invalid(source, "platform", "row \(bad.row) has no accepted platform")
        }
    }

    /// Validates and buffers one normalized batch, spilling first when it would not fit.
    func add(_ batch: ColumnBatch, source: String) throws {
        guard batch.rowCount > 0 else { return }
        let codes = try Self.platformCodes(of: batch, layout: layout, source: source)
        guard let (owners, worker) = ownership,
            let owned = try owners.rowsOwned(by: worker, days: batch.int32s(layout.day)!, platformCodes: codes)
        else { return try append(batch, platformCodes: codes) }
        // Some rows belong to other workers: keep a copy of this worker's rows only.
        let split = Gatherer()
        _ = split.register(batch)
        var kept: [UInt8] = []
        for row in owned.indices where owned[row] {
            split.pick(UInt64(row))
            kept.append(codes[row])
        }
        guard !kept.isEmpty else { return }
        try append(split.gather(Array(layout.columns.indices), layout: layout), platformCodes: kept)
    }

    /// Buffers one checked batch (`platformCodes(of:)`), spilling first when it would not fit.
    func append(_ batch: ColumnBatch, platformCodes codes: [UInt8]) throws {
        let rows = batch.rowCount
        guard rows > 0 else { return }
        let bytes = ColumnarLayout.bytes(of: batch)
        bytesPerRow = max(bytesPerRow, (bytes + rows - 1) / rows)
        sizeEntries(rows: rows)
        if !entries.isEmpty,
            memoryInUse + bytes > plan.sortLimit || entries.count + rows > entries.capacity
        {
            try spill()
        }
        let slot = buffer.register(batch)
        layout.appendEntries(batch, slot: slot, platformCodes: codes, to: &entries)
        bufferedBytes += bytes
        statistics.inputRecords += rows
    }

    /// Sorts the buffered entries and hands each key's winner to `sink`.
    private func emitBufferedWinners(to sink: any WinnerSink) throws {
        SortEntry.sort(&entries)
        let slots = buffer.slots
        var start = 0
        let count = entries.count
        while start < count {
            var end = start + 1
            while end < count, entries[end].sameKeyWords(entries[start]) { end += 1 }
            if end - start == 1 {
                try sink.accept(entries[start], from: buffer)
            } else if layout.stringKeys.isEmpty {
                try sink.accept(try winner(start..<end, slots), from: buffer)
            } else {
                // Equal words but string keys: order the group on the full strings, then pick per distinct key.
                var group = Array(entries[start..<end])
                group.sort { a, b in
                    let order = layout.compareStringKeys(slots[a.slot]!, a.row, slots[b.slot]!, b.row)
                    return order != 0 ? order < 0 : a.version < b.version
                }
                entries.replaceSubrange(start..<end, with: group)
                var first = start
                while first < end {
                    var last = first + 1
                    while last < end,
                        layout.compareStringKeys(
                            slots[entries[first].slot]!, entries[first].row, slots[entries[last].slot]!,
                            entries[last].row) == 0
                    {
                        last += 1
                    }
                    try sink.accept(try winner(first..<last, slots), from: buffer)
                    first = last
                }
            }
            start = end
        }
    }

    /// The first entry of a sorted group of one key, unless several share its fetch time: then the larger encoded row.
    private func winner(_ group: Range<Int>, _ slots: [ColumnBatch?]) throws -> SortEntry {
        var best = entries[group.lowerBound]
        var index = group.lowerBound + 1
        while index < group.upperBound, entries[index].version == best.version {
            let candidate = entries[index]
            if try layout.compareEncoded(Row.self, slots[candidate.slot]!, candidate.row, slots[best.slot]!, best.row)
                < 0
            {
                best = candidate
            }
            index += 1
        }
        return best
    }

    private func newRun() throws -> RunSink {
        let writer = try runs.newWriter()
        return try RunSink(
            writer: writer, codec: spillCodec, layout: layout, maxRecordBytes: configuration.maxRecordBytes,
            chunkRows: ColumnarMemoryPlan.rows(plan.spillChunkBytes, bytesPerRow: bytesPerRow))
    }

    /// Writes the buffered winners as one run and empties the buffer.
    private func spill() throws {
        guard !entries.isEmpty else { return }
        let run = try newRun()
        try emitBufferedWinners(to: run)
        try run.finish(from: buffer)
        noteChunks(of: run)
        statistics.spilledRuns += 1
        statistics.spilledBytes += run.writer.bytesWritten
        logger.debug(
            "spilled columnar sort run",
            metadata: [
                "run": "\(run.writer.path)", "records": "\(entries.count)", "kept": "\(run.rows)",
                "bytes": "\(run.writer.bytesWritten)",
            ])
        entries.removeAll(keepingCapacity: true)
        buffer.removeAll()
        bufferedBytes = 0
        releaseFreeHeap()
    }

    private func noteChunks(of run: RunSink) {
        largestChunkBytes = max(largestChunkBytes, run.largestChunkBytes)
        largestChunkRows = max(largestChunkRows, run.largestChunkRows)
        largestImageBytes = max(largestImageBytes, run.largestImageBytes)
        largestRecordBytes = max(largestRecordBytes, run.largestRecordBytes)
    }

    /// How many runs one merge pass reads at once: each holds a decoded chunk, its entries and a block buffer as
    /// large as its largest (compressed) record; retired chunks (and the one being decoded) wait for the sink's next
    /// gather; the codec holds one image and one record; the output keeps its share.
    var mergeFanIn: Int {
        let chunk = largestChunkBytes + largestChunkRows * SortEntry.bytes
        let perRun = max(1, chunk + max(configuration.blockBytes, largestRecordBytes))
        let codec = largestImageBytes + SpillChunkCodec.recordBound(imageBytes: largestImageBytes)
        let fixed = plan.outputReserve + (Gatherer.retiredLimit + 1) * chunk + codec
        return max(2, min(1024, (configuration.memoryBudget - fixed) / perRun))
    }

    /// Drops what is buffered and deletes the spill files (at the end, and after an error).
    func removeSpills() {
        entries = []
        buffer.removeAll()
        runs.removeAll()
    }

    /// Reads `inputs`, sets `sink`'s row group size from the widest row read (`rowGroupRows(bytesPerRow)`), then
    /// emits every winner to it.
    func reduce(_ inputs: [String], into sink: PartitionSink, rowGroupRows: (Int) -> Int) throws {
        for path in inputs { try add(path: path) }
        sink.writerOptions.rowGroupRows = rowGroupRows(input.bytesPerRow)
        try finish(to: sink)
    }

    /// Emits every key's winner in key order to `sink`, then releases memory and spill files.
    func finish(to sink: any WinnerSink) throws {
        defer { removeSpills() }
        buffer.pickLimit = outputPickLimit
        if runs.pending.isEmpty {
            try emitBufferedWinners(to: sink)
            try sink.finish(from: buffer)
            return
        }
        try spill()
        entries = []
        let fanIn = mergeFanIn
        while runs.pending.count > fanIn {
            let group = runs.take(fanIn)
            let run = try newRun()
            try merge(group, into: run)
            runs.remove(group)
            try run.finish(from: run.gatherer)
            noteChunks(of: run)
            statistics.spilledBytes += run.writer.bytesWritten
            statistics.mergePasses += 1
        }
        let group = runs.take()
        let gatherer = Gatherer()
        gatherer.pickLimit = outputPickLimit
        try merge(group, into: sink, gatherer: gatherer)
        try sink.finish(from: gatherer)
        statistics.mergePasses += 1
    }

    /// Rows one gathered output batch may hold within `plan.gatherBytes`.
    private var outputPickLimit: Int {
        min(ProcessedReducer.batchRows, ColumnarMemoryPlan.rows(plan.gatherBytes, bytesPerRow: bytesPerRow, minimum: 256))
    }

    private func merge(_ paths: [String], into run: RunSink) throws {
        try merge(paths, into: run, gatherer: run.gatherer)
    }

    /// k-way merge of runs (each sorted, one row per key) with a binary heap; equal keys from several runs resolve
    /// as in memory.
    private func merge(_ paths: [String], into sink: any WinnerSink, gatherer: Gatherer) throws {
        var cursors: [RunCursor] = []
        for path in paths {
            let reader = try SpillReader(
                path: path, maxBlockBytes: max(configuration.blockBytes, configuration.maxRecordBytes))
            let cursor = RunCursor(reader: reader, codec: spillCodec, maxImageBytes: configuration.maxRecordBytes)
            if try cursor.load(layout: layout, into: gatherer) { cursors.append(cursor) }
        }
        let layout = self.layout
        // The heap holds each cursor's current entry by value, so sifting compares words without touching (and
        // retaining) the cursors; only ties on every word look at the rows.
        func less(_ a: MergeHead, _ b: MergeHead) throws -> Bool {
            let x = a.entry
            let y = b.entry
            if !x.sameKeyWords(y) { return SortEntry.precedes(x, y) }
            let batchA = cursors[a.cursor].batch
            let batchB = cursors[b.cursor].batch
            if !layout.stringKeys.isEmpty {
                let order = layout.compareStringKeys(batchA, x.row, batchB, y.row)
                if order != 0 { return order < 0 }
            }
            if x.version != y.version { return x.version < y.version }
            return try layout.compareEncoded(Row.self, batchA, x.row, batchB, y.row) < 0
        }
        var heap = cursors.indices.map { MergeHead(entry: cursors[$0].current, cursor: $0) }
        func siftDown(_ start: Int) throws {
            var parent = start
            let count = heap.count
            while true {
                let left = 2 * parent + 1
                if left >= count { return }
                var child = left
                if left + 1 < count, try less(heap[left + 1], heap[left]) { child = left + 1 }
                if try !less(heap[child], heap[parent]) { return }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        if heap.count > 1 {
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { try siftDown(index) }
        }
        // The last emitted key: its words, and (string keys only) the batch holding its row.
        var lastEntry: SortEntry?
        var lastBatch: ColumnBatch?
        let stringKeys = !layout.stringKeys.isEmpty
        while let top = heap.first {
            let entry = top.entry
            let cursor = cursors[top.cursor]
            var duplicate = false
            if let lastEntry, lastEntry.sameKeyWords(entry) {
                duplicate = !stringKeys || layout.compareStringKeys(lastBatch!, lastEntry.row, cursor.batch, entry.row) == 0
            }
            if !duplicate {
                try sink.accept(entry, from: gatherer)
                lastEntry = entry
                if stringKeys { lastBatch = cursor.batch }
            }
            if try cursor.advance(layout: layout, into: gatherer) {
                heap[0].entry = cursor.current
            } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { try siftDown(0) }
        }
    }
}

/// A merge heap element: a run cursor's current entry, and which cursor it is.
private struct MergeHead {
    var entry: SortEntry
    var cursor: Int
}

/// Reads one run back a chunk at a time.
final class RunCursor {
    let reader: SpillReader
    private let codec: SpillChunkCodec
    private let maxImageBytes: Int
    private(set) var batch = ColumnBatch([])
    private var entries: [SortEntry] = []
    private var position = 0
    private var slot = -1

    init(reader: SpillReader, codec: SpillChunkCodec, maxImageBytes: Int) {
        self.reader = reader
        self.codec = codec
        self.maxImageBytes = maxImageBytes
    }

    var current: SortEntry { entries[position] }

    /// Decodes the reader's current record into a batch; false when the run is exhausted.
    func load(layout: ColumnarLayout, into gatherer: Gatherer) throws -> Bool {
        guard let record = reader.current else { return false }
        batch = try codec.batch(of: record, layout: layout, maxImageBytes: maxImageBytes, source: reader.path)
        guard batch.rowCount > 0, case .success(let codes) = layout.platformCodes(batch) else {
            throw ReducerError(
                code: .corruptSpill, operation: "read spill chunk", subject: reader.path,
                detail: "empty chunk or unknown platform")
        }
        slot = gatherer.register(batch)
        entries.removeAll(keepingCapacity: true)
        layout.appendEntries(batch, slot: slot, platformCodes: codes, to: &entries)
        position = 0
        return true
    }

    /// Moves to the next row; false after the last.
    func advance(layout: ColumnarLayout, into gatherer: Gatherer) throws -> Bool {
        position += 1
        if position < entries.count { return true }
        gatherer.retire(slot)
        try reader.advance()
        return try load(layout: layout, into: gatherer)
    }
}

/// Writes winners as a run: chunks of all columns (`SpillChunk`), each compressed in one checksummed spill record.
final class RunSink: WinnerSink {
    let writer: SpillWriter
    private let codec: SpillChunkCodec
    let layout: ColumnarLayout
    let gatherer = Gatherer()
    private let maxRecordBytes: Int
    private let allColumns: [Int]
    private let chunkRows: Int
    private(set) var rows = 0
    private(set) var largestChunkBytes = 0
    private(set) var largestChunkRows = 0
    private(set) var largestImageBytes = 0
    private(set) var largestRecordBytes = 0

    init(writer: SpillWriter, codec: SpillChunkCodec, layout: ColumnarLayout, maxRecordBytes: Int, chunkRows: Int)
        throws
    {
        self.writer = writer
        self.codec = codec
        self.layout = layout
        self.maxRecordBytes = maxRecordBytes
        self.chunkRows = chunkRows
        allColumns = Array(layout.columns.indices)
    }

    func accept(_ entry: SortEntry, from source: Gatherer) throws {
        source.pick(entry.ref)
        if source.picks.count >= chunkRows || source.shouldFlush {
            try flush(source)
        }
    }

    func finish(from source: Gatherer) throws {
        try flush(source)
        try writer.finish()
    }

    private func flush(_ source: Gatherer) throws {
        guard !source.picks.isEmpty else { return }
        try write(source, 0..<source.picks.count)
        source.clearPicks()
    }

    /// Writes the picked rows `range` as one record, halving the range until the record's bound fits
    /// `maxRecordBytes` (so a reader can always hold it, compressed or not).
    private func write(_ source: Gatherer, _ range: Range<Int>) throws {
        let batch = source.gather(allColumns, layout: layout, range: range)
        let size = SpillChunk.size(of: batch)
        if SpillChunkCodec.recordBound(imageBytes: size) > maxRecordBytes {
            guard range.count > 1 else {
                throw ReducerError(
                    code: .recordTooLarge, operation: "write spill chunk", subject: writer.path,
                    detail: "one row takes \(size) bytes, maxRecordBytes is \(maxRecordBytes)")
            }
            let middle = range.lowerBound + range.count / 2
            try write(source, range.lowerBound..<middle)
            try write(source, middle..<range.upperBound)
            return
        }
        let record = try codec.record(for: batch, source: writer.path)
        largestChunkBytes = max(largestChunkBytes, ColumnarLayout.bytes(of: batch))
        largestChunkRows = max(largestChunkRows, range.count)
        largestImageBytes = max(largestImageBytes, size)
        largestRecordBytes = max(largestRecordBytes, SortRecord.size(record))
        try writer.append(record)
        rows += range.count
    }
}
