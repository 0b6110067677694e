import ArgumentParser
import CurlKit
import Logging
import WebtoonCore
import WebtoonCrawler

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `webtoon crawl`: a whole crawl in one process (no cluster), for the simulator, demos and benchmarks.
struct CrawlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crawl",
        abstract: "Crawl Naver and/or Kakao Webtoon in one process, keeping raw responses.",
        discussion: """
            Runs every task of a daily or full crawl with the built-in endpoint catalogs (or those in \
            --catalog-dir), writes raw responses under OUT/raw/{platform}/{kind}/YYYY/MM/DD/ and prints a \
            summary. --base-url points every host of both platforms at one URL (the simulator or a proxy). \
            Login cookies for age-restricted content come only from WEBTOON_NAVER_COOKIE / WEBTOON_KAKAO_COOKIE.
            """
    )

    enum PlatformChoice: String, ExpressibleByArgument, CaseIterable {
        case naver, kakao, all
        var platforms: [Platform] {
            switch self {
            case .naver: [.naver]
            case .kakao: [.kakao]
            case .all: [.naver, .kakao]
            }
        }
    }

    @Option(help: "naver, kakao or all.")
    var platform: PlatformChoice = .all

    @Option(help: "daily (today's weekday titles, 20 newest episodes) or full (every title and episode).")
    var mode: String = "daily"

    @Option(name: .customLong("base-url"), help: "Replace every host of every platform with this URL (simulator).")
    var baseURL: String?

    @Option(help: "Output folder (raw responses go to OUT/raw/…).")
    var out: String = "crawl-output"

    @Option(help: "KST crawl date YYYY-MM-DD (default: today in KST).")
    var date: String?

    @Option(help: "Tasks run at once.")
    var concurrency: Int = 8

    @Option(name: .customLong("raw-layout"), help: "segments (zstd JSON Lines per task) or perResponse (original paths).")
    var rawLayout: String = "segments"

    @Option(name: .customLong("catalog-dir"), help: "Folder with naver.json and kakao.json replacing the built-in catalogs.")
    var catalogDirectory: String?

    @Option(name: .customLong("requests-per-second"), help: "Override every platform's request rate.")
    var requestsPerSecond: Double?

    @Option(name: .customLong("max-in-flight"), help: "Override every platform's in-flight cap.")
    var maxInFlight: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    func validate() throws {
        guard CrawlMode(rawValue: mode) != nil else { throw ValidationError("--mode must be daily or full") }
        if let date, CrawlDate(date) == nil { throw ValidationError("--date must be a YYYY-MM-DD day") }
        guard (1...4096).contains(concurrency) else { throw ValidationError("--concurrency must be in 1...4096") }
        guard RawStorage.Layout(rawValue: rawLayout) != nil else {
            throw ValidationError("--raw-layout must be segments or perResponse")
        }
        if let requestsPerSecond, !(requestsPerSecond > 0) { throw ValidationError("--requests-per-second must be positive") }
        if let maxInFlight, !(1...1000).contains(maxInFlight) { throw ValidationError("--max-in-flight must be in 1...1000") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        var logger = Logger(label: "webtoon.crawl")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        let crawlMode = CrawlMode(rawValue: mode) ?? .daily
        let crawlDate = date.flatMap { CrawlDate($0) } ?? CrawlDate.todayInKST()
        var catalogs: [EndpointCatalog] = []
        for platform in self.platform.platforms {
            var catalog = try loadCatalog(platform)
            if let baseURL { catalog = try catalog.overridingBaseURL(baseURL) }
            catalog = catalog.withPoliteness(requestsPerSecond: requestsPerSecond, maxConcurrency: maxInFlight)
            catalogs.append(catalog)
        }
        var configuration = HTTPClient.Configuration()
        let inFlight = catalogs.map(\.politeness.maxConcurrency).reduce(0, +)
        configuration.maxConnectionsPerHost = max(1, inFlight)
        configuration.maxTotalConnections = max(1, inFlight)
        let client = try HTTPClient(configuration: configuration, logger: logger)
        let stats = CrawlStats()
        let fetcher = EndpointHTTPFetcher(
            catalogs: catalogs, http: client, stats: stats,
            cookies: EndpointHTTPFetcher.cookiesFromEnvironment(catalogs, environment: Self.environment()),
            logger: logger)
        let runner = TaskRunner(catalogs: catalogs, fetcher: fetcher)
        let storage = RawStorage(root: out, layout: RawStorage.Layout(rawValue: rawLayout) ?? .segments)
        let crawler = LocalCrawler(runner: runner, storage: storage, concurrency: concurrency, logger: logger)
        let roots = CrawlPlan.rootTasks(platforms: self.platform.platforms, mode: crawlMode, crawlDate: crawlDate)
        let started = ContinuousClock.now
        let summary = await crawler.run(roots)
        let elapsed = ContinuousClock.now - started
        await client.shutdown()

        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let r = summary.records
        print("crawl \(crawlMode) \(crawlDate) \(self.platform.platforms.map(\.rawValue).joined(separator: "+"))")
        print(
            "tasks: \(summary.tasksCompleted) completed, \(summary.failures.count) failed, \(summary.taskRuns) runs; "
                + "raw files: \(summary.rawFiles) under \(storage.root)/raw")
        print(
            "records: titles=\(r.titles.count) title_details=\(r.titleDetails.count) genres=\(r.genres.count) "
                + "episodes=\(r.episodes.count) episode_stats=\(r.episodeStats.count) comments=\(r.comments.count)")
        for catalog in catalogs {
            print("\(catalog.platform): \(stats.snapshot(catalog.platform))")
        }
        let total = stats.total()
        print(
            "elapsed: \(Self.fixed(seconds, 2)) s, \(Self.fixed(Double(total.requests) / max(seconds, 1e-9), 1)) requests/s")
        for failure in summary.failures.prefix(20) { print("FAILED \(failure)") }
        for failure in summary.rawFailures.prefix(20) { print("RAW WRITE FAILED \(failure)") }
        if !summary.failures.isEmpty || !summary.rawFailures.isEmpty { throw ExitCode(1) }
    }

    func loadCatalog(_ platform: Platform) throws -> EndpointCatalog {
        try Self.loadCatalog(platform, directory: catalogDirectory)
    }

    /// `<directory>/<platform>.json`, or the built-in catalog without a directory.
    static func loadCatalog(_ platform: Platform, directory: String?) throws -> EndpointCatalog {
        guard let catalogDirectory = directory else { return EndpointCatalog.builtIn(platform) }
        let path = "\(catalogDirectory)/\(platform.rawValue).json"
        guard let data = try? Data(contentsOf: URL(filePath: path)) else {
            throw ValidationError("cannot read catalog \(path)")
        }
        return try EndpointCatalog.load(json: [UInt8](data), source: path, expecting: platform)
    }

    /// `value` with `digits` decimals (no Foundation formatting).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((value * scale).rounded())
        let whole = String(scaled / Int64(scale))
        guard digits > 0 else { return whole }
        let fraction = String(abs(scaled % Int64(scale)))
        return whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        for name in ["WEBTOON_NAVER_COOKIE", "WEBTOON_KAKAO_COOKIE"] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }
}
