import Foundation
@testable import NNGKit
import Testing

@Suite struct LifecycleTests {
    /// Closing runs nng_close on its own thread: the async close reports completion, the port is free again at
    /// once (a restarted coordinator re-listens there), a second close is a no-op, and a live peer sees the
    /// connection go (its pending receive fails) while its own socket keeps working.
    @Test func closeFinishesOffThePoolAndFreesThePort() async throws {
        let rep = try NNGSocket(.rep)
        let listener = try rep.listen("tcp://127.0.0.1:0")
        let port = try #require(listener.port)
        let req = try NNGSocket(.req)
        defer { req.close() }
        try await req.connect(listener.url)
        try await req.send(Array("ping".utf8), timeout: .seconds(5))
        #expect(try await rep.receive(timeout: .seconds(5)) == Array("ping".utf8))

        #expect(await rep.close(waitingAtMost: .seconds(5)), "close finished")
        #expect(await rep.close(waitingAtMost: .seconds(1)), "a second close returns at once")
        #expect(rep.close(timeout: .seconds(1)), "and so does the blocking form")
        await #expect(throws: NNGError.self) { try await rep.receive(timeout: .seconds(1)) }

        let again = try NNGSocket(.rep)
        defer { again.close() }
        let relistened = try again.listen("tcp://127.0.0.1:\(port)")
        #expect(relistened.port == port)
        // The REQ dialer reconnects to the new listener and its resent request is served.
        try await req.send(Array("again".utf8), timeout: .seconds(5))
        #expect(try await again.receive(timeout: .seconds(10)) == Array("again".utf8))
        #expect(NNGSocket.abandonedCloses == 0)
    }

    /// Every cancelled, timed-out or completed operation frees its aio box (no retain cycle, no leaked callback ref).
    @Test func cancelledAndTimedOutOperationsAreReleased() async throws {
        let pull = try NNGSocket(.pull)
        let push = try NNGSocket(.push)
        defer {
            push.close()
            pull.close()
        }
        let listener = try pull.listen("inproc://lifecycle-\(UUID().uuidString)")
        try push.set(.sendBuffer(64))  // inproc has no kernel buffer: queue the 50 sends below
        try push.dial(listener.url)
        let context = try NNGSocket(.rep).makeContext()
        defer { context.socket.close() }
        // A lost cancellation would wait forever: the watchdog closes the sockets so the test fails instead.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            pull.close()
            context.socket.close()
        }
        defer { watchdog.cancel() }

        for round in 0..<100 {
            let pending = Task { try await pull.receive() }
            let pendingContext = Task { try await context.receive() }
            if round.isMultiple(of: 2) { await Task.yield() } else { try await Task.sleep(for: .milliseconds(1)) }
            pending.cancel()
            pendingContext.cancel()
            for result in [await pending.result, await pendingContext.result] {
                guard case .failure(let error as NNGError) = result, error.code == .cancelled else {
                    Issue.record("round \(round): expected cancelled, got \(result)")
                    return
                }
            }
            _ = try? await pull.receive(timeout: .milliseconds(1))
        }
        for i in 0..<50 { try await push.send([UInt8(i)], timeout: .seconds(5)) }
        for i in 0..<50 { #expect(try await pull.receive(timeout: .seconds(5)) == [UInt8(i)]) }

        // The last reference may be dropped on the nng thread just after the continuation resumed: allow a moment.
        let deadline = ContinuousClock.now + .seconds(5)
        while pull.operations.live + push.operations.live
            + context.socket.operations.live != 0, ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(pull.operations.live == 0)
        #expect(push.operations.live == 0)
        #expect(context.socket.operations.live == 0)
    }

    /// REQ resends an unanswered request after the resend time: the server sees the same request twice.
    @Test func reqResendsAfterTheResendTime() async throws {
        let rep = try NNGSocket(.rep)
        let req = try NNGSocket(.req)
        defer {
            req.close()
            rep.close()
        }
        let listener = try rep.listen("inproc://resend-\(UUID().uuidString)")
        try req.set(.requestResendTime(.milliseconds(100)))
        try req.dial(listener.url)
        let client = Task {
            try await req.send("lease worker-1 id=42".bytes, timeout: .seconds(5))
            return text(try await req.receive(timeout: .seconds(10)))
        }
        let first = try await rep.receive(timeout: .seconds(5))
        // Ignore it (as a crashed server would); nng resends within ~1 s tick.
        let second = try await rep.receive(timeout: .seconds(5))
        #expect(first == second)
        try await rep.send("granted".bytes)
        #expect(try await client.value == "granted")
    }

    @Test func boundURLsFillInThePort() {
        #expect(replacingPort(of: "tcp://127.0.0.1:0", with: 5555) == "tcp://127.0.0.1:5555")
        #expect(replacingPort(of: "tls+tcp://localhost:0/path", with: 7) == "tls+tcp://localhost:7/path")
        #expect(replacingPort(of: "tcp://[::1]:0", with: 80) == "tcp://[::1]:80")
        #expect(replacingPort(of: "tcp://[::1]", with: 80) == "tcp://[::1]")
        #expect(replacingPort(of: "ipc:///tmp/x", with: 80) == "ipc:///tmp/x")
    }

    @Test func durationsBecomeMilliseconds() {
        #expect(nngDuration(nil) == -1)
        #expect(nngDuration(.zero) == 0)
        #expect(nngDuration(.milliseconds(-5)) == 0)
        #expect(nngDuration(.microseconds(1)) == 1)  // rounds up: never "poll"
        #expect(nngDuration(.milliseconds(1500)) == 1500)
        #expect(nngDuration(.seconds(Int64.max / 2)) == Int32.max)
    }
}
