import ClusterCore
import ClusterKit
import Foundation
import Logging
import PQKit
import Testing
import Warehouse

#if canImport(Glibc)
import Glibc
#endif

// Helpers in the style of CrawlClusterIntegrationTests/Support.swift (test targets cannot import each other).

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let testLogger = Logger(label: "CrawlReduceIntegrationTests")

func databaseURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
        throw TestFailure("DATABASE_URL is not set; these tests need PostgreSQL")
    }
    return url
}

/// The built `webtoon` executable; missing is a failure, never a skip.
func webtoonExecutable() throws -> String {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("webtoon").path,
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/webtoon").path,
    ]
    for path in candidates where FileManager.default.isExecutableFile(atPath: path) { return path }
    throw TestFailure("the webtoon executable is not built (looked at \(candidates.joined(separator: ", ")))")
}

/// Runs `webtoon ARGUMENTS` to its end (polling, no blocked thread); returns the exit status and the output.
func runWebtoon(_ arguments: [String], logs: String, name: String, timeout: Duration = .seconds(120)) async throws -> (Int32, String) {
    let (process, log, logPath) = try startWebtoon(arguments, logs: logs, name: name)
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        throw TestFailure("webtoon \(arguments.first ?? "") did not finish within \(timeout)")
    }
    try log.close()
    return (process.terminationStatus, (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
}

/// Starts the built `webtoon` with `DATABASE_URL` set, its stdout and stderr in `<logs>/<name>.log`.
func startWebtoon(_ arguments: [String], logs: String, name: String) throws -> (Process, FileHandle, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try webtoonExecutable())
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["DATABASE_URL": try databaseURL()]) { _, new in new }
    let logPath = "\(logs)/\(name).log"
    guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw TestFailure("cannot create \(logPath)") }
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return (process, log, logPath)
}

/// A ledger schema and warehouse/site/dashboard schemas of one test, all dropped afterwards even when it throws.
func withScratchDatabase(_ body: (PGConnection, String, String) async throws -> Void) async throws {
    let connection = try await PGConnection.connect(try databaseURL())
    try await connection.execute("SET client_min_messages TO warning")
    let tag = "r" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let ledger = "crt_" + tag
    let schemas = WarehouseSchemas(suffix: tag)
    func cleanUp() async {
        for name in [ledger, schemas.warehouse, schemas.site, schemas.dashboard, schemas.site + "_next", schemas.dashboard + "_next"] {
            _ = try? await connection.query("DROP SCHEMA IF EXISTS \(name) CASCADE")
        }
        await connection.close()
    }
    do {
        try await body(connection, ledger, tag)
    } catch {
        await cleanUp()
        throw error
    }
    await cleanUp()
}

func temporaryFolder(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crawlreduce-\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func acceptedOutputs(ledger: String, run: String) async throws -> [AcceptedOutput] {
    let connection = try await PGConnection.connect(try databaseURL())
    let store = try PostgresLedgerStore(connection: connection, schema: ledger, logger: testLogger)
    let outputs = try await store.acceptedOutputs(run: try #require(RunID(rawValue: run)))
    await connection.close()
    return outputs
}

/// An md5 over every row of the table: equal before and after means identical content.
func contentHash(_ connection: PGConnection, _ table: String) async throws -> String {
    try await connection.query(
        "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM \(table) t"
    ).rows.first?.value(0, as: String.self) ?? "none"
}

func count(_ connection: PGConnection, _ sql: String) async throws -> Int64 {
    try await connection.query(sql).rows.first?.value(0, as: Int64.self) ?? -1
}
