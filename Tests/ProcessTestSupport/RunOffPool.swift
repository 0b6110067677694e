import Dispatch
import Foundation

// Shared by the test targets that drive a child process (the pynng status clients) while a coordinator under test
// runs in the same process.

/// Runs a process and waits for it on a dedicated thread: the coordinator under test needs the cooperative pool
/// (two threads here) while the client runs, so the blocking reads and wait must not sit on it.
public func runOffPool(_ executable: String, _ arguments: [String]) async -> (Int32, String, String) {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            let (status, stdout, stderr) = runCapturing(executable, arguments)
            continuation.resume(returning: (status, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)))
        }
        thread.start()
    }
}

/// Runs a process to its end (blocking: call it from a synchronous test or a dedicated thread) and returns its exit
/// status, standard output and standard error; -1 when it cannot start. stderr is drained on its own thread, so a
/// chatty child cannot block on a full pipe while stdout is read.
public func runCapturing(_ executable: String, _ arguments: [String]) -> (status: Int32, stdout: Data, stderr: Data) {
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
        return (-1, Data(), Data("cannot start \(executable): \(error)".utf8))
    }
    let stderrBox = DataBox()
    let reader = Thread { stderrBox.set(errors.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let stdout = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    stderrBox.finished.wait()
    return (process.terminationStatus, stdout, stderrBox.data)
}

/// Bytes handed from a pipe-reader thread; `finished` is signalled once they are set.
public final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data()
    public let finished = DispatchSemaphore(value: 0)
    public init() {}
    public func set(_ data: Data) {
        lock.withLock { value = data }
        finished.signal()
    }
    public var data: Data { lock.withLock { value } }
}
