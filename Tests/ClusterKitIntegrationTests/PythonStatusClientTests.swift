import ClusterCore
import Dispatch
import ClusterKit
import Foundation
import Logging
import PQKit
import Testing

/// docs/protocol.md promises that its Python blocks are enough to query a coordinator. This runs them, with pynng,
/// against a live `CoordinatorService`.
@Suite struct PythonStatusClientTests {
    @Test func pythonClientFromTheDocumentQueriesALiveCoordinator() async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
            "WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=/work/main/.venv/bin/python (cluster/setup.sh sets it)")
        let url = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set")
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/protocol.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        var blocks: [String] = []
        var rest = text[...]
        while let start = rest.range(of: "```python\n"), let end = rest.range(of: "```", range: start.upperBound..<rest.endIndex) {
            blocks.append(String(rest[start.upperBound..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        #expect(blocks.count == 2)

        let connection = try await PGConnection.connect(url)
        let schema = "cluster_py_" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
        let secret = Array("python status client secret".utf8)
        let service = CoordinatorService(settings: CoordinatorSettings(listenURL: "tcp://127.0.0.1:0", secret: secret), store: store, logger: Logger(label: "c"))
        let (listening, listened) = AsyncStream.makeStream(of: String.self)
        let task = Task { try await service.run(onListening: { listened.yield($0) }) }
        let address = try #require(await listening.first { _ in true })
        let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
        try await service.createRun(spec, roots: (0..<3).map { try UnitSeed(kind: "list", platform: "naver", key: "k\($0)", payload: []) })

        let script = blocks.joined(separator: "\n") + """

        import json, sys
        status = query_status(sys.argv[1], sys.argv[2].encode())
        print(json.dumps([[run["id"], run["state"], run["counts"]["pending"]] for run in status["runs"]]))
        try:
            query_status(sys.argv[1], b"wrong secret but long enough")
        except ValueError as error:
            print("rejected", error)
        """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(schema).py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, stdout, stderr) = await runOffPool(python, [file.path, address, "python status client secret"])
        #expect(status == 0, "python: \(stderr)")
        let lines = stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == #"[["2026-11-25.daily.naver", "active", 3]]"#)
        // A reply signed with the coordinator's key fails the wrong-secret client's own HMAC check.
        #expect(lines.last == "rejected unauthenticated")
        #expect(try await service.status().rejected == ["unauthenticated": 1])

        task.cancel()
        _ = await task.result
        _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
    }
}

/// Runs a process and waits for it on a dedicated thread: the coordinator under test needs the cooperative pool
/// (two threads here) while the client runs, so the blocking reads and wait must not sit on it.
func runOffPool(_ executable: String, _ arguments: [String]) async -> (Int32, String, String) {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            do {
                try process.run()
            } catch {
                continuation.resume(returning: (-1, "", "cannot start \(executable): \(error)"))
                return
            }
            // stderr is drained on its own thread so a chatty child cannot block on a full pipe.
            let stderrBox = StderrBox()
            let reader = Thread { stderrBox.set(errors.fileHandleForReading.readDataToEndOfFile()) }
            reader.start()
            let stdout = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            stderrBox.finished.wait()
            continuation.resume(returning: (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderrBox.data, as: UTF8.self)))
        }
        thread.start()
    }
}

/// stderr bytes handed from the reader thread; `finished` is signalled once they are set.
final class StderrBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data()
    let finished = DispatchSemaphore(value: 0)
    func set(_ data: Data) {
        lock.withLock { value = data }
        finished.signal()
    }
    var data: Data { lock.withLock { value } }
}
