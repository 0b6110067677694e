import CurlKit
import Foundation
import Logging
import Testing
import WebtoonCore
import WebtoonSimulator
import WebtoonTestSupport
@testable import WebtoonCrawler

struct CrawlRun {
    var summary: CrawlSummary
    var stats: CrawlStats
    var truth: Truth
    var crawled: Truth
    var simulatorRequests: Int
    var root: String
}

/// Starts a simulator, crawls it with CurlKit's HTTPClient through the whole runtime, and returns both sides.
func crawlSimulator(
    mode: CrawlMode, faults: SimulatorFaults = .none, date: String = "2026-11-25",
    tune: (EndpointCatalog) -> EndpointCatalog = { $0 }, concurrency: Int = 12, taskAttempts: Int = 3
) async throws -> CrawlRun {
    let simulator = try await PlatformSimulator.start(
        configuration: SimulatorConfiguration(seed: 42, scale: .small, date: date, faults: faults))
    let retry = EndpointCatalog.RetryPolicy(
        maxAttempts: 8, baseDelayMilliseconds: 2, maxDelayMilliseconds: 40, maxRetryAfterMilliseconds: 25,
        timeoutMilliseconds: 10_000)
    let catalogs = try Platform.allCases.map { platform in
        tune(
            try EndpointCatalog.builtIn(platform).overridingBaseURL(simulator.baseURL)
                .withPoliteness(requestsPerSecond: 5000, burst: 50, maxConcurrency: 8).withRetry(retry))
    }
    var configuration = HTTPClient.Configuration()
    configuration.maxConnectionsPerHost = 16
    configuration.maxTotalConnections = 16
    let client = try HTTPClient(configuration: configuration)
    let stats = CrawlStats()
    let fetcher = EndpointHTTPFetcher(catalogs: catalogs, http: client, stats: stats, logger: quietLogger)
    let root = try temporaryFolder("e2e")
    let crawler = LocalCrawler(
        runner: TaskRunner(catalogs: catalogs, fetcher: fetcher), storage: RawStorage(root: root),
        concurrency: concurrency, maxTaskAttempts: taskAttempts, logger: quietLogger)
    let crawlDate = try #require(CrawlDate(date))
    let summary = await crawler.run(CrawlPlan.rootTasks(platforms: Platform.allCases, mode: mode, crawlDate: crawlDate))
    await client.shutdown()
    let truth = try Truth(simulator.groundTruth(mode: mode == .full ? .full : .daily))
    let simulatorRequests = simulator.stats().platformRequests
    await simulator.shutdown()
    let crawled = try groundTruthShape(summary.records, crawlDate: crawlDate, mode: mode)
    return CrawlRun(summary: summary, stats: stats, truth: truth, crawled: crawled, simulatorRequests: simulatorRequests, root: root)
}

@Suite(.serialized) struct EndToEndTests {
    @Test func fullCrawlEqualsGroundTruthAndKeepsEveryResponse() async throws {
        let run = try await crawlSimulator(mode: .full)
        #expect(run.summary.failures.isEmpty, "\(run.summary.failures.prefix(3))")
        #expect(run.summary.rawFailures.isEmpty)
        expectEqual(run.crawled, run.truth)
        #expect(run.truth.titles.contains { $0.restricted } && run.truth.titles.contains { $0.dailyPass })
        #expect(run.truth.titles.contains { $0.completed && $0.platform == "kakao" })
        #expect(run.truth.episodes.contains { $0.comments == 0 })
        // No faults: every request the simulator saw is one line of one raw segment, nothing retried.
        let total = run.stats.total()
        #expect(total.retries == 0 && total.requests == run.simulatorRequests)
        var lines = 0
        for file in allFiles(run.root) {
            #expect(file.hasPrefix("raw/naver/") || file.hasPrefix("raw/kakao/"))
            #expect(file.contains("/2026/11/25/") && file.hasSuffix(".jsonl.zst"))
            lines += try segmentLines(run.root + "/" + file).count
        }
        #expect(lines == run.simulatorRequests)
    }

    @Test func fullCrawlUnderFaultsStillEqualsGroundTruth() async throws {
        let faults = SimulatorFaults(
            serverErrorRate: 0.10, tooManyRequestsRate: 0.03, resetRate: 0.03, truncateRate: 0.02, retryAfterSeconds: 1)
        let run = try await crawlSimulator(mode: .full, faults: faults)
        #expect(run.summary.failures.isEmpty, "\(run.summary.failures.prefix(3))")
        expectEqual(run.crawled, run.truth)
        let total = run.stats.total()
        #expect(total.status5xx > 0 && total.status429 > 0 && total.transportErrors > 0)
        #expect(total.retries == total.status5xx + total.status429 + total.transportErrors)
        #expect(total.giveUps == 0)
    }

    @Test func malformedAndTruncatedBodiesFailTheTaskWhichIsRetriedAndKept() async throws {
        // A 200 with half a body fails its task with a typed error (never a crash); the failed attempt's raw
        // responses are kept as `.failed` segments, and the retried task completes the crawl exactly.
        let faults = SimulatorFaults(truncateRate: 0.01, malformedRate: 0.003)
        let run = try await crawlSimulator(mode: .full, faults: faults, tune: { catalog in
            var small = catalog
            small.crawl.episodeBatchSize = 10
            return small
        }, taskAttempts: 6)
        #expect(run.summary.failures.isEmpty, "\(run.summary.failures.prefix(3))")
        expectEqual(run.crawled, run.truth)
        #expect(run.summary.taskRuns > run.summary.tasksCompleted)
        let failed = allFiles(run.root).filter { $0.hasSuffix(".failed.jsonl.zst") }
        #expect(!failed.isEmpty)
        var keptBadBody = false
        for file in failed {
            for line in try segmentLines(run.root + "/" + file) where (line["body"] as? String)?.contains("<!-- upstream error -->") == true {
                keptBadBody = true
            }
        }
        #expect(keptBadBody)
    }

    @Test(arguments: ["2026-11-25", "2026-11-29"])
    func dailyCrawlEqualsDailyGroundTruth(date: String) async throws {
        let run = try await crawlSimulator(mode: .daily, date: date)
        #expect(run.summary.failures.isEmpty, "\(run.summary.failures.prefix(3))")
        expectEqual(run.crawled, run.truth)
        #expect(!run.truth.titles.isEmpty)
        let weekday = try #require(CrawlDate(date)).weekday
        #expect(run.truth.titles.allSatisfy { $0.weekdays.contains(weekday) })
    }

    @Test func kakaoBurstForbiddenOpensTheBreakerAndTheCrawlCompletes() async throws {
        // The simulator bans Kakao for 200 ms above 10 requests/s; we deliberately go much faster, so 403s come, the
        // breaker pauses Kakao, a probe reopens it, and nothing is lost. (The ban threshold is far below what even a
        // heavily loaded machine sends: at 50 requests/s the test once saw no 403 at load average 11.)
        let faults = SimulatorFaults(kakao403AboveRequestsPerSecond: 10, kakaoCooldownMilliseconds: 200)
        let run = try await crawlSimulator(mode: .daily, faults: faults) { catalog in
            guard catalog.platform == .kakao else { return catalog }
            var retry = catalog.retry
            retry.maxAttempts = 12
            return catalog.withPoliteness(requestsPerSecond: 300, burst: 10)
                .withRetry(retry, circuitBreaker: .init(tripStatuses: [403], failureThreshold: 3, coolDownMilliseconds: 250))
        }
        #expect(run.summary.failures.isEmpty, "\(run.summary.failures.prefix(3))")
        expectEqual(run.crawled, run.truth)
        let kakao = run.stats.snapshot(.kakao)
        #expect(kakao.status403 > 0 && kakao.breakerOpenings > 0)
        #expect(run.stats.snapshot(.naver).status403 == 0)
    }
}
