import Foundation
import NNGKit
import Testing

/// Deterministic pseudo-random numbers (SplitMix64), as in CompressionKitTests.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    // Word at a time: a per-byte loop over 16 MiB is seconds in a debug build and starves the 2-thread pool.
    var words = [UInt64](repeating: 0, count: (count + 7) / 8)
    for i in words.indices { words[i] = generator.next() }
    return words.withUnsafeBytes { Array($0.prefix(count)) }
}

/// FNV-1a over 64-bit little-endian words plus the tail bytes: an independent checksum, cheap in debug builds.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { raw in
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = raw.count / 8
        for i in 0..<words { hash = (hash ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3 }
        for i in (words * 8)..<raw.count { hash = (hash ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
        return (hash ^ UInt64(raw.count)) &* 0x100_0000_01b3
    }
}

/// Byte equality through memcmp (fast in debug builds too).
func sameBytes(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
    a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}

/// A fresh temporary directory, removed by the caller with `cleanup`.
struct TempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("nngkit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inproc, ipc, tcp
    var testDescription: String { rawValue }

    /// An address to listen on; the dialer uses the listener's reported URL (the bound port for tcp).
    func listenAddress(in dir: TempDir, name: String) -> String {
        switch self {
        case .inproc: "inproc://\(name)-\(UUID().uuidString)"
        case .ipc: "ipc://\(dir.file(name + ".ipc"))"
        case .tcp: "tcp://127.0.0.1:0"
        }
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Records a socket's pipe events so a test can wait for "n connections added/removed".
final class PipeWatcher: Sendable {
    private actor Log {
        var events: [NNGPipeEvent] = []
        func append(_ event: NNGPipeEvent) { events.append(event) }
        func count(_ kind: NNGPipeEvent.Kind) -> Int { events.filter { $0.kind == kind }.count }
    }
    private let log = Log()
    private let task: Task<Void, Never>

    init(_ socket: NNGSocket) throws {
        let stream = try socket.pipeEvents()
        let log = self.log
        task = Task {
            for await event in stream { await log.append(event) }
        }
    }

    deinit { task.cancel() }

    func count(_ kind: NNGPipeEvent.Kind) async -> Int { await log.count(kind) }

    /// Waits until at least `count` events of `kind` were seen, failing after `timeout`.
    func waitFor(_ kind: NNGPipeEvent.Kind, count: Int = 1, timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        while await log.count(kind) < count {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("fewer than \(count) pipe \(kind) events within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `seconds`-bounded work, failing instead of hanging if it does not finish in time.
func withDeadline<T: Sendable>(
    _ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TestFailure("\(what) did not finish within \(timeout)")
        }
        group.cancelAll()
        return value
    }
}

/// The pynng checker: runs a Python script with $WEBTOON_PYTHON and returns its stdout; fails clearly without it.
func runPython(_ script: String, arguments: [String], in dir: TempDir) async throws -> String {
    guard let python = ProcessInfo.processInfo.environment["WEBTOON_PYTHON"], !python.isEmpty else {
        throw TestFailure("WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=/work/main/.venv/bin/python (pynng needed)")
    }
    let scriptPath = dir.file("peer-\(UUID().uuidString).py")
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    return try await runProcess(python, [scriptPath] + arguments)
}

/// Runs a program to completion without blocking the cooperative pool; returns stdout, throws on failure.
func runProcess(_ executable: String, _ arguments: [String]) async throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch { continuation.resume(throwing: error) }
    }
    // Outputs here are small (far below a pipe buffer), so reading after exit cannot deadlock.
    let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard status == 0 else { throw TestFailure("\(executable) \(arguments) exited \(status): \(err)") }
    return out
}
