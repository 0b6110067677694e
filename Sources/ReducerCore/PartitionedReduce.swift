import Foundation
import Logging
import ParquetKit
import Synchronization

/// Which worker owns each (day, platform) partition of a `PartitionedColumnarReduce`. A partition is given, when a
/// worker first meets it, to the worker owning the fewest rows so far (counted row by row, so the partitions of
/// one slice are spread); every worker then keeps only the rows of
/// its own partitions. Shared by the workers (a lock around a small table, taken once per slice).
final class PartitionOwners: Sendable {
    private struct State {
        var owners: [UInt64: Int] = [:]
        var rows: [Int]
        var failed = false
    }

    /// Thrown by the other workers once one has failed, so they stop reading instead of finishing for nothing.
    struct Stopped: Error {}

    /// Called by a worker that failed: the others stop at their next slice.
    func fail() { state.withLock { $0.failed = true } }
    private let state: Mutex<State>

    init(workers: Int) { state = Mutex(State(rows: Array(repeating: 0, count: workers))) }

    /// Per row of a checked batch, whether `worker` owns its partition; nil when it owns every row.
    func rowsOwned(by worker: Int, days: [Int32], platformCodes codes: [UInt8]) throws -> [Bool]? {
        let count = codes.count
        var owned = [Bool](repeating: false, count: count)
        var mine = 0
        try state.withLock { state throws in
            if state.failed { throw Stopped() }
            var lastWord = UInt64.max
            var lastOwner = -1
            for row in 0..<count {
                let word = UInt64(UInt32(bitPattern: days[row])) << 8 | UInt64(codes[row])
                if word != lastWord {
                    if let known = state.owners[word] {
                        lastOwner = known
                    } else {
                        lastOwner = state.rows.indices.min { state.rows[$0] < state.rows[$1] }!
                        state.owners[word] = lastOwner
                    }
                    lastWord = word
                }
                // Every worker counts every row it reads for the row's owner (so each row twice, alike for all).
                state.rows[lastOwner] += 1
                if lastOwner == worker {
                    owned[row] = true
                    mine += 1
                }
            }
        }
        return mine == count ? nil : owned
    }
}

/// A columnar reduce on several threads: every (day, platform) partition belongs to one worker (`PartitionOwners`),
/// which reads every input, keeps the rows of its partitions, and sorts, spills, merges and writes them within its
/// share of the budget (`budget / workers`, everything counted as in `ColumnarReduce`). The workers never need each
/// other's rows and write disjoint hive partitions, so they run without waiting for each other; the cost is that
/// each decodes every input (cheap beside the sort and spill work, and skipped for row groups without its rows only
/// when those are known: not yet).
final class PartitionedColumnarReduce<Row: ParquetRow> {
    private let workers: [PartitionWorker<Row>]
    private let inputs: [String]

    /// The per-worker configuration, or nil when one worker is asked for or the budget is too small to share: each
    /// worker keeps `(budget - (workers - 1) × budget / 24) / workers`, which must be at least 1 MiB and twice the
    /// largest row group's reserve (a worker reads every row group itself).
    static func workerConfiguration(_ configuration: ExternalSortConfiguration, footers: ColumnarInput.Footers)
        -> ExternalSortConfiguration?
    {
        let count = configuration.partitionWorkers
        guard count > 1 else { return nil }
        // Each extra thread's malloc arena keeps freed fragments between trims: two workers peaked 30–40 MB higher
        // than one at 1 GiB, so that much is set aside per extra worker.
        let each = (configuration.memoryBudget - (count - 1) * (configuration.memoryBudget / 24)) / count
        guard each >= max(1 << 20, 2 * footers.largestGroupReserve) else { return nil }
        var worker = configuration
        worker.memoryBudget = each
        worker.maxRecordBytes = min(configuration.maxRecordBytes, each / 4)
        worker.partitionWorkers = 1
        return worker
    }

    init(
        layout: ColumnarLayout, worker: ExternalSortConfiguration, sliceBytes: Int, sinks: [PartitionSink],
        inputs: [String], expectedRows: Int, logger: Logger
    ) throws {
        self.inputs = inputs
        let owners = PartitionOwners(workers: sinks.count)
        workers = try sinks.enumerated().map { index, sink in
            let reduce = try ColumnarReduce<Row>(
                layout: layout, configuration: worker, sliceBytes: sliceBytes, logger: logger)
            reduce.reserve(forRows: expectedRows)
            reduce.ownership = (owners, index)
            return PartitionWorker(reduce: reduce, sink: sink, owners: owners)
        }
    }

    /// Runs the workers, each on its own thread (blocking file I/O stays off the cooperative pool), waits for all,
    /// and returns their statistics summed. Before writing, each worker sets its sink's `rowGroupRows` to
    /// `rowGroupRows(widest input row)`; every worker reads every row, so all get the same value.
    func run(rowGroupRows: @escaping @Sendable (Int) -> Int) throws -> ExternalSortStatistics {
        let threads = workers.enumerated().map { index, worker in
            let thread = Thread { [inputs] in worker.run(inputs: inputs, rowGroupRows: rowGroupRows) }
            thread.name = "webtoon-reduce-\(index)"
            thread.stackSize = 8 << 20
            return thread
        }
        for thread in threads { thread.start() }
        var firstError: (any Error)?
        var statistics = ExternalSortStatistics()
        for worker in workers {
            if let error = worker.wait(), firstError == nil, !(error is PartitionOwners.Stopped) { firstError = error }
            let part = worker.reduce.statistics
            statistics.inputRecords += part.inputRecords
            statistics.spilledRuns += part.spilledRuns
            statistics.spilledBytes += part.spilledBytes
            statistics.mergePasses = max(statistics.mergePasses, part.mergePasses)
        }
        if let firstError { throw firstError }
        statistics.partitionWorkers = workers.count
        return statistics
    }
}

/// One worker of a `PartitionedColumnarReduce`: reads every input (keeping its own partitions' rows), then merges
/// and writes to its own sink.
final class PartitionWorker<Row: ParquetRow>: @unchecked Sendable {
    let reduce: ColumnarReduce<Row>
    let sink: PartitionSink
    private let owners: PartitionOwners
    private let done = DispatchSemaphore(value: 0)
    private var error: (any Error)?

    init(reduce: ColumnarReduce<Row>, sink: PartitionSink, owners: PartitionOwners) {
        self.reduce = reduce
        self.sink = sink
        self.owners = owners
    }

    /// Reads `inputs`, sets the sink's row group size from the widest row read, then merges and writes.
    func run(inputs: [String], rowGroupRows: (Int) -> Int) {
        do {
            try reduce.reduce(inputs, into: sink, rowGroupRows: rowGroupRows)
        } catch {
            self.error = error
            owners.fail()
            // Now, not when the last reference goes (this thread's closure may outlive `done`).
            reduce.removeSpills()
        }
        done.signal()
    }

    /// Waits for `run` to end; its error, if any.
    func wait() -> (any Error)? {
        done.wait()
        return error
    }
}
