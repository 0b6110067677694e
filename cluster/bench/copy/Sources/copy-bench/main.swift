import Foundation
import PQKit

/// Rows shaped like the crawler's episodes table.
struct Episode {
    var platform: String
    var titleID: Int64
    var episodeID: Int64
    var number: Int32
    var title: String
    var likes: Int64
    var comments: Int64
    var rating: Double
    var published: PGDate
    var snapshot: PGDate
}

struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let environment = ProcessInfo.processInfo.environment
guard let url = environment["DATABASE_URL"] else {
    FileHandle.standardError.write(Data("copy-bench: set DATABASE_URL\n".utf8))
    exit(2)
}
let rowCount = Int(environment["ROWS"] ?? "") ?? 1_000_000
let runs = Int(environment["RUNS"] ?? "") ?? 5
let csvPath = environment["CSV"] ?? "/tmp/pqkit-copy-bench.csv"

let words = ["나 혼자만 레벨업", "화산귀환", "전지적 독자 시점", "외모지상주의", "여신강림", "신의 탑", "Omniscient", "Solo, \"Leveling\""]
var generator = SplitMix64(state: 2024)
let snapshot = PGDate(year: 2026, month: 11, day: 25)!
let episodes: [Episode] = (0..<rowCount).map { index in
    let titleID = Int64(100_000 + index / 200)
    let number = Int32(index % 200 + 1)
    return Episode(
        platform: index % 3 == 0 ? "kakao" : "naver", titleID: titleID, episodeID: Int64(index) * 7 + 11,
        number: number, title: "\(words[Int(generator.next() % UInt64(words.count))]) \(number)화",
        likes: Int64(generator.next() % 2_000_000), comments: Int64(generator.next() % 50_000),
        rating: Double(generator.next() % 1001) / 100,
        published: PGDate(daysSinceUnixEpoch: 15_000 + Int(generator.next() % 5_000))!, snapshot: snapshot)
}

// The same rows as CSV for psql, written once (not timed).
var csv: [UInt8] = []
csv.reserveCapacity(rowCount * 90)
for e in episodes {
    let title = "\"" + e.title.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    let fields: [String] = [
        e.platform, "\(e.titleID)", "\(e.episodeID)", "\(e.number)", title, "\(e.likes)", "\(e.comments)",
        "\(e.rating)", "\(e.published)", "\(e.snapshot)",
    ]
    csv += Array(fields.joined(separator: ",").utf8)
    csv.append(UInt8(ascii: "\n"))
}
try Data(csv).write(to: URL(fileURLWithPath: csvPath))

let connection = try await PGConnection.connect(url)
let schema = "pqkit_bench_copy"
let quotedSchema = try await connection.quoteIdentifier(schema)
try await connection.execute("DROP SCHEMA IF EXISTS " + quotedSchema + " CASCADE")
try await connection.execute("CREATE SCHEMA " + quotedSchema)
let table = quotedSchema + ".episodes"
try await connection.execute(
    "CREATE TABLE " + table + " (platform text, title_id int8, episode_id int8, no int4, title text, likes int8,"
        + " comments int8, rating float8, published date, snapshot date)")
let columns = ["platform", "title_id", "episode_id", "no", "title", "likes", "comments", "rating", "published", "snapshot"]

func ours(_ format: PGCopyFormat) async throws -> Int {
    try await connection.copyIn(table: "episodes", schema: schema, columns: columns, format: format) { writer in
        for e in episodes {
            try await writer.writeRow(fieldCount: 10) { row in
                row.text(e.platform)
                row.int8(e.titleID)
                row.int8(e.episodeID)
                row.int4(e.number)
                row.text(e.title)
                row.int8(e.likes)
                row.int8(e.comments)
                row.float8(e.rating)
                row.date(e.published)
                row.date(e.snapshot)
            }
        }
    }
}

func psql() throws -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    process.arguments = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "\\copy \(schema).episodes FROM '\(csvPath)' csv"]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
    return rowCount
}

let methods = ["ours binary", "ours text", "psql \\copy csv"]
var seconds: [String: [Double]] = [:]
let clock = ContinuousClock()
for run in 1...runs {
    for method in methods {
        try await connection.execute("TRUNCATE " + table)
        let start = clock.now
        let copied =
            switch method {
            case "ours binary": try await ours(.binary)
            case "ours text": try await ours(.text)
            default: try psql()
            }
        let elapsed = clock.now - start
        let stored = try await connection.query("SELECT count(*) FROM " + table).rows.first?.value(0, as: Int.self)
        guard copied == rowCount, stored == rowCount else { fatalError("\(method): copied \(copied), stored \(String(describing: stored))") }
        let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        seconds[method, default: []].append(value)
        print("run \(run) \(method): \(String(format: "%.3f", value)) s")
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
let psqlMedian = median(seconds["psql \\copy csv"]!)
print("\n| method | median s | min s | max s | rows/s (median) | time vs psql |")
print("|---|---|---|---|---|---|")
for method in methods {
    let values = seconds[method]!
    let m = median(values)
    print(String(
        format: "| %@ | %.3f | %.3f | %.3f | %.0f | %.2fx |", method, m, values.min()!, values.max()!,
        Double(rowCount) / m, m / psqlMedian))
}
print("CSV: \(csvPath), \(csv.count) bytes, \(rowCount) rows, \(runs) runs")
try await connection.execute("DROP SCHEMA " + quotedSchema + " CASCADE")
await connection.close()
