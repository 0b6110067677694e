/// How big the synthetic catalog is.
public enum SimulatorScale: String, Sendable, CaseIterable, Codable {
    /// About 30 + 20 titles per platform and at most about 60 episodes per title: a full crawl is a few thousand
    /// requests.
    case small
    /// About a tenth of the real catalogs, with real-sized episode lists: for benchmarks.
    case medium
    /// About the real sizes (Naver 800 weekly + 3,100 finished, Kakao 1,000 weekly + 2,050 completed).
    case full

    struct Sizes {
        let naverWeekly: Int, naverFinished: Int, kakaoWeekly: Int, kakaoCompleted: Int
        /// Parameters of the log-normal episode count, clamped to `1...maxEpisodes`.
        let episodeLogMean: Double, episodeLogSigma: Double, maxEpisodes: Int
    }

    var sizes: Sizes {
        switch self {
        case .small:
            Sizes(naverWeekly: 30, naverFinished: 20, kakaoWeekly: 30, kakaoCompleted: 20,
                  episodeLogMean: 3.0, episodeLogSigma: 0.6, maxEpisodes: 60)
        case .medium:
            Sizes(naverWeekly: 80, naverFinished: 310, kakaoWeekly: 100, kakaoCompleted: 205,
                  episodeLogMean: 4.35, episodeLogSigma: 0.85, maxEpisodes: 1000)
        case .full:
            Sizes(naverWeekly: 800, naverFinished: 3100, kakaoWeekly: 1000, kakaoCompleted: 2050,
                  episodeLogMean: 4.35, episodeLogSigma: 0.85, maxEpisodes: 1000)
        }
    }
}

/// Fault injection. Rates are probabilities per platform request (0…1); `/__sim/*` is never faulted.
public struct SimulatorFaults: Sendable, Hashable, Codable {
    /// Fixed delay added to every platform response, in milliseconds.
    public var latencyMilliseconds: Int
    /// Uniform jitter of ± this many milliseconds around the latency.
    public var jitterMilliseconds: Int
    /// Answer 500, 502 or 503.
    public var serverErrorRate: Double
    /// Answer 429 with `Retry-After`.
    public var tooManyRequestsRate: Double
    /// Close the connection abruptly (RST) instead of answering.
    public var resetRate: Double
    /// Announce the full `Content-Length`, send half the body, close.
    public var truncateRate: Double
    /// Keep the status but send a body that is not valid JSON (half the body plus an HTML comment).
    public var malformedRate: Double
    /// Kakao burst limit: above this many Kakao requests per second answer 403 for `kakaoCooldownMilliseconds`.
    /// 0 disables it.
    public var kakao403AboveRequestsPerSecond: Int
    public var kakaoCooldownMilliseconds: Int
    /// The `Retry-After` value (seconds) sent with injected 429s.
    public var retryAfterSeconds: Int

    public init(
        latencyMilliseconds: Int = 0, jitterMilliseconds: Int = 0, serverErrorRate: Double = 0,
        tooManyRequestsRate: Double = 0, resetRate: Double = 0, truncateRate: Double = 0, malformedRate: Double = 0,
        kakao403AboveRequestsPerSecond: Int = 0, kakaoCooldownMilliseconds: Int = 2_000, retryAfterSeconds: Int = 1
    ) {
        self.latencyMilliseconds = latencyMilliseconds
        self.jitterMilliseconds = jitterMilliseconds
        self.serverErrorRate = serverErrorRate
        self.tooManyRequestsRate = tooManyRequestsRate
        self.resetRate = resetRate
        self.truncateRate = truncateRate
        self.malformedRate = malformedRate
        self.kakao403AboveRequestsPerSecond = kakao403AboveRequestsPerSecond
        self.kakaoCooldownMilliseconds = kakaoCooldownMilliseconds
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// No latency and no faults.
    public static let none = SimulatorFaults()

    /// Checks that rates are probabilities and durations are not negative.
    public func validate() throws(SimulatorError) {
        let rates = [
            ("fault-5xx", serverErrorRate), ("fault-429", tooManyRequestsRate), ("fault-reset", resetRate),
            ("fault-truncate", truncateRate), ("fault-malformed", malformedRate),
        ]
        for (name, rate) in rates where !(0...1).contains(rate) {
            throw SimulatorError(code: .invalidConfiguration, detail: "\(name) must be within 0...1, got \(rate)")
        }
        if rates.map(\.1).reduce(0, +) > 1 {
            throw SimulatorError(code: .invalidConfiguration, detail: "the fault rates add up to more than 1")
        }
        let durations = [
            ("latency-ms", latencyMilliseconds), ("jitter-ms", jitterMilliseconds),
            ("kakao-403-above-rps", kakao403AboveRequestsPerSecond), ("kakao-cooldown-ms", kakaoCooldownMilliseconds),
            ("retry-after", retryAfterSeconds),
        ]
        for (name, value) in durations where value < 0 {
            throw SimulatorError(code: .invalidConfiguration, detail: "\(name) must not be negative, got \(value)")
        }
    }
}

/// Everything that determines what the simulator serves: the same configuration always serves the same bytes.
public struct SimulatorConfiguration: Sendable, Hashable {
    public var seed: UInt64
    public var scale: SimulatorScale
    /// The KST day the simulator represents, `YYYY-MM-DD`.
    public var date: String
    public var faults: SimulatorFaults

    public init(seed: UInt64 = 42, scale: SimulatorScale = .small, date: String = "2026-11-25",
                faults: SimulatorFaults = .none) {
        self.seed = seed
        self.scale = scale
        self.date = date
        self.faults = faults
    }

    func validatedDay() throws(SimulatorError) -> CalendarDay {
        guard let day = CalendarDay(iso: date), (1990...2200).contains(day.civil.year) else {
            throw SimulatorError(
                code: .invalidConfiguration, detail: "date must be YYYY-MM-DD (1990…2200), got '\(date)'")
        }
        return day
    }
}

/// A simulator failure: bad configuration, or the server could not bind.
public struct SimulatorError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case invalidConfiguration, bindFailed, exportFailed }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A configuration value is out of range or malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The listening socket could not be opened.
        public static let bindFailed = Code(.bindFailed)
        /// The ground truth could not be written.
        public static let exportFailed = Code(.exportFailed)
        public var description: String {
            switch base {
            case .invalidConfiguration: "invalid configuration"
            case .bindFailed: "bind failed"
            case .exportFailed: "export failed"
            }
        }
    }

    public let code: Code
    public let detail: String

    public init(code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "simulator: \(code): \(detail)" }
}

extension SimulatorConfiguration {
    /// `date` plus `days`, as `YYYY-MM-DD` (for a `--day` offset on the command line).
    public static func shift(date: String, byDays days: Int) throws(SimulatorError) -> String {
        guard let day = CalendarDay(iso: date) else {
            throw SimulatorError(code: .invalidConfiguration, detail: "date must be YYYY-MM-DD, got '\(date)'")
        }
        return (day + days).iso
    }
}
