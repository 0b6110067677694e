import ArgumentParser

/// The single executable: every role of the cluster is a subcommand.
@main
struct Webtoon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webtoon",
        abstract: "Crawl Naver Webtoon and Kakao Webtoon into analysis-ready PostgreSQL tables.",
        discussion: """
            Roles run as separate processes: a coordinator plans runs and leases work units over nng, \
            stateless workers fetch and write Parquet, a reducer merges and loads PostgreSQL, and a \
            simulator serves both platforms' APIs on loopback for tests and demos.
            """,
        version: WebtoonVersion.string,
        subcommands: [
            SimulateCommand.self, CrawlCommand.self, CoordinatorCommand.self, WorkerCommand.self, UnitsCommand.self,
            RunCommand.self, StatusCommand.self, ReduceCommand.self, LoadCommand.self, ModelsCommand.self,
        ]
    )
}

enum WebtoonVersion {
    static let string = "0.1.0"
}
