import NNGKit
import Testing

/// Every messaging pattern over every transport, with real sockets on both ends.
@Suite struct PatternTests {
    @Test(arguments: Transport.allCases)
    func repWithContextsServesConcurrentRequests(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let rep = try NNGSocket(.rep)
        let req = try NNGSocket(.req)
        defer {
            req.close()
            rep.close()
        }
        let listener = try rep.listen(transport.listenAddress(in: dir, name: "rep"))
        try req.dial(listener.url)

        // Four server contexts, each echoing with its own tag, serving eight concurrent client contexts.
        let servers = (0..<4).map { index in
            Task {
                let context = try rep.makeContext()
                var served = 0
                while true {
                    do {
                        let request = try await context.receive()
                        try await context.send(Array("ctx\(index):".utf8) + request)
                        served += 1
                    } catch let error as NNGError where error.code == .closed {
                        return served
                    }
                }
            }
        }
        let replies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<8 {
                group.addTask {
                    let context = try req.makeContext()
                    try await context.send("request \(i)".bytes, timeout: .seconds(5))
                    return (i, text(try await context.receive(timeout: .seconds(5))))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for i in 0..<8 {
            let reply = try #require(replies[i])
            #expect(reply.hasSuffix(":request \(i)"), "reply \(reply) to request \(i)")
            #expect(reply.hasPrefix("ctx"))
        }
        rep.close()
        var total = 0
        for server in servers { total += try await server.value }
        #expect(total == 8)
    }

    @Test(arguments: Transport.allCases)
    func pushPullDeliversInOrder(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pull = try NNGSocket(.pull)
        let push = try NNGSocket(.push)
        defer {
            push.close()
            pull.close()
        }
        let listener = try pull.listen(transport.listenAddress(in: dir, name: "pull"))
        if transport == .tcp { #expect(listener.port.map { $0 > 0 } == true) } else { #expect(listener.port == nil) }
        // PUSH is unbuffered by default: over inproc (no kernel buffer) a second send would wait for a receive.
        try push.set(.sendTimeout(.seconds(5)), .sendBuffer(32))
        try pull.set(.receiveTimeout(.seconds(5)), .receiveBuffer(32))
        try push.dial(listener.url)
        for i in 0..<20 { try await push.send("job \(i)".bytes) }
        for i in 0..<20 { #expect(text(try await pull.receive()) == "job \(i)") }
    }

    @Test(arguments: Transport.allCases)
    func subReceivesOnlyItsSubscriptions(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pub = try NNGSocket(.pub)
        let sub = try NNGSocket(.sub)
        defer {
            sub.close()
            pub.close()
        }
        let listener = try pub.listen(transport.listenAddress(in: dir, name: "pub"))
        try sub.subscribe("ctl.".bytes)
        try sub.dial(listener.url)
        // PUB drops messages until the subscriber's pipe is up: publish until the first one arrives.
        var first: [UInt8]?
        for _ in 0..<100 where first == nil {
            try await pub.send("ctl.hello".bytes)
            first = try? await sub.receive(timeout: .milliseconds(50))
        }
        #expect(first.map(text) == "ctl.hello")
        while (try? await sub.receive(timeout: .milliseconds(20))) != nil {}  // drain duplicates of the probe
        try await pub.send("data.ignored".bytes)
        try await pub.send("ctl.pause".bytes)
        #expect(text(try await sub.receive(timeout: .seconds(2))) == "ctl.pause")
        try sub.unsubscribe("ctl.".bytes)
        try await pub.send("ctl.after-unsubscribe".bytes)
        let late = await #expect(throws: NNGError.self) { try await sub.receive(timeout: .milliseconds(100)) }
        #expect(late?.code == .timedOut)
    }

    @Test(arguments: Transport.allCases)
    func surveyorCollectsEveryRespondent(transport: Transport) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let surveyor = try NNGSocket(.surveyor)
        defer { surveyor.close() }
        let pipes = try PipeWatcher(surveyor)
        try surveyor.set(.surveyTime(.seconds(10)))  // long enough for a loaded machine; we stop after 3 answers
        let listener = try surveyor.listen(transport.listenAddress(in: dir, name: "survey"))
        let respondents = try (0..<3).map { _ in try NNGSocket(.respondent) }
        defer { for r in respondents { r.close() } }
        let answering = respondents.enumerated().map { index, respondent in
            Task {
                try respondent.dial(listener.url)
                let question = try await respondent.receive(timeout: .seconds(5))
                try await respondent.send(Array("worker-\(index) alive, asked \(text(question))".utf8))
            }
        }
        try await pipes.waitFor(.added, count: 3)
        try await surveyor.send("ping".bytes)
        var answers: Set<String> = []
        while answers.count < 3 {
            do {
                answers.insert(text(try await surveyor.receive()))
            } catch let error as NNGError where error.code == .timedOut || error.code == .protocolState {
                break  // the survey time is over (timedOut if a receive was pending, else no survey is active)
            }
        }
        #expect(answers == Set((0..<3).map { "worker-\($0) alive, asked ping" }))
        for task in answering { try await task.value }
    }
}
