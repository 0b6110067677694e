import Logging
import ParquetKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// glibc returns every freed block above its (adaptive) mmap threshold to the kernel, so each decoded row group
/// and sort buffer comes back as fresh zeroed pages: a third of the CPU time went to page faults. Blocks up to
/// 32 MiB now come from the heap, and free heap is kept for reuse — at most a quarter of the memory budget (8 to
/// 256 MiB), so the retained memory stays proportional to what the caller allowed. Process-wide, set once, by the
/// first columnar reduce.
private let allocatorTuning = Mutex(false)

private func tuneAllocator(forBudget budget: Int) {
    guard !allocatorTuning.withLock({ done in defer { done = true }; return done }) else { return }
    #if canImport(Glibc)
        // malloc.h is not in the Glibc module: look mallopt up (M_TRIM_THRESHOLD -1, M_TOP_PAD -2,
        // M_MMAP_THRESHOLD -3).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        if let symbol = dlsym(nil, "mallopt") {
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            let retained = min(256 << 20, max(8 << 20, budget / 4))
            _ = mallopt(-3, Int32(min(32 << 20, max(1 << 20, budget / 32))))
            _ = mallopt(-1, Int32(retained))
            _ = mallopt(-2, Int32(min(64 << 20, retained / 4)))
        }
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
/// Input row groups stay in their decoded columnar form; each row adds one fixed-width `SortEntry`. When the batches
/// plus entries would exceed the budget, the entries are sorted, each key's winner is kept and the winners are written
/// as a run: chunks of rows, each an in-memory Parquet image (snappy, PLAIN) inside a CRC-checked spill record. The
/// runs are then merged with a heap (several passes when there are more than fit the budget). Winners go to a
/// `WinnerSink` as references; sinks gather whole columns at once.
///
/// Same rule as the row path: per (day, platform, natural key) the latest `fetched_at` wins, then the larger encoded
/// row (`RowWriter`), so the result never depends on input order.
final class ColumnarReduce<Row: ParquetRow> {
    let layout: ColumnarLayout
    let configuration: ExternalSortConfiguration
    private let logger: Logger
    private let buffer = Gatherer()
    private var entries: [SortEntry] = []
    private var bufferedBytes = 0
    private let runs: SpillRuns
    /// Largest decoded chunk written to a run, which sets how many runs one merge pass can hold.
    private var largestChunkBytes = 0
    private(set) var statistics = ExternalSortStatistics()

    init(layout: ColumnarLayout, configuration: ExternalSortConfiguration, logger: Logger) throws(ReducerError) {
        try configuration.validate()
        tuneAllocator(forBudget: configuration.memoryBudget)
        self.layout = layout
        self.configuration = configuration
        self.logger = logger
        runs = SpillRuns(parent: configuration.spillDirectory, blockBytes: configuration.blockBytes)
    }

    private func cost(rows: Int, bytes: Int) -> Int { bytes + rows * 2 * SortEntry.bytes }

    /// Sizes the entry buffer once for the rows expected (at most what the budget admits), instead of growing it
    /// (and touching fresh pages) batch by batch.
    func reserve(forRows rows: Int) {
        entries.reserveCapacity(min(rows, configuration.memoryBudget / (2 * SortEntry.bytes)))
    }

    /// Reads every row group of one input file.
    func add(path: String) throws {
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
        for group in 0..<reader.rowGroupCount {
            let decoded = try reader.readRowGroup(group, columns: names)
            try add(try layout.normalize(decoded, fileTypes: fileTypes, source: path), source: path)
        }
    }

    /// Validates and buffers one normalized batch, spilling first when it would not fit.
    func add(_ batch: ColumnBatch, source: String) throws {
        let rows = batch.rowCount
        guard rows > 0 else { return }
        var next = 0
        while let suspect = Row.firstSuspectRow(in: batch, rows: next..<rows) {
            try layout.row(Row.self, batch, suspect, source: source).validate()
            next = suspect + 1
        }
        let codes: [UInt8]
        switch layout.platformCodes(batch) {
        case .success(let found): codes = found
        case .failure(let bad):
            try layout.row(Row.self, batch, bad.row, source: source).validate()
            throw layout.invalid(source, "platform", "row \(bad.row) has no accepted platform")
        }
        let bytes = cost(rows: rows, bytes: ColumnarLayout.bytes(of: batch))
        if !entries.isEmpty, bufferedBytes + bytes > configuration.memoryBudget { try spill() }
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
        return try RunSink(writer: writer, layout: layout, maxRecordBytes: configuration.maxRecordBytes)
    }

    /// Writes the buffered winners as one run and empties the buffer.
    private func spill() throws {
        guard !entries.isEmpty else { return }
        let run = try newRun()
        try emitBufferedWinners(to: run)
        try run.finish(from: buffer)
        largestChunkBytes = max(largestChunkBytes, run.largestChunkBytes)
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
    }

    /// Emits every key's winner in key order to `sink`, then releases memory and spill files.
    func finish(to sink: any WinnerSink) throws {
        defer {
            entries = []
            buffer.removeAll()
            runs.removeAll()
        }
        if runs.pending.isEmpty {
            try emitBufferedWinners(to: sink)
            try sink.finish(from: buffer)
            return
        }
        try spill()
        // One decoded chunk plus its entries per run, within half the budget (the rest is for the output).
        let perRun = max(1, cost(rows: ColumnarLayout.chunkRows, bytes: largestChunkBytes))
        let fanIn = max(2, min(1024, configuration.memoryBudget / 2 / perRun))
        while runs.pending.count > fanIn {
            let group = runs.take(fanIn)
            let run = try newRun()
            try merge(group, into: run)
            runs.remove(group)
            try run.finish(from: run.gatherer)
            statistics.spilledBytes += run.writer.bytesWritten
            statistics.mergePasses += 1
        }
        let group = runs.take()
        let gatherer = Gatherer()
        try merge(group, into: sink, gatherer: gatherer)
        try sink.finish(from: gatherer)
        statistics.mergePasses += 1
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
            let cursor = RunCursor(reader: reader)
            if try cursor.load(layout: layout, into: gatherer) { cursors.append(cursor) }
        }
        let layout = self.layout
        func less(_ a: RunCursor, _ b: RunCursor) throws -> Bool {
            let x = a.current
            let y = b.current
            if !x.sameKeyWords(y) { return SortEntry.precedes(x, y) }
            if !layout.stringKeys.isEmpty {
                let order = layout.compareStringKeys(a.batch, x.row, b.batch, y.row)
                if order != 0 { return order < 0 }
            }
            if x.version != y.version { return x.version < y.version }
            return try layout.compareEncoded(Row.self, a.batch, x.row, b.batch, y.row) < 0
        }
        var heap = cursors
        func siftDown(_ start: Int) throws {
            var parent = start
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { return }
                var child = left
                if left + 1 < heap.count, try less(heap[left + 1], heap[left]) { child = left + 1 }
                if try !less(heap[child], heap[parent]) { return }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        if heap.count > 1 {
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { try siftDown(index) }
        }
        // The last emitted key: its words, and its row while its batch is still held (for string keys).
        var last: (entry: SortEntry, batch: ColumnBatch)?
        while let top = heap.first {
            let entry = top.current
            var duplicate = false
            if let last, last.entry.sameKeyWords(entry) {
                duplicate =
                    layout.stringKeys.isEmpty
                    || layout.compareStringKeys(last.batch, last.entry.row, top.batch, entry.row) == 0
            }
            if !duplicate {
                try sink.accept(entry, from: gatherer)
                last = (entry, top.batch)
            }
            if try !top.advance(layout: layout, into: gatherer) {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { try siftDown(0) }
        }
    }
}

/// Reads one run back a chunk at a time.
final class RunCursor {
    let reader: SpillReader
    private(set) var batch = ColumnBatch([])
    private var entries: [SortEntry] = []
    private var position = 0
    private var slot = -1

    init(reader: SpillReader) { self.reader = reader }

    var current: SortEntry { entries[position] }

    /// Decodes the reader's current record into a batch; false when the run is exhausted.
    func load(layout: ColumnarLayout, into gatherer: Gatherer) throws -> Bool {
        guard let record = reader.current else { return false }
        let image = Array(SortRecord.payload(record))
        let parquet = try ParquetReader(bytes: image, name: reader.path)
        guard parquet.rowGroupCount == 1 else {
            throw ReducerError(
                code: .corruptSpill, operation: "read spill chunk", subject: reader.path,
                detail: "chunk has \(parquet.rowGroupCount) row groups")
        }
        batch = try layout.normalize(
            parquet.readRowGroup(0), fileTypes: parquet.schema.columns.map(\.type), source: reader.path)
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

/// Writes winners as a run: chunks of all columns, each a Parquet image in one checksummed spill record.
final class RunSink: WinnerSink {
    let writer: SpillWriter
    let layout: ColumnarLayout
    let gatherer = Gatherer()
    private let maxRecordBytes: Int
    private let schema: ParquetSchema
    private let allColumns: [Int]
    private var options = ParquetWriterOptions()
    private(set) var rows = 0
    private(set) var largestChunkBytes = 0

    init(writer: SpillWriter, layout: ColumnarLayout, maxRecordBytes: Int) throws {
        self.writer = writer
        self.layout = layout
        self.maxRecordBytes = maxRecordBytes
        schema = try ParquetSchema(layout.columns)
        allColumns = Array(layout.columns.indices)
        options.codec = .snappy
        options.dictionary = false
        options.parallelEncoding = false
    }

    func accept(_ entry: SortEntry, from source: Gatherer) throws {
        source.pick(entry.ref)
        if source.picks.count >= ColumnarLayout.chunkRows || source.retiredCount >= 16 {
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

    /// Writes the picked rows `range` as one record, halving the range until its image fits `maxRecordBytes`.
    private func write(_ source: Gatherer, _ range: Range<Int>) throws {
        let batch = source.gather(allColumns, layout: layout, range: range)
        let image = try ParquetWriter.encode(schema: schema, batches: [batch], options: options)
        if image.count + SortRecord.headerBytes > maxRecordBytes {
            guard range.count > 1 else {
                throw ReducerError(
                    code: .recordTooLarge, operation: "write spill chunk", subject: writer.path,
                    detail: "one row encodes to \(image.count) bytes, maxRecordBytes is \(maxRecordBytes)")
            }
            let middle = range.lowerBound + range.count / 2
            try write(source, range.lowerBound..<middle)
            try write(source, middle..<range.upperBound)
            return
        }
        largestChunkBytes = max(
            largestChunkBytes, ColumnarLayout.bytes(of: batch) * ColumnarLayout.chunkRows / range.count)
        // One SortRecord (empty key, version = row count, payload = the image) in a buffer the writer copies.
        let record = UnsafeMutableRawPointer.allocate(byteCount: SortRecord.headerBytes + image.count, alignment: 8)
        defer { record.deallocate() }
        image.withUnsafeBytes { payload in
            SortRecord.write(
                to: record, key: UnsafeRawBufferPointer(start: nil, count: 0), version: Int64(range.count),
                payload: payload)
        }
        try writer.append(UnsafeRawPointer(record))
        rows += range.count
    }
}
