import Logging
import ParquetKit
import PQKit
import ReducerCore
import Warehouse

// Feeds a generated episode stream far larger than the sort budget through `ProcessedRowSorter`, checks the result
// (every key once, the latest fetch winning, key order) and prints one JSON line with the peak RSS (VmHWM), so a test
// can check that memory stays bounded by the budget whatever the input size. Kept in its own process because VmHWM of
// a test runner also counts every other test.
//
//   reducer-memcheck --unique M --copies D --budget BYTES --padding P [--spill DIR]
//   reducer-memcheck reduce --budget BYTES --out DIR --run ID [--spill DIR] [--workers N] FILE...   (benchmarks: episodes files)
//   reducer-memcheck load --database URL --rows N [--csv PATH] [--parquet DIR] [--keep]   (benchmarks: slice load)
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct Options {
    var unique = 1000
    var copies = 2
    var budget = 8 << 20
    var padding = 100
    var spill = ExternalSortConfiguration.defaultSpillDirectory
}

func fail(_ message: String) -> Never {
    let line = Array("reducer-memcheck: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func parse() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    while let name = arguments.popFirst() {
        guard let value = arguments.popFirst() else { fail("missing value for \(name)") }
        switch name {
        case "--unique": options.unique = Int(value) ?? 0
        case "--copies": options.copies = Int(value) ?? 0
        case "--budget": options.budget = Int(value) ?? 0
        case "--padding": options.padding = Int(value) ?? -1
        case "--spill": options.spill = value
        default: fail("unknown option \(name)")
        }
    }
    guard options.unique > 0, options.copies > 0, options.budget > 0, options.padding >= 0 else {
        fail("options must be positive")
    }
    return options
}

/// `VmHWM` and `VmRSS` of this process in KiB.
func memoryStatus() -> (hwm: Int, rss: Int) {
    let descriptor = open("/proc/self/status", O_RDONLY)
    guard descriptor >= 0 else { return (-1, -1) }
    defer { close(descriptor) }
    var bytes = [UInt8](repeating: 0, count: 16 << 10)
    let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    guard count > 0 else { return (-1, -1) }
    var hwm = -1
    var rss = -1
    for line in String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n") {
        let value = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        if line.hasPrefix("VmHWM:") { hwm = value }
        if line.hasPrefix("VmRSS:") { rss = value }
    }
    return (hwm, rss)
}

/// Multiplicative inverse of `a` modulo `m` (gcd must be 1).
func inverse(_ a: Int, modulo m: Int) -> Int {
    var (oldR, r) = (a, m)
    var (oldS, s) = (1, 0)
    while r != 0 {
        let q = oldR / r
        (oldR, r) = (r, oldR - q * r)
        (oldS, s) = (s, oldS - q * s)
    }
    return ((oldS % m) + m) % m
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// `reduce` mode: runs `ProcessedReducer` over episode files and reports throughput and peak RSS.
func reduceFiles() -> Never {
    var arguments = Array(CommandLine.arguments.dropFirst(2))
    var budget = 256 << 20
    var out = ""
    var run = "bench"
    var spill = ExternalSortConfiguration.defaultSpillDirectory
    var workers = ExternalSortConfiguration().partitionWorkers
    var files: [String] = []
    while !arguments.isEmpty {
        let name = arguments.removeFirst()
        guard name.hasPrefix("--") else {
            files.append(name)
            continue
        }
        guard !arguments.isEmpty else { fail("missing value for \(name)") }
        let value = arguments.removeFirst()
        switch name {
        case "--budget": budget = Int(value) ?? 0
        case "--out": out = value
        case "--run": run = value
        case "--spill": spill = value
        case "--workers": workers = Int(value) ?? 0
        default: fail("unknown option \(name)")
        }
    }
    guard !out.isEmpty, !files.isEmpty, budget > 0 else { fail("reduce needs --out, --budget and input files") }
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let summary: ReduceSummary
    do {
        summary = try ProcessedReducer(
            outputRoot: out,
            sortConfiguration: ExternalSortConfiguration(
                memoryBudget: budget, spillDirectory: spill, partitionWorkers: workers),
            logger: Logger(label: "reducer-memcheck")
        ).reduce(EpisodeRow.self, inputs: files, runID: run)
    } catch { fail("\(error)") }
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    let memory = memoryStatus()
    print(
        """
        {"inputRows":\(summary.inputRows),"outputRows":\(summary.outputRows),"partitions":\(summary.partitions.count),\
        "spilledRuns":\(summary.sort.spilledRuns),"mergePasses":\(summary.sort.mergePasses),\
        "spilledBytes":\(summary.sort.spilledBytes),"workers":\(summary.sort.partitionWorkers),"seconds":\(seconds),"rowsPerSecond":\(Double(summary.inputRows) / seconds),\
        "vmHWMKiB":\(memory.hwm)}
        """)
    exit(0)
}

/// `load` mode: loads N generated episode rows as one warehouse slice into a scratch schema and reports rows/s;
/// `--csv` also writes the same rows as CSV for a `psql \\copy` comparison, and prints the scratch schema name
/// (kept with `--keep` so the comparison can copy into the same table). With `--parquet DIR` the rows are first
/// written (untimed) as one processed partition file, and the timed load is `loadProcessedFiles` from it: the path
/// `webtoon load` takes (reader thread → COPY → swap). `replaceSeconds` times a second run replacing the slice.
func loadRows() async -> Never {
    var arguments = Array(CommandLine.arguments.dropFirst(2))
    var url = ""
    var rows = 100_000
    var csv: String?
    var parquet: String?
    var keep = false
    while !arguments.isEmpty {
        let name = arguments.removeFirst()
        if name == "--keep" {
            keep = true
            continue
        }
        guard !arguments.isEmpty else { fail("missing value for \(name)") }
        let value = arguments.removeFirst()
        switch name {
        case "--database": url = value
        case "--rows": rows = Int(value) ?? 0
        case "--csv": csv = value
        case "--parquet": parquet = value
        default: fail("unknown option \(name)")
        }
    }
    guard !url.isEmpty, rows > 0 else { fail("load needs --database and --rows") }
    let day = CalendarDay(year: 2026, month: 11, day: 25)!
    let fetchBase = Int64(day.daysSinceEpoch) * 86_400_000_000
    var generated: [EpisodeRow] = []
    generated.reserveCapacity(rows)
    for i in 0..<rows {
        let missing = i % 11 == 0
        let likes: Int64? = missing ? nil : Int64(i % 1_000_003)
        let published = day.adding(days: -Int32(i % 400))
        let image = "https://image.example/\(i / 100)/\(i)/thumbnail"
        generated.append(
            EpisodeRow(
                platform: "kakao", titleID: Int64(i / 100), episodeID: Int64(i), no: Int64(i % 100 + 1),
                title: "에피소드 \(i) 제목", likes: likes, comments: Int64(i % 50_000), rating: nil, imageURL: image,
                publishedDate: published, snapshotDate: day, fetchedAt: fetchBase + Int64(i),
                missingReason: missing ? "likes: HTTP 500" : nil))
    }
    if let csv {
        var text = ""
        text.reserveCapacity(rows * 160)
        for r in generated {
            var fields: [String] = [r.platform, String(r.titleID), String(r.episodeID), r.snapshotDate.description]
            fields += [String(r.no), r.title, r.likes.map { String($0) } ?? "", r.comments.map { String($0) } ?? ""]
            fields += ["", r.imageURL, r.publishedDate?.description ?? "", r.missingReason ?? ""]
            fields.append("2026-11-25 00:00:00+00")
            text += fields.joined(separator: ",") + "\n"
        }
        let descriptor = open(csv, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { fail("cannot write \(csv)") }
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }
    var parquetFile: String?
    if let parquet {
        let path = parquet + "/part-bench-a0.parquet"
        do {
            // A processed partition file: `platform` lives in the path, not the file.
            let writer = try ParquetWriter(path: path, schema: try ParquetSchema(Array(EpisodeRow.parquetColumns.dropFirst())))
            for (index, row) in generated.enumerated() {
                try writer.append(row: Array(row.parquetValues.dropFirst()))
                if index % 32_768 == 32_767 { try writer.flushRowGroup() }
            }
            _ = try writer.close()
        } catch { fail("cannot write \(path): \(error)") }
        parquetFile = path
    }
    let logger = Logger(label: "reducer-memcheck")
    let schemas = WarehouseSchemas(suffix: "bench" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
    do {
        let connection = try await PGConnection.connect(url)
        _ = try await Migrator(schemas: schemas, logger: logger).migrate(on: connection)
        let clock = ContinuousClock()
        let started = clock.now
        let loader = WarehouseLoader(schemas: schemas, logger: logger)
        func load(_ run: String) async throws -> LoadResult {
            if let parquetFile {
                return try await loader.loadProcessedFiles(
                    EpisodeRow.self, files: [parquetFile], on: connection, runID: run, snapshotDate: day,
                    platform: "kakao")
            }
            return try await loader.loadSlice(generated, on: connection, runID: run, snapshotDate: day, platform: "kakao")
        }
        let result = try await load("bench")
        let seconds = (clock.now - started) / .seconds(1)
        let replaceStarted = clock.now
        _ = try await load("bench-replace")
        let replaceSeconds = (clock.now - replaceStarted) / .seconds(1)
        if !keep {
            try await connection.execute(
                "DROP SCHEMA " + (try await connection.quoteIdentifier(schemas.warehouse)) + " CASCADE")
        }
        await connection.close()
        print(
            """
            {"source":"\(parquetFile == nil ? "memory" : "parquet")","rows":\(result.rows),"seconds":\(seconds),\
            "rowsPerSecond":\(Double(result.rows) / seconds),"replaceSeconds":\(replaceSeconds),\
            "schema":"\(schemas.warehouse)"}
            """)
    } catch { fail("\(error)") }
    exit(0)
}

if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "reduce" { reduceFiles() }
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "load" { await loadRows() }

let options = parse()
let day = CalendarDay(year: 2026, month: 11, day: 25)!
let m = options.unique
var stride = 7_919
while gcd(stride, m) != 1 { stride += 2 }
let padding = String(repeating: "가", count: options.padding / 3)

var start = timespec()
clock_gettime(CLOCK_MONOTONIC, &start)
let sorter: ProcessedRowSorter<EpisodeRow>
do {
    sorter = try ProcessedRowSorter(
        configuration: ExternalSortConfiguration(memoryBudget: options.budget, spillDirectory: options.spill),
        logger: Logger(label: "reducer-memcheck"))
} catch { fail("\(error)") }

var inputBytes = 0
var writer = RowWriter()
for i in 0..<(m * options.copies) {
    // Each key k appears exactly `copies` times, once in every block of m consecutive rows, in a scrambled order.
    let k = (i * stride) % m
    let missing = k % 5 == 0
    let row = EpisodeRow(
        platform: k % 2 == 0 ? "kakao" : "naver", titleID: Int64(k / 100), episodeID: Int64(k), no: Int64(k % 100),
        title: "\(padding) \(i)", likes: missing ? nil : Int64(i), comments: Int64(i % 1000), rating: nil,
        imageURL: "https://image.example/\(k)", publishedDate: day, snapshotDate: day, fetchedAt: Int64(i),
        missingReason: missing ? "likes: HTTP 404" : nil)
    writer.removeAll()
    row.encode(to: &writer)
    inputBytes += writer.bytes.count
    do { try sorter.add(row) } catch { fail("\(error)") }
}

let strideInverse = inverse(stride, modulo: m)
var output = 0
var previous: (String, Int64, Int64)?
let statistics: ExternalSortStatistics
do {
    statistics = try sorter.finish { row in
        let key = (row.platform, row.titleID, row.episodeID)
        if let previous, !(previous < key) { fail("output not in key order: \(previous) then \(key)") }
        previous = key
        let k = Int(row.episodeID)
        let expected = (options.copies - 1) * m + (k * strideInverse) % m
        if row.fetchedAt != Int64(expected) { fail("key \(k): kept fetch \(row.fetchedAt), expected \(expected)") }
        if row.likes == nil, row.missingReason == nil { fail("key \(k): lost its missing reason") }
        output += 1
    }
} catch { fail("\(error)") }
guard output == m else { fail("\(output) rows out, expected \(m)") }

var end = timespec()
clock_gettime(CLOCK_MONOTONIC, &end)
let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
let memory = memoryStatus()
print(
    """
    {"inputRows":\(m * options.copies),"inputBytes":\(inputBytes),"outputRows":\(output),\
    "spilledRuns":\(statistics.spilledRuns),"mergePasses":\(statistics.mergePasses),\
    "spilledBytes":\(statistics.spilledBytes),"vmHWMKiB":\(memory.hwm),"vmRSSKiB":\(memory.rss),\
    "seconds":\(seconds)}
    """)
