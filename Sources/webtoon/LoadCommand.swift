import ArgumentParser

/// `webtoon load`: a reduced run's processed slices → the PostgreSQL warehouse.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Migrate the warehouse and load every processed (day, platform) slice of a reduced run.")

    @Option(help: "Run id.")
    var run: String

    @Option(name: .customLong("data-root"), help: "Data root: file:///absolute/path or a local folder.")
    var dataRoot: String = "webtoon-data"

    @OptionGroup var options: WarehouseOptions

    func run() async throws {
        let logger = ClusterSupport.logger("webtoon.load", level: options.logLevel)
        _ = try await ReducePipeline.load(run: run, dataRoot: dataRoot, options: options, logger: logger)
    }
}
