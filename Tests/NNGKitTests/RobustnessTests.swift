import Foundation
import NNGKit
import Testing

@Suite struct RobustnessTests {
    @Test(arguments: [Transport.ipc, .tcp])
    func sixteenMebibytesRoundTripIntact(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let rep = try NNGSocket(.rep)
        let req = try NNGSocket(.req)
        defer {
            req.close()
            rep.close()
        }
        let listener = try rep.listen(transport.listenAddress(in: dir, name: "big"))
        try req.dial(listener.url)
        let payload = randomBytes(16 << 20, seed: 0x16)
        // The server proves it read every byte by prefixing the checksum it computed; it echoes the payload.
        let server = Task {
            let request = try await rep.receive(timeout: .seconds(30))
            var sum = checksum(request).littleEndian
            try await rep.send(withUnsafeBytes(of: &sum) { Array($0) } + request, timeout: .seconds(30))
        }
        try await req.send(payload, timeout: .seconds(30))
        let reply = try await req.receive(timeout: .seconds(30))
        try await server.value
        #expect(reply.count == payload.count + 8)
        let serverSum = reply.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        #expect(serverSum == checksum(payload))
        #expect(sameBytes(payload, reply[8...]))
    }

    /// A dialer keeps retrying after its listener dies and reaches a new listener on the same address.
    @Test(arguments: [Transport.ipc, .tcp])
    func dialerReconnectsToANewListener(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let first = try NNGSocket(.pull)
        let listener = try first.listen(transport.listenAddress(in: dir, name: "restart"))
        let push = try NNGSocket(.push)
        defer { push.close() }
        let pipes = try PipeWatcher(push)
        try push.set(.reconnectMinimum(.milliseconds(20)), .reconnectMaximum(.milliseconds(100)))
        try push.dial(listener.url)  // url has the bound port, so the new listener reuses the same address
        try await pipes.waitFor(.added)
        try await push.send("before".bytes, timeout: .seconds(5))
        #expect(text(try await first.receive(timeout: .seconds(5))) == "before")

        first.close()
        try await pipes.waitFor(.removed)
        // Nobody listens now: a send waits, then times out.
        let waiting = await #expect(throws: NNGError.self) {
            try await push.send("lost".bytes, timeout: .milliseconds(100))
        }
        #expect(waiting?.code == .timedOut)

        let second = try NNGSocket(.pull)
        defer { second.close() }
        try second.listen(listener.url)
        try await pipes.waitFor(.added, count: 2)
        try await push.send("after".bytes, timeout: .seconds(5))
        #expect(text(try await second.receive(timeout: .seconds(5))) == "after")
    }

    /// nng drops an oversized message silently and closes the pipe: the receiver times out, the sender sees its
    /// pipe removed, reconnects, and smaller messages flow again.
    @Test func messageOverTheReceiveLimitIsDroppedAndThePipeClosed() async throws {
        let pull = try NNGSocket(.pull)
        let push = try NNGSocket(.push)
        defer {
            push.close()
            pull.close()
        }
        let pullPipes = try PipeWatcher(pull)
        let pushPipes = try PipeWatcher(push)
        try pull.set(.receiveMaxSize(1024))
        let listener = try pull.listen("tcp://127.0.0.1:0")
        try push.set(.reconnectMinimum(.milliseconds(20)), .reconnectMaximum(.milliseconds(50)))
        try push.dial(listener.url)
        try await pushPipes.waitFor(.added)

        try await push.send(randomBytes(4096, seed: 1), timeout: .seconds(2))  // accepted locally: no ack exists
        let dropped = await #expect(throws: NNGError.self) { try await pull.receive(timeout: .milliseconds(300)) }
        #expect(dropped?.code == .timedOut)
        try await pushPipes.waitFor(.removed)
        try await pullPipes.waitFor(.removed)

        try await pushPipes.waitFor(.added, count: 2)
        let small = randomBytes(1024, seed: 2)  // exactly the limit is accepted
        try await push.send(small, timeout: .seconds(2))
        #expect(try await pull.receive(timeout: .seconds(5)) == small)
    }

    @Test func timeoutsFireAsTypedErrors() async throws {
        let pull = try NNGSocket(.pull)
        let push = try NNGSocket(.push)
        let req = try NNGSocket(.req)
        defer {
            pull.close()
            push.close()
            req.close()
        }
        let clock = ContinuousClock()
        let started = clock.now
        let perCall = await #expect(throws: NNGError.self) { try await pull.receive(timeout: .milliseconds(50)) }
        #expect(perCall?.code == .timedOut)
        #expect(perCall?.operation == "receive")

        try pull.set(.receiveTimeout(.milliseconds(50)))
        let socketWide = await #expect(throws: NNGError.self) { try await pull.receive() }
        #expect(socketWide?.code == .timedOut)

        // PUSH and REQ cannot send while no peer is connected.
        try push.set(.sendTimeout(.milliseconds(50)))
        let noPeer = await #expect(throws: NNGError.self) { try await push.send("x".bytes) }
        #expect(noPeer?.code == .timedOut)
        #expect(noPeer?.operation == "send")
        let reqContext = try req.makeContext()
        try reqContext.set(.sendTimeout(.milliseconds(50)))
        let noServer = await #expect(throws: NNGError.self) { try await reqContext.send("q".bytes) }
        #expect(noServer?.code == .timedOut)
        #expect(clock.now - started < .seconds(10))  // generous: the machine is shared
    }

    @Test func cancellingAPendingReceiveReturnsPromptlyAndLosesNothing() async throws {
        let pull = try NNGSocket(.pull)
        let push = try NNGSocket(.push)
        defer {
            push.close()
            pull.close()
        }
        let listener = try pull.listen("inproc://cancel-\(UUID().uuidString)")
        try push.dial(listener.url)

        let pending = Task { try await pull.receive() }  // no timeout: only cancellation can end it
        try await Task.sleep(for: .milliseconds(50))
        let clock = ContinuousClock()
        let started = clock.now
        pending.cancel()
        let result = await pending.result
        #expect(clock.now - started < .seconds(2))  // nng cancels at once; slack for a loaded machine
        #expect(throws: NNGError.self) { try result.get() }
        #expect((try? result.get()) == nil)
        if case .failure(let error as NNGError) = result { #expect(error.code == .cancelled) }

        // A task cancelled before it starts to receive fails at once without submitting anything.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pull.receive()
        }
        let earlyResult = await early.result
        if case .failure(let error as NNGError) = earlyResult { #expect(error.code == .cancelled) } else {
            Issue.record("receive in a cancelled task returned \(earlyResult)")
        }

        // The cancelled receives did not swallow the next message.
        try await push.send("next".bytes, timeout: .seconds(2))
        #expect(text(try await pull.receive(timeout: .seconds(2))) == "next")
    }

    @Test func closeFailsPendingOperationsAndIsIdempotent() async throws {
        let rep = try NNGSocket(.rep)
        let context = try rep.makeContext()
        let pendingSocket = Task { try await rep.receive() }
        let pendingContext = Task { try await context.receive() }
        try await Task.sleep(for: .milliseconds(50))
        rep.close()
        rep.close()
        context.close()
        for pending in [pendingSocket, pendingContext] {
            let error = await #expect(throws: NNGError.self) { try await pending.value }
            #expect(error?.code == .closed)
        }
        let afterClose = await #expect(throws: NNGError.self) { try await rep.send("x".bytes) }
        #expect(afterClose?.code == .closed)
        #expect(throws: NNGError.self) { try rep.listen("inproc://closed") }
    }

    @Test func connectReportsRefusedAndBadURLsClearly() async throws {
        // Find a port nobody listens on by binding and closing a listener.
        let probe = try NNGSocket(.rep)
        let port = try #require(try probe.listen("tcp://127.0.0.1:0").port)
        probe.close()
        let req = try NNGSocket(.req)
        defer { req.close() }
        let refused = await #expect(throws: NNGError.self) { try await req.connect("tcp://127.0.0.1:\(port)") }
        #expect(refused?.code == .connectionRefused)
        #expect(refused?.operation == "dial tcp://127.0.0.1:\(port)")
        let bad = #expect(throws: NNGError.self) { try req.dial("nonsense://x") }
        #expect(bad?.code == .notSupported || bad?.code == .invalidArgument, "\(String(describing: bad))")
        #expect(bad?.description.contains("nonsense://x") == true)
        let taken = try NNGSocket(.rep)
        defer { taken.close() }
        let bound = try taken.listen("tcp://127.0.0.1:0")
        let other = try NNGSocket(.rep)
        defer { other.close() }
        let inUse = #expect(throws: NNGError.self) { try other.listen(bound.url) }
        #expect(inUse?.code == .addressInUse)
    }
}

@Suite struct PureTests {
    @Test func errorsMapNNGNumbersToCodes() {
        let cases: [(Int32, NNGError.Code)] = [
            (5, .timedOut), (7, .closed), (6, .connectionRefused), (17, .messageTooLarge), (20, .cancelled),
            (11, .protocolState), (10, .addressInUse), (3, .invalidArgument), (26, .tls), (27, .tls), (2, .other),
        ]
        for (number, code) in cases {
            let error = NNGError(number: number, operation: "receive")
            #expect(error.code == code, "\(number)")
            #expect(error.number == number)
            #expect(!error.message.isEmpty)
        }
        #expect(NNGError(number: 5, operation: "receive").description == "nng receive: timed out (5: Timed out)")
    }

    @Test func invalidOptionValuesAreRejectedBeforeReachingNNG() throws {
        let socket = try NNGSocket(.pull)
        defer { socket.close() }
        #expect(throws: NNGError.self) { try socket.set(.receiveMaxSize(-1)) }
        #expect(throws: NNGError.self) { try socket.set(.receiveBuffer(Int(Int32.max) + 1)) }
        #expect(throws: NNGError.self) { try socket.set(.receiveBuffer(100_000)) }  // nng caps buffers at 8192
        let wrongProtocol = #expect(throws: NNGError.self) { try socket.set(.surveyTime(.seconds(1))) }
        #expect(wrongProtocol?.operation == "set surveyor:survey-time")
        try socket.set(.receiveMaxSize(1 << 20), .tcpKeepAlive(true), .tcpNoDelay(true), .receiveBuffer(8))
    }
}
