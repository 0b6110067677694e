import ClusterCore
import Foundation
import WebtoonCore

/// Crawl tasks ⇄ cluster units. A unit's kind names the task case, its key is the task's stable key (so a child
/// reported twice is one unit), and its payload is the task as JSON.
public enum CrawlUnits {
    /// The unit kind of each task case (names valid on the wire: `[a-z0-9_-]{1,32}`).
    public static func kind(of task: CrawlTask) -> String {
        switch task {
        case .listTitles: "list"
        case .crawlTitle: "title"
        case .crawlEpisodes: "episodes"
        }
    }

    public static func seed(for task: CrawlTask) throws -> UnitSeed {
        let payload: Data
        do {
            payload = try JSONEncoder().encode(task)
        } catch {
            throw CrawlClusterError(.invalidPayload, "task \(task.key): cannot encode: \(error)")
        }
        return try UnitSeed(kind: kind(of: task), platform: task.platform.rawValue, key: task.key, payload: [UInt8](payload))
    }

    /// The task a seed carries; refuses a payload whose task disagrees with the seed's kind, platform or key.
    public static func task(of seed: UnitSeed) throws(CrawlClusterError) -> CrawlTask {
        let task: CrawlTask
        do {
            task = try JSONDecoder().decode(CrawlTask.self, from: Data(seed.payload))
        } catch {
            throw CrawlClusterError(.invalidPayload, "unit \(seed.kind) \(seed.key): payload is not a crawl task: \(error)")
        }
        guard kind(of: task) == seed.kind, task.platform.rawValue == seed.platform, task.key == seed.key else {
            throw CrawlClusterError(
                .invalidPayload,
                "unit \(seed.kind)/\(seed.platform) \(seed.key): payload holds \(kind(of: task))/\(task.platform) \(task.key)")
        }
        return task
    }
}

/// A run's root units from WebtoonCore's plan: list → title → episode-batch units, split by the run's batch size.
public enum CrawlPlanner {
    public static func roots(for spec: RunSpec) throws -> [UnitSeed] {
        var platforms: [Platform] = []
        for name in spec.platforms {
            guard let platform = Platform(rawValue: name) else {
                throw CrawlClusterError(.invalidRunSpec, "unknown platform \"\(name)\" (expected naver or kakao)")
            }
            platforms.append(platform)
        }
        guard let date = CrawlDate(spec.crawlDate) else {
            throw CrawlClusterError(.invalidRunSpec, "crawl date \"\(spec.crawlDate)\" is not YYYY-MM-DD")
        }
        let mode: CrawlMode = spec.mode == .full ? .full : .daily
        // The batch size goes into every root's payload (and from there into every title unit), resolved here when
        // the run leaves it to the catalogs, so workers never split by their own settings.
        return try platforms.flatMap { platform in
            CrawlPlan.rootTasks(
                platforms: [platform], mode: mode, crawlDate: date,
                episodeBatchSize: spec.episodeBatchSize ?? EndpointCatalog.builtIn(platform).crawl.episodeBatchSize)
        }.map(CrawlUnits.seed(for:))
    }
}
