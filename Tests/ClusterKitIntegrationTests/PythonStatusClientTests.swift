import ClusterCore
import Dispatch
import ClusterKit
import Foundation
import Logging
import PQKit
import ProcessTestSupport
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
        print(json.dumps(retry_dead(sys.argv[1], sys.argv[2].encode(), run=status["runs"][0]["id"])))
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
        // Nothing is dead, so the online retry (revision 2) answers with an empty list.
        #expect(lines.dropFirst().first == "[]")
        // A reply signed with the coordinator's key fails the wrong-secret client's own HMAC check.
        #expect(lines.last == "rejected unauthenticated")
        #expect(try await service.status().rejected == ["unauthenticated": 1])

        task.cancel()
        _ = await task.result
        _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
    }
}
