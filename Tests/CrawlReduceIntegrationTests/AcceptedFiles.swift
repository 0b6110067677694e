import ClusterCore
import CrawlCluster
import CrawlReduce
import Crypto
import Foundation
import ParquetKit
import WebtoonCore

/// Writes the records of one unit as a worker would (one Parquet file per table and partition of 2026-11-25, named
/// by unit and attempt 1) under `root`, and returns them as the ledger's accepted files.
func writeAcceptedFiles(_ batch: RecordBatch, unit: String, root: String) throws -> [UnitFile] {
    var files: [UnitFile] = []
    for (key, rows) in CrawlRows.rows(of: batch) {
        let relative =
            "optimized/\(key.table.rawValue)/year=2026/month=11/day=25/platform=\(key.platform.rawValue)/part-\(unit)-a1.parquet"
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let writer = try ParquetWriter(path: path, schema: key.table.schema)
        for row in rows { try writer.append(row: row) }
        _ = try writer.close()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        files.append(
            UnitFile(
                unit: unit,
                file: OutputFile(
                    path: relative, table: key.table.rawValue, rows: Int64(rows.count), bytes: Int64(data.count),
                    sha256: digest)))
    }
    return files
}
