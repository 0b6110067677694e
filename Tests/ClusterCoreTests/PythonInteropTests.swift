import ClusterCore
import Foundation
import Testing

/// Runs the Python client printed in docs/protocol.md §7 against frames from `WireCodec`, both ways, so the
/// document alone is proven sufficient for a non-Swift client.
@Suite struct PythonInteropTests {
    static let docURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/protocol.md")

    func pythonClient() throws -> String {
        let text = try String(contentsOf: PythonInteropTests.docURL, encoding: .utf8)
        let start = try #require(text.range(of: "```python\n"), "docs/protocol.md has no python block")
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// Runs the interpreter on a dedicated thread, so its blocking pipe reads and wait stay off the cooperative pool.
    func runPython(_ script: String, arguments: [String]) async throws -> String {
        let interpreter = try #require(
            ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
            "WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=/work/main/.venv/bin/python (cluster/setup.sh sets it)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wtcl-\(UUID().uuidString).py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output, errors) = await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, String, String), Never>) in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: interpreter)
                process.arguments = [file.path] + arguments
                let output = Pipe()
                let errors = FileManager.default.temporaryDirectory.appendingPathComponent("wtcl-\(UUID().uuidString).err")
                _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
                defer { try? FileManager.default.removeItem(at: errors) }
                process.standardOutput = output
                process.standardError = try? FileHandle(forWritingTo: errors)
                do {
                    try process.run()
                } catch {
                    continuation.resume(returning: (-1, "", "cannot start \(interpreter): \(error)"))
                    return
                }
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let errorText = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
                continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self), errorText))
            }.start()
        }
        #expect(status == 0, "python failed: \(errors)")
        return output
    }

    @Test func documentedPythonClientInteroperatesBothWays() async throws {
        let secret = Array("interop secret, long enough".utf8)
        let codec = try WireCodec(secret: secret)
        let now = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
        var rng = SplitMix64(seed: 42)
        let status = ProtocolTests.samples().first { $0.kind == .statusResponse }!
        let swiftFrame = try codec.encode(Envelope(id: MessageID.random(using: &rng), sender: worker("coordinator"), sentAt: now, replyTo: MessageID.random(using: &rng), message: status))
        var tampered = swiftFrame
        tampered[20] ^= 1

        let driver = try pythonClient() + """

        import sys
        secret = bytes.fromhex(sys.argv[1])
        kind, envelope = decode(secret, bytes.fromhex(sys.argv[2]))
        print(kind, envelope["body"]["runs"][0]["id"], envelope["body"]["runs"][0]["counts"]["pending"])
        try:
            decode(secret, bytes.fromhex(sys.argv[3]))
            print("tampered-accepted")
        except ValueError as error:
            print("tampered-rejected", error)
        print(encode(secret, "statusRequest", "py-status", {"includeWorkers": True}).hex())
        token = "e6c239d7a1e71f94af80e28d7d066ab5-7"
        print(encode(secret, "complete", "py-worker", {"token": token,
            "manifest": {"files": [{"path": "naver/웹툰.parquet", "table": "episodes", "rows": 3, "bytes": 10, "sha256": "ab" * 32}]},
            "children": [{"kind": "title", "platform": "naver", "key": "758037", "payload": "AAEC"}],
            "stats": {"requests": 4, "retries": 0, "status429": 1, "status403": 0, "status5xx": 0, "bytes": 99}}).hex())
        print(encode(b"wrong secret, but long enough", "statusRequest", "py-status", {"includeWorkers": True}).hex())
        """
        let lines = try await runPython(driver, arguments: [hex(secret), hex(swiftFrame), hex(tampered)]).split(separator: "\n").map(String.init)
        try #require(lines.count == 5, "python printed: \(lines)")
        #expect(lines[0] == "statusResponse 2026-11-25.daily.kakao+naver 1")
        #expect(lines[1] == "tampered-rejected unauthenticated")

        let request = try codec.decode(try #require(bytes(hex: lines[2])))
        #expect(request.message == .statusRequest(StatusRequest(includeWorkers: true)) && request.sender.rawValue == "py-status")
        #expect(abs(request.sentAt.millis(since: now)) < 60_000)
        let complete = try codec.decode(try #require(bytes(hex: lines[3])))
        guard case .complete(let body) = complete.message else {
            Issue.record("expected complete, got \(complete.message.kind)")
            return
        }
        #expect(body.token.epoch == 7 && body.manifest.files.first?.path == "naver/웹툰.parquet")
        #expect(body.children.first?.payload == [0, 1, 2] && body.stats.status429 == 1)
        let error = #expect(throws: ProtocolError.self) { try codec.decode(try #require(bytes(hex: lines[4]))) }
        #expect(error?.code == .unauthenticated)
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        return stride(from: 0, to: utf8.count, by: 2).map { UInt8(String(decoding: utf8[$0..<$0 + 2], as: UTF8.self), radix: 16) }.reduce(into: [UInt8]?([])) { acc, value in
            if let value { acc?.append(value) } else { acc = nil }
        }
    }
}
