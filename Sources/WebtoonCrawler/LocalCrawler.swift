import Logging
import WebtoonCore

/// What a local crawl produced.
public struct CrawlSummary: Sendable {
    public var records: RecordBatch
    /// Tasks that still failed after every attempt.
    public var failures: [TaskFailure]
    public var tasksCompleted: Int
    /// Task runs, retries included.
    public var taskRuns: Int
    public var rawFiles: Int
    public var rawFailures: [RawStorageError]
}

/// Runs a crawl in one process: starts from root tasks, runs up to `concurrency` tasks at once (children first,
/// so memory stays bounded), creates each child once by key, retries a failed task up to `maxTaskAttempts` times,
/// and keeps every task's raw responses. The cluster's workers call `TaskRunner.run` directly instead.
public struct LocalCrawler: Sendable {
    public let runner: TaskRunner
    public let storage: RawStorage?
    public let concurrency: Int
    public let maxTaskAttempts: Int
    public let logger: Logger

    public init(runner: TaskRunner, storage: RawStorage?, concurrency: Int, maxTaskAttempts: Int = 3, logger: Logger) {
        self.runner = runner
        self.storage = storage
        self.concurrency = max(1, concurrency)
        self.maxTaskAttempts = max(1, maxTaskAttempts)
        self.logger = logger
    }

    private enum Outcome: Sendable {
        case done(CrawlTask, TaskOutput, runs: Int, files: Int, rawErrors: [RawStorageError])
        case failed(CrawlTask, TaskFailure, runs: Int, files: Int, rawErrors: [RawStorageError])
    }

    public func run(_ roots: [CrawlTask]) async -> CrawlSummary {
        var summary = CrawlSummary(
            records: RecordBatch(), failures: [], tasksCompleted: 0, taskRuns: 0, rawFiles: 0, rawFailures: [])
        var pending: [CrawlTask] = []
        var seen: Set<String> = []
        for task in roots.reversed() where seen.insert(task.key).inserted { pending.append(task) }
        await withTaskGroup(of: Outcome.self) { group in
            var running = 0
            while true {
                while running < concurrency, let task = pending.popLast() {
                    running += 1
                    group.addTask { await self.attempt(task) }
                }
                guard let outcome = await group.next() else { break }
                running -= 1
                switch outcome {
                case .done(_, let output, let runs, let files, let rawErrors):
                    summary.records.append(contentsOf: output.records)
                    summary.tasksCompleted += 1
                    summary.taskRuns += runs
                    summary.rawFiles += files
                    summary.rawFailures += rawErrors
                    // Push children reversed so the first child runs first.
                    for child in output.children.reversed() where seen.insert(child.key).inserted {
                        pending.append(child)
                    }
                case .failed(let task, let failure, let runs, let files, let rawErrors):
                    logger.error("task failed", metadata: ["task": "\(task.key)", "error": "\(failure)"])
                    summary.failures.append(failure)
                    summary.taskRuns += runs
                    summary.rawFiles += files
                    summary.rawFailures += rawErrors
                }
            }
        }
        return summary
    }

    private func attempt(_ task: CrawlTask) async -> Outcome {
        var files = 0
        var rawErrors: [RawStorageError] = []
        var runs = 0
        while true {
            runs += 1
            do {
                let output = try await runner.run(task)
                if let storage {
                    do {
                        files += try await storage.write(task: task, raw: output.raw).count
                    } catch {
                        rawErrors.append(error)
                    }
                }
                return .done(task, output, runs: runs, files: files, rawErrors: rawErrors)
            } catch {
                if let storage {
                    do {
                        files += try await storage.write(task: task, raw: error.raw, failed: true).count
                    } catch let storageError {
                        rawErrors.append(storageError)
                    }
                }
                if runs >= maxTaskAttempts || Task.isCancelled {
                    return .failed(task, error, runs: runs, files: files, rawErrors: rawErrors)
                }
                logger.info("retrying task", metadata: ["task": "\(task.key)", "error": "\(error)"])
            }
        }
    }
}

extension CrawlDate {
    /// Today's KST calendar day, from the wall clock.
    public static func todayInKST() -> CrawlDate { CrawlDate(kstDayOfEpochMilliseconds: WallClock.epochMilliseconds()) }
}
