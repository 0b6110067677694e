import ArgumentParser
import CrawlReduce
import PQKit
import Warehouse

/// `webtoon models build|test`.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Build the site and dashboard models, or run their data tests.",
        subcommands: [Build.self, Test.self])

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build every model and swap it in if all data tests pass (failures name the offending rows).")
        @OptionGroup var options: WarehouseOptions
        func run() async throws {
            try await ReducePipeline.buildModels(
                options: options, logger: ClusterSupport.logger("webtoon.models", level: options.logLevel))
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the data tests on the current models.")
        @OptionGroup var options: WarehouseOptions
        func run() async throws {
            let logger = ClusterSupport.logger("webtoon.models", level: options.logLevel)
            let connection = try await options.connect()
            let results: [DataTestResult]
            do {
                results = try await ModelBuilder(schemas: options.schemas, logger: logger).test(on: connection)
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
            for result in results { print(result.description) }
            if results.contains(where: { !$0.passed }) { throw ExitCode(1) }
        }
    }
}
