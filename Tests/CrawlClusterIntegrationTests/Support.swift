import ClusterCore
import ClusterKit
import CrawlCluster
import Crypto
import Foundation
import Logging
import NNGKit
import PQKit
import ParquetKit
import Synchronization
import Testing
import WebtoonCore

#if canImport(Glibc)
import Glibc
#endif

/// The built `webtoon` executable: next to the test bundle (`swift test` builds every product into the same
/// folder), else `<package>/.build/debug/webtoon`. Missing is a failure, never a skip.
func webtoonExecutable() throws -> String {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("webtoon").path,
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/webtoon").path,
    ]
    for path in candidates where FileManager.default.isExecutableFile(atPath: path) { return path }
    throw TestFailure("the webtoon executable is not built (looked at \(candidates.joined(separator: ", "))); run `swift build --product webtoon`")
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let databaseURL: String = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""

/// A fresh ledger schema for one test, dropped afterwards even when the test throws.
func withScratchSchema(_ body: (PGConnection, String) async throws -> Void) async throws {
    guard !databaseURL.isEmpty else { throw TestFailure("DATABASE_URL is not set; these tests need PostgreSQL") }
    let connection = try await PGConnection.connect(databaseURL)
    var rng = SystemRandomNumberGenerator()
    let schema = "cct_\(UInt32.random(in: 0...UInt32.max, using: &rng))"
    do {
        try await body(connection, schema)
    } catch {
        _ = try? await connection.query("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
        throw error
    }
    _ = try await connection.query("DROP SCHEMA IF EXISTS \(schema) CASCADE")
    await connection.close()
}

func temporaryFolder(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crawlcluster-\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let clusterSecret = "crawl cluster integration test secret"

/// One child process of the webtoon executable; output goes to `<logs>/<name>.log`.
final class Child: Sendable {
    let name: String
    let process: Process
    let logPath: String

    init(_ name: String, _ arguments: [String], logs: String, environment: [String: String] = [:]) throws {
        self.name = name
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try webtoonExecutable())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["WEBTOON_CLUSTER_SECRET": clusterSecret, "DATABASE_URL": databaseURL].merging(environment) { _, new in new }
        ) { _, new in new }
        logPath = "\(logs)/\(name).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw TestFailure("cannot create \(logPath)") }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits for the exit (polling, so no thread blocks) and returns the status; SIGKILLs after `timeout`.
    @discardableResult
    func wait(timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            Issue.record("\(name) did not exit within \(timeout); killing it. Log:\n\(log.suffix(3000))")
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return process.terminationStatus
    }
}

func waitUntil(timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure("timed out after \(timeout) waiting for \(what)")
}

/// Every file the ledger accepted for `run`, checked against its manifest entry (exists, SHA-256, bytes, rows),
/// read back into records.
func acceptedRecords(schema: String, run: RunID, dataRoot: String) async throws -> (RecordBatch, [AcceptedOutput]) {
    let connection = try await PGConnection.connect(databaseURL)
    let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "test"))
    let outputs = try await store.acceptedOutputs(run: run)
    await connection.close()
    var batch = RecordBatch()
    for output in outputs {
        let path = dataRoot + "/" + output.file.path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        #expect(digest == output.file.sha256, "checksum of \(output.file.path)")
        #expect(Int64(bytes.count) == output.file.bytes)
        let table = try #require(CrawlTable(rawValue: output.file.table))
        #expect(output.file.path.hasPrefix("optimized/\(table.rawValue)/year="))
        #expect(output.file.path.hasSuffix("/part-\(output.unit)-a\(output.leaseToken.split(separator: "-").last!).parquet"))
        let platformPart = try #require(output.file.path.split(separator: "/").first { $0.hasPrefix("platform=") })
        let platform = try #require(Platform(rawValue: String(platformPart.dropFirst("platform=".count))))
        let reader = try ParquetReader(path: path)
        #expect(Int64(reader.rowCount) == output.file.rows)
        var rows: [[ParquetValue]] = []
        for group in 0..<reader.rowGroupCount {
            let columns = try reader.readRowGroup(group)
            for i in 0..<columns.rowCount {
                rows.append(zip(columns.columns, table.schema.columns).map { $0.value(at: i, as: $1.type) })
            }
        }
        try CrawlRows.append(rows: rows, table: table, platform: platform, to: &batch)
    }
    return (batch, outputs)
}
