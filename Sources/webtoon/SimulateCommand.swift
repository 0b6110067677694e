import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import WebtoonSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `webtoon simulate`: serve both platforms' APIs on loopback, or export the ground truth and exit.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve Naver and Kakao Webtoon APIs with a deterministic synthetic catalog on loopback.",
        discussion: """
            Every platform path answers on one port, with the real hosts' paths, parameters and JSON shapes: point \
            every base URL of a crawl at the printed URL. The catalog follows from --seed, --scale and --date; \
            GET /__sim/stats gives request counters, GET /__sim/ground-truth?mode=full|daily what a correct crawl \
            must find, GET /__sim/date?set=YYYY-MM-DD switches the day. Runs until SIGINT or SIGTERM.
            """
    )

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).")
    var port: Int = 8089

    @Option(help: "Interface to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Catalog seed: the same seed, scale and date always serve the same bytes.")
    var seed: UInt64 = 42

    @Option(help: "Catalog size: small (tests), medium (~10% of real, benchmarks) or full (real sizes).")
    var scale: SimulatorScale = .small

    @Option(help: "The KST day served, YYYY-MM-DD.")
    var date: String = "2026-11-25"

    @Option(help: "Days added to --date (e.g. 1 for the next daily crawl).")
    var day: Int = 0

    @Option(name: .customLong("latency-ms"), help: "Delay added to every platform response, in ms.")
    var latencyMilliseconds: Int = 0

    @Option(name: .customLong("jitter-ms"), help: "Uniform jitter of ± this many ms around the latency.")
    var jitterMilliseconds: Int = 0

    @Option(name: .customLong("fault-5xx"), help: "Rate (0…1) of 500/502/503 answers.")
    var fault5xx: Double = 0

    @Option(name: .customLong("fault-429"), help: "Rate (0…1) of 429 answers with Retry-After.")
    var fault429: Double = 0

    @Option(name: .customLong("fault-reset"), help: "Rate (0…1) of connections reset instead of answered.")
    var faultReset: Double = 0

    @Option(name: .customLong("fault-truncate"), help: "Rate (0…1) of bodies cut short of their Content-Length.")
    var faultTruncate: Double = 0

    @Option(name: .customLong("fault-malformed"), help: "Rate (0…1) of answers whose body is not valid JSON.")
    var faultMalformed: Double = 0

    @Option(name: .customLong("kakao-403-above-rps"),
            help: "Answer 403 to Kakao paths for --kakao-cooldown-ms once they exceed this many requests/s (0: off).")
    var kakao403AboveRps: Int = 0

    @Option(name: .customLong("kakao-cooldown-ms"), help: "How long the Kakao 403 burst ban lasts, in ms.")
    var kakaoCooldownMilliseconds: Int = 2_000

    @Option(name: .customLong("retry-after"), help: "Retry-After seconds sent with injected 429s.")
    var retryAfter: Int = 1

    @Option(name: .customLong("export-ground-truth"), help: "Write the ground truth JSON to this file and exit.")
    var exportGroundTruth: String?

    @Option(help: "Ground truth mode for --export-ground-truth: full or daily.")
    var mode: GroundTruthMode = .full

    func simulatorConfiguration() throws -> SimulatorConfiguration {
        let faults = SimulatorFaults(
            latencyMilliseconds: latencyMilliseconds, jitterMilliseconds: jitterMilliseconds,
            serverErrorRate: fault5xx, tooManyRequestsRate: fault429, resetRate: faultReset,
            truncateRate: faultTruncate, malformedRate: faultMalformed,
            kakao403AboveRequestsPerSecond: kakao403AboveRps, kakaoCooldownMilliseconds: kakaoCooldownMilliseconds,
            retryAfterSeconds: retryAfter)
        do {
            try faults.validate()
            let shifted = try SimulatorConfiguration.shift(date: date, byDays: day)
            return SimulatorConfiguration(seed: seed, scale: scale, date: shifted, faults: faults)
        } catch {
            throw ValidationError(error.detail)
        }
    }

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be within 0...65535") }
        _ = try simulatorConfiguration()
    }

    func run() async throws {
        let configuration = try simulatorConfiguration()
        if let path = exportGroundTruth {
            let catalog = try SimulatorCatalog(configuration: configuration)
            try writeFile(path, catalog.groundTruthJSON(mode: mode))
            print("wrote \(mode.rawValue) ground truth for \(configuration.date) to \(path)")
            return
        }
        var logger = Logger(label: "webtoon.simulate")
        logger.logLevel = .info
        let service = SimulatorService(configuration: configuration, host: host, port: port, logger: logger) { sim in
            let scale = configuration.scale.rawValue
            print("simulator ready at \(sim.baseURL) (seed \(configuration.seed), scale \(scale), date \(configuration.date))")
            fflush(nil)
        }
        let group = ServiceGroup(
            services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        guard let file = fopen(path, "wb") else {
            throw SimulatorError(code: .exportFailed, detail: "cannot open \(path) for writing (errno \(errno))")
        }
        defer { fclose(file) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else {
            throw SimulatorError(
                code: .exportFailed, detail: "short write to \(path): \(written) of \(bytes.count) bytes")
        }
    }
}

extension SimulatorScale: ExpressibleByArgument {}
extension GroundTruthMode: ExpressibleByArgument {}
