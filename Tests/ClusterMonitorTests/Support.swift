import ClusterCore
import Foundation
import Testing

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds statuses the way a peer would send them: as protocol JSON, decoded by ClusterCore's own Codable.
enum StatusFixture {
    static let now: Int64 = 1_764_000_000_000

    static func counts(_ rng: inout SplitMix64) -> [String: Int] {
        ["pending": Int.random(in: 0...500, using: &rng), "leased": Int.random(in: 0...50, using: &rng),
         "done": Int.random(in: 0...5000, using: &rng), "dead": Int.random(in: 0...5, using: &rng)]
    }

    /// A random but valid status: several platforms and kinds, runs (some stalled, some finished), workers
    /// (some silent), budgets (some paused), rejections, and a label value that needs escaping is impossible
    /// by construction (names are validated), so escaping is tested separately.
    static func random(seed: UInt64) throws -> ClusterStatus {
        var rng = SplitMix64(seed: seed)
        let platforms = ["kakao", "naver"]
        let kinds = ["list", "title", "episodes"]
        var queues: [[String: Any]] = []
        for platform in platforms {
            for kind in kinds where Bool.random(using: &rng) || kind == "list" {
                queues.append(["platform": platform, "kind": kind, "counts": counts(&rng)])
            }
        }
        var runs: [[String: Any]] = []
        for index in 0..<Int.random(in: 1...3, using: &rng) {
            let finished = index > 0 && Bool.random(using: &rng)
            var run: [String: Any] = [
                "id": "2026-11-2\(index).daily.kakao+naver",
                "spec": ["platforms": platforms, "mode": "daily", "crawlDate": "2026-11-2\(index)"],
                "state": finished ? "finished" : "active", "createdAt": now - 3_600_000,
                "counts": counts(&rng), "depths": queues,
                "totals": [
                    "stats": ["requests": Int.random(in: 0...100_000, using: &rng), "retries": Int.random(in: 0...100, using: &rng),
                              "status429": Int.random(in: 0...50, using: &rng), "status403": Int.random(in: 0...10, using: &rng),
                              "status5xx": Int.random(in: 0...30, using: &rng), "bytes": Int.random(in: 0...1 << 40, using: &rng)],
                    "rowsByTable": ["episodes": Int.random(in: 0...1_000_000, using: &rng), "titles": Int.random(in: 0...3000, using: &rng)],
                    "files": Int.random(in: 0...900, using: &rng), "outputBytes": Int.random(in: 0...1 << 33, using: &rng),
                    "leaseExpiries": Int.random(in: 0...9, using: &rng), "failures": Int.random(in: 0...9, using: &rng),
                    "staleReports": Int.random(in: 0...9, using: &rng), "retriedDead": 0,
                ],
            ]
            if finished { run["finishedAt"] = now - 1000 }
            if !finished, Bool.random(using: &rng) { run["etaMillis"] = Int.random(in: 0...86_400_000, using: &rng) }
            if !finished, Bool.random(using: &rng) {
                run["stall"] = ["reason": "noWorkerForPlatform", "idleMillis": 600_000 + index, "detail": "no live worker serves kakao"]
            }
            runs.append(run)
        }
        var workers: [[String: Any]] = []
        for index in 0..<Int.random(in: 0...4, using: &rng) {
            let ago = Int.random(in: 0...200_000, using: &rng)
            workers.append([
                "id": "w\(index)", "live": ago < 90_000, "lastSeen": now - Int64(ago), "lastSeenAgoMillis": ago,
                "capacity": 16, "platforms": index % 2 == 0 ? ["naver"] : ["kakao", "naver"], "softwareVersion": "0.1.0",
                "leased": Int.random(in: 0...16, using: &rng), "completed": Int.random(in: 0...10_000, using: &rng),
                "failed": Int.random(in: 0...20, using: &rng), "completionsPerMinute": Double(Int.random(in: 0...2000, using: &rng)) / 8,
                "draining": false,
            ])
        }
        let budgets: [[String: Any]] = platforms.map { platform in
            var budget: [String: Any] = ["platform": platform, "clusterRate": Double(Int.random(in: 1...80, using: &rng)) / 4,
                                         "perWorkerRate": Double(Int.random(in: 1...40, using: &rng)) / 8, "liveWorkers": 2,
                                         "decreases": Int.random(in: 0...5, using: &rng)]
            if Bool.random(using: &rng) { budget["pausedUntil"] = now + Int64(Int.random(in: 1...30_000, using: &rng)) }
            return budget
        }
        let oldest: [[String: Any]] = platforms.map { platform in
            let age = Int.random(in: 0...600_000, using: &rng)
            return ["platform": platform, "oldestPendingSince": now - Int64(age), "ageMillis": age]
        }
        var rejected: [String: Int] = [:]
        if Bool.random(using: &rng) { rejected["unauthenticated"] = Int.random(in: 1...9, using: &rng) }
        if Bool.random(using: &rng) { rejected["clockSkew"] = Int.random(in: 1...9, using: &rng) }
        let document: [String: Any] = [
            "serverTime": now, "draining": Bool.random(using: &rng), "inFlight": Int.random(in: 0...100, using: &rng),
            "queues": queues, "oldestPending": oldest, "runs": runs, "workers": workers, "budgets": budgets, "rejected": rejected,
        ]
        return try JSONDecoder().decode(ClusterStatus.self, from: JSONSerialization.data(withJSONObject: document))
    }
}

/// A strict reader of the Prometheus text format (0.0.4), written from the format's rules so the test does not
/// trust the writer: every sample must belong to a family declared by `# TYPE` (counters as `<name>_total`), label
/// values may only use the three escapes, no series may repeat, and values must parse.
struct PrometheusText {
    struct Series: Hashable {
        let name: String
        let labels: [String: String]
    }

    var types: [String: String] = [:]
    var values: [Series: Double] = [:]

    init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw ParseError("the exposition must end with a newline") }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let where_ = "line \(number + 1): \(line)"
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge"].contains(parts[1]), Self.isMetricName(parts[0]) else { throw ParseError("bad TYPE, \(where_)") }
                guard types[String(parts[0])] == nil else { throw ParseError("family declared twice, \(where_)") }
                types[String(parts[0])] = String(parts[1])
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            guard !line.hasPrefix("#"), !line.isEmpty else { throw ParseError("unexpected line, \(where_)") }
            var rest = Substring(line)
            let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            guard Self.isMetricName(Substring(name)) else { throw ParseError("bad metric name, \(where_)") }
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let key = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                    guard !key.isEmpty else { throw ParseError("bad label name, \(where_)") }
                    rest = rest.dropFirst(key.count)
                    guard rest.hasPrefix("=\"") else { throw ParseError("label without =\", \(where_)") }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while true {
                        guard let character = rest.first else { throw ParseError("unterminated label value, \(where_)") }
                        rest = rest.dropFirst()
                        if character == "\"" { break }
                        if character == "\\" {
                            switch rest.first {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw ParseError("bad escape, \(where_)")
                            }
                            rest = rest.dropFirst()
                        } else {
                            value.append(character)
                        }
                    }
                    guard labels[key] == nil else { throw ParseError("repeated label, \(where_)") }
                    labels[key] = value
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " ", let value = Self.number(rest.dropFirst()) else { throw ParseError("bad value, \(where_)") }
            let family = types[name] != nil ? name : (name.hasSuffix("_total") ? String(name.dropLast(6)) : name)
            guard let type = types[family] else { throw ParseError("sample before its TYPE, \(where_)") }
            guard (type == "counter") == (name != family) else { throw ParseError("counter samples end in _total and only they do, \(where_)") }
            if type == "counter", value < 0 { throw ParseError("negative counter, \(where_)") }
            let series = Series(name: name, labels: labels)
            guard values[series] == nil else { throw ParseError("series repeated, \(where_)") }
            values[series] = value
        }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { values[Series(name: name, labels: labels)] }

    func series(named name: String) -> [Series] { values.keys.filter { $0.name == name } }

    static func isMetricName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == ":" }
    }

    static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
