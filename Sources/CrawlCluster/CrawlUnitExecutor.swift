import ClusterCore
import ClusterKit
import Crypto
import Dispatch
import Foundation
import Logging
import ParquetKit
import WebtoonCore
import WebtoonCrawler

/// Where a worker keeps its outputs: a `file:///absolute/path` URL (a volume every worker and the reducer share).
public struct DataRoot: Sendable, Hashable, CustomStringConvertible {
    /// The absolute local path, without a trailing slash.
    public let path: String

    /// Accepts only `file://` URLs with an absolute path; any other scheme (s3://, http://) is refused by name.
    public init(url: String) throws(CrawlClusterError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            throw CrawlClusterError(.invalidDataRoot, "\"\(url)\" is not a URL; give file:///absolute/path")
        }
        guard scheme == "file" else {
            throw CrawlClusterError(
                .invalidDataRoot, "scheme \"\(scheme)\" of \"\(url)\" is not supported; only file:///absolute/path is")
        }
        guard components.host == nil || components.host == "" || components.host == "localhost" else {
            throw CrawlClusterError(.invalidDataRoot, "\"\(url)\" names host \"\(components.host!)\"; use file:///absolute/path")
        }
        var path = components.path
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw CrawlClusterError(.invalidDataRoot, "\"\(url)\" must have an absolute path without \"..\"")
        }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.path = path
    }

    public var url: String { "file://" + path }
    public var description: String { url }
    /// `<root>/optimized/<table>`: one hive dataset per table.
    public func dataset(_ table: CrawlTable) -> ParquetDataset { ParquetDataset(root: "\(path)/optimized/\(table.rawValue)") }
}

/// Runs one leased unit: decodes its crawl task, fetches with the crawler runtime at this worker's share of the
/// platform budget (one `AllowanceGate` per platform shared by all the worker's units, following every new
/// allowance) and within the catalog's in-flight cap per worker, keeps the raw responses, writes one Parquet file
/// per table and partition, and reports the manifest, the child tasks and the request counters. Throttling answers
/// (429 with Retry-After, 403, 5xx) are signalled to the coordinator as they happen.
///
/// Files are named `part-<unit>-a<epoch>.parquet` (the lease epoch, unique across every lease the unit ever had,
/// so a stale holder and the current one never write the same name) and appear atomically. A lost lease
/// (cancellation) removes the files this attempt wrote.
public final class CrawlUnitExecutor: UnitExecutor {
    public let dataRoot: DataRoot
    private let catalogs: [Platform: EndpointCatalog]
    private let http: any HTTPFetching
    /// Requests in flight per platform across all of this worker's units (the catalog's `maxConcurrency`).
    private let inFlight: [Platform: InFlightLimiter]
    /// This worker's request rate per platform, shared by its units.
    private let gates: [Platform: AllowanceGate]
    private let rawStorage: RawStorage
    private let episodeParallelism: Int
    private let logger: Logger
    /// Parquet writes and checksums block on file I/O: they run here, never on the cooperative pool.
    private let ioQueue = DispatchQueue(label: "webtoon.crawl-cluster.parquet")

    /// - Parameters:
    ///   - catalogs: endpoint catalogs (base URLs already overridden for a simulator); their rate holds only until
    ///     the coordinator's first allowance, which replaces it.
    ///   - http: the shared HTTP client (one per worker process).
    ///   - episodeParallelism: episodes of one batch fetched at once (each episode's requests are sequential).
    public init(
        dataRoot: DataRoot, catalogs: [EndpointCatalog], http: any HTTPFetching, episodeParallelism: Int = 4,
        rawLayout: RawStorage.Layout = .segments, logger: Logger
    ) {
        self.dataRoot = dataRoot
        self.catalogs = Dictionary(catalogs.map { ($0.platform, $0) }, uniquingKeysWith: { _, last in last })
        self.http = http
        self.inFlight = Dictionary(
            catalogs.map { ($0.platform, InFlightLimiter(limit: $0.politeness.maxConcurrency)) }, uniquingKeysWith: { _, last in last })
        self.gates = Dictionary(
            catalogs.map {
                ($0.platform, AllowanceGate(platform: $0.platform.rawValue, initialRate: $0.politeness.requestsPerSecond, burst: $0.politeness.burst))
            }, uniquingKeysWith: { _, last in last })
        self.rawStorage = RawStorage(root: dataRoot.path, layout: rawLayout)
        self.episodeParallelism = max(1, episodeParallelism)
        self.logger = logger
    }

    /// Runs the unit on the HTTP client's thread when it offers one (`HTTPFetching.preferredTaskExecutor`): fetching,
    /// parsing and the continuations in between then stay on one thread instead of crossing from a pool thread to
    /// curl's and back for every request. File writes still go to their own queues.
    public func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        await withTaskExecutorPreference(http.preferredTaskExecutor) {
            await self.run(unit, context: context)
        }
    }

    private func run(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        let task: CrawlTask
        do {
            task = try CrawlUnits.task(of: unit.seed)
        } catch {
            return .failed(error: error.description, retryable: false, stats: .zero)
        }
        guard let baseCatalog = catalogs[task.platform] else {
            return .failed(error: "this worker has no catalog for \(task.platform)", retryable: true, stats: .zero)
        }
        let platform = task.platform.rawValue
        let catalog = Self.unlimited(baseCatalog)
        let crawlStats = CrawlStats()
        var client: any HTTPFetching = http
        if let limiter = inFlight[task.platform] {
            client = LimitedHTTP(
                inner: http, limiter: limiter, gate: gates[task.platform],
                allowance: { context.allowance(platform: platform) },
                signal: { context.report(platform: platform, $0) })
        }
        let fetcher = EndpointHTTPFetcher(
            catalogs: [catalog], http: client, stats: crawlStats, logger: logger,
            seed: UInt64(truncatingIfNeeded: unit.token.epoch) &+ UInt64(unit.unit.rawValue.hashValue.magnitude))
        let runner = TaskRunner(catalogs: [catalog], fetcher: fetcher, episodeParallelism: episodeParallelism)

        let output: TaskOutput
        do {
            output = try await runner.run(task)
        } catch {
            _ = try? await rawStorage.write(task: task, raw: error.raw, failed: true)
            return .failed(error: "\(error)", retryable: true, stats: Self.stats(crawlStats.snapshot(task.platform)))
        }
        let stats = Self.stats(crawlStats.snapshot(task.platform))
        if Task.isCancelled { return .failed(error: "lease lost", retryable: true, stats: stats) }

        do {
            try await rawStorage.write(task: task, raw: output.raw)
        } catch {
            return .failed(error: "\(error)", retryable: true, stats: stats)
        }
        let files: [OutputFile]
        do {
            files = try await writeTables(output.records, unit: unit)
        } catch {
            return .failed(error: "\(error)", retryable: true, stats: stats)
        }
        if Task.isCancelled {
            await remove(files)
            return .failed(error: "lease lost", retryable: true, stats: stats)
        }
        let children: [UnitSeed]
        do {
            children = try output.children.map(CrawlUnits.seed(for:))
        } catch {
            await remove(files)
            return .failed(error: "\(error)", retryable: false, stats: stats)
        }
        return .completed(manifest: Manifest(files: files), children: children, stats: stats)
    }

    /// The unit's own token bucket is lifted: the worker's shared `AllowanceGate` sets the pace (the unit keeps its
    /// retries, Retry-After waits and circuit breaker).
    static func unlimited(_ catalog: EndpointCatalog) -> EndpointCatalog {
        catalog.withPoliteness(requestsPerSecond: 1_000_000)
    }

    static func stats(_ snapshot: CrawlStats.Snapshot) -> TaskStats {
        TaskStats(
            requests: Int64(snapshot.requests), retries: Int64(snapshot.retries), status429: Int64(snapshot.status429),
            status403: Int64(snapshot.status403), status5xx: Int64(snapshot.status5xx), bytes: Int64(snapshot.bytes))
    }

    /// Writes one file per (table, partition) on the I/O queue and returns the manifest entries (paths relative to
    /// the data root). On any failure nothing this call wrote remains.
    func writeTables(_ records: RecordBatch, unit: GrantedUnit) async throws -> [OutputFile] {
        let groups = CrawlRows.rows(of: records).sorted {
            ($0.key.table.rawValue, $0.key.platform.rawValue, $0.key.crawlDate) < ($1.key.table.rawValue, $1.key.platform.rawValue, $1.key.crawlDate)
        }
        guard !groups.isEmpty else { return [] }
        let root = dataRoot
        let unitID = unit.unit.rawValue
        let epoch = Int(unit.token.epoch)
        let result: Result<[OutputFile], CrawlClusterError> = await withCheckedContinuation { continuation in
            ioQueue.async {
                var written: [OutputFile] = []
                do {
                    for (key, rows) in groups {
                        written.append(try Self.writeFile(root: root, key: key, rows: rows, unitID: unitID, epoch: epoch))
                    }
                    continuation.resume(returning: .success(written))
                } catch {
                    for file in written { unlink(root.path + "/" + file.path) }
                    continuation.resume(returning: .failure(error as? CrawlClusterError ?? CrawlClusterError(.writeFailed, "\(error)")))
                }
            }
        }
        return try result.get()
    }

    private static func writeFile(
        root: DataRoot, key: TablePartitionKey, rows: [[ParquetValue]], unitID: String, epoch: Int
    ) throws(CrawlClusterError) -> OutputFile {
        let dataset = root.dataset(key.table)
        let partition: HivePartition
        let summary: ParquetWriteSummary
        do {
            partition = try HivePartition.daily(
                year: key.crawlDate.year, month: key.crawlDate.month, day: key.crawlDate.day, platform: key.platform.rawValue)
            let writer = try dataset.writer(partition: partition, unitId: unitID, attempt: epoch, schema: key.table.schema)
            do {
                for row in rows { try writer.append(row: row) }
                summary = try writer.close()
            } catch {
                writer.abort()
                throw error
            }
        } catch {
            throw CrawlClusterError(.writeFailed, "table \(key.table) for unit \(unitID): \(error)")
        }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: summary.path))
        } catch {
            throw CrawlClusterError(.writeFailed, "reading back \(summary.path) for its checksum: \(error)")
        }
        let digest = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        let relative = String(summary.path.dropFirst(root.path.count + 1))
        return OutputFile(path: relative, table: key.table.rawValue, rows: Int64(summary.rows), bytes: Int64(bytes.count), sha256: digest)
    }

    private func remove(_ files: [OutputFile]) async {
        let root = dataRoot.path
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            ioQueue.async {
                for file in files { unlink(root + "/" + file.path) }
                continuation.resume()
            }
        }
    }
}
