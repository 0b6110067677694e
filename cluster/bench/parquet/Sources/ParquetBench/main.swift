// Writes and reads an episodes-shaped table with ParquetKit and prints JSON timings.
// Usage: ParquetBench <rows> <dir> [runs]
// Produces <dir>/swift.parquet (zstd, timed) and <dir>/input.parquet (uncompressed, untimed: pyarrow loads it
// into memory so both writers encode exactly the same data).
import Foundation
import ParquetKit

let arguments = CommandLine.arguments
let rows = arguments.count > 1 ? Int(arguments[1])! : 1_000_000
let dir = arguments.count > 2 ? arguments[2] : "/tmp/parquet-bench"
let runs = arguments.count > 3 ? Int(arguments[3])! : 3
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

let schema = try ParquetSchema([
    ParquetColumn("platform", .string),
    ParquetColumn("title_id", .int64),
    ParquetColumn("episode_id", .int64),
    ParquetColumn("title", .string),
    ParquetColumn("likes", .int64),
    ParquetColumn("comments", .int64),
    ParquetColumn("rating", .double),
    ParquetColumn("published", .date),
    ParquetColumn("snapshot", .date),
])

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// ~500 episodes per title, rows ordered by title as a crawl produces them.
func makeBatches(rows: Int, batchRows: Int) -> [ColumnBatch] {
    var g = SplitMix64(state: 42)
    let syllables = Array("웹툰나혼자만레벨업전지적독자시점화산귀환여신강림외모지상주의싸움독학김부장")
    let titles = (0..<20_000).map { t -> String in
        var s = ""
        for _ in 0..<(4 + t % 9) { s.append(syllables[Int(g.next() % UInt64(syllables.count))]) }
        return s + " \(t)"
    }
    let platforms = ["naver", "kakao", "kakaopage"]
    var batches: [ColumnBatch] = []
    var start = 0
    while start < rows {
        let n = min(batchRows, rows - start)
        var platform = ByteArrayColumn(reservingValues: n, bytes: n * 6)
        var title = ByteArrayColumn(reservingValues: n, bytes: n * 40)
        var titleId = [Int64](), episodeId = [Int64](), likes = [Int64](), comments = [Int64](), rating = [Double]()
        var published = [Int32](), snapshot = [Int32]()
        titleId.reserveCapacity(n); episodeId.reserveCapacity(n); likes.reserveCapacity(n); comments.reserveCapacity(n)
        rating.reserveCapacity(n); published.reserveCapacity(n); snapshot.reserveCapacity(n)
        for i in start..<(start + n) {
            let t = i / 500
            platform.append(platforms[t % 3])
            titleId.append(Int64(t))
            episodeId.append(Int64(i))
            title.append(titles[t % titles.count])
            likes.append(Int64(g.next() % 1_000_000))
            comments.append(Int64(g.next() % 10_000))
            rating.append(Double(900 + Int(g.next() % 101)) / 100)
            published.append(Int32(18_000 + (i % 500) * 7))
            snapshot.append(20_417)
        }
        batches.append(ColumnBatch([
            ColumnValues(.byteArray(platform)), ColumnValues(.int64(titleId)), ColumnValues(.int64(episodeId)),
            ColumnValues(.byteArray(title)), ColumnValues(.int64(likes)), ColumnValues(.int64(comments)),
            ColumnValues(.double(rating)), ColumnValues(.int32(published)), ColumnValues(.int32(snapshot)),
        ]))
        start += n
    }
    return batches
}

func now() -> Double { Date().timeIntervalSince1970 }

let batches = makeBatches(rows: rows, batchRows: 1 << 20)
var input = ParquetWriterOptions()
input.codec = .uncompressed
input.dictionary = false
let inputWriter = try ParquetWriter(path: dir + "/input.parquet", schema: schema, options: input)
for b in batches { try inputWriter.write(b) }
try inputWriter.close()

var writeTimes: [Double] = []
var size = 0
let level = Int32(ProcessInfo.processInfo.environment["ZSTD_LEVEL"] ?? "") ?? ParquetCodec.zstd.level
var options = ParquetWriterOptions()
options.codec = .zstd(level: level)
for _ in 0..<runs {
    let t0 = now()
    let w = try ParquetWriter(path: dir + "/swift.parquet", schema: schema, options: options)
    for b in batches { try w.write(b) }
    size = try w.close().bytes
    writeTimes.append(now() - t0)
}
var readTimes: [Double] = []
var checksum: Int64 = 0
for _ in 0..<runs {
    let t0 = now()
    let r = try ParquetReader(path: dir + "/swift.parquet")
    var n = 0
    for g in 0..<r.rowGroupCount {
        let b = try r.readRowGroup(g)
        n += b.rowCount
        if case .int64(let likes) = b.columns[4].storage { checksum &+= likes.last ?? 0 }
    }
    precondition(n == rows)
    readTimes.append(now() - t0)
}
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
print(
    """
    {"rows": \(rows), "zstd_level": \(level), "write_s": \(writeTimes), "read_s": \(readTimes), \
    "write_median_s": \(median(writeTimes)), "read_median_s": \(median(readTimes)), "bytes": \(size), "checksum": \(checksum)}
    """)
