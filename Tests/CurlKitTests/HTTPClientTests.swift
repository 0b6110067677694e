import CCurl
import NIOCore
import NIOPosix
import Testing

@testable import CurlKit

/// Against a real NIO server on 127.0.0.1. Serialized so that timing checks (cancellation promptness) are not
/// disturbed by the 1,000-request test running beside them on 2 cores.
@Suite(.serialized, .timeLimit(.minutes(2))) struct HTTPClientTests {
    private func withServer(
        _ configure: (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: (TestServer, HTTPClient, Fixtures) async throws -> Void
    ) async throws {
        let fixtures = try Fixtures.make()
        let server = try await TestServer.start(fixtures: fixtures)
        var configuration = HTTPClient.Configuration()
        configure(&configuration)
        let client = try HTTPClient(configuration: configuration)
        do {
            try await body(server, client, fixtures)
        } catch {
            await client.shutdown()
            try await server.close()
            throw error
        }
        await client.shutdown()
        try await server.close()
    }

    private func expectFailure(
        _ code: HTTPFetchError.Code, _ client: HTTPClient, _ request: HTTPRequest,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> HTTPFetchError? {
        do {
            let response = try await client.fetch(request)
            Issue.record("expected \(code), got status \(response.status)", sourceLocation: sourceLocation)
            return nil
        } catch let error as HTTPFetchError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.url == request.url, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func thousandConcurrentRequestsSucceedWithinTheConnectionCaps() async throws {
        try await withServer({
            $0.maxConnectionsPerHost = 6
            $0.maxTotalConnections = 6
        }) { server, client, _ in
            let bodies = try await withThrowingTaskGroup(of: (Int, HTTPResponse).self) { group in
                for i in 0..<1000 {
                    group.addTask { (i, try await client.fetch(HTTPRequest(url: server.url("/small?\(i)")))) }
                }
                var bodies: [Int: HTTPResponse] = [:]
                for try await (i, response) in group { bodies[i] = response }
                return bodies
            }
            #expect(bodies.count == 1000)
            for (i, response) in bodies {
                #expect(response.status == 200)
                #expect(response.body == Array("hello \(i)".utf8))
                #expect(response.httpVersion == "1.1")
                #expect(response.url == server.url("/small?\(i)"))
            }
            #expect(server.counter.maxOpen <= 6, "server saw \(server.counter.maxOpen) simultaneous connections")
            #expect(server.counter.accepted <= 12, "connections were not reused: \(server.counter.accepted) accepted")
        }
    }

    @Test func totalConnectionCapHoldsBelowThePerHostCap() async throws {
        try await withServer({
            $0.maxConnectionsPerHost = 8
            $0.maxTotalConnections = 3
        }) { server, client, _ in
            let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<300 {
                    group.addTask {
                        let response = try await client.fetch(HTTPRequest(url: server.url("/delayed?\(i)")))
                        return response.body == Array("hello \(i)".utf8)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(ok == 300)
            #expect(server.counter.maxOpen == 3, "server saw \(server.counter.maxOpen) simultaneous connections")
            #expect(server.counter.accepted == 3, "connections were not reused: \(server.counter.accepted) accepted")
        }
    }

    @Test func gzipAndZstdBodiesAreDecoded() async throws {
        try await withServer { server, client, fixtures in
            #expect(fixtures.gzip.count < fixtures.plain.count / 4)
            for path in ["/gzip", "/zstd"] {
                let response = try await client.fetch(HTTPRequest(url: server.url(path)))
                #expect(response.status == 200)
                #expect(response.body == fixtures.plain, "\(path)")
                #expect(response.header("content-encoding") == String(path.dropFirst()))
            }
        }
    }

    @Test func bodyCapAppliesToTheDecodedBody() async throws {
        // The zstd body is small on the wire but larger than the cap once decoded.
        try await withServer({ $0.maxBodyBytes = 50_000 }) { server, client, fixtures in
            #expect(fixtures.zstd.count < 50_000 && fixtures.plain.count > 50_000)
            _ = await expectFailure(.bodyTooLarge, client, HTTPRequest(url: server.url("/zstd")))
        }
    }

    @Test func timeoutFailsAsTimeoutNamingTheURL() async throws {
        try await withServer { server, client, _ in
            let clock = ContinuousClock()
            let start = clock.now
            let error = await expectFailure(
                .timeout, client, HTTPRequest(url: server.url("/slow"), timeout: .milliseconds(300)))
            #expect(clock.now - start < .seconds(2))
            #expect(error?.description.contains(server.url("/slow")) == true)
            #expect(error?.curlCode == 28)
        }
    }

    @Test func resetConnectionIsConnectionReset() async throws {
        try await withServer { server, client, _ in
            _ = await expectFailure(.connectionReset, client, HTTPRequest(url: server.url("/reset")))
            // The client keeps working on fresh connections.
            let after = try await client.fetch(HTTPRequest(url: server.url("/small?after")))
            #expect(after.body == Array("hello after".utf8))
        }
    }

    @Test func bodiesOverTheCapAreRefused() async throws {
        try await withServer({ $0.maxBodyBytes = 1 << 20 }) { server, client, _ in
            let chunked = await expectFailure(.bodyTooLarge, client, HTTPRequest(url: server.url("/huge")))
            #expect(chunked?.curlCode == 23)  // refused by our write callback
            let declared = await expectFailure(.bodyTooLarge, client, HTTPRequest(url: server.url("/huge-declared")))
            #expect(declared?.curlCode == 63)  // refused by CURLOPT_MAXFILESIZE from Content-Length
            let after = try await client.fetch(HTTPRequest(url: server.url("/small?ok")))
            #expect(after.status == 200)
        }
    }

    @Test func oversizedResponseHeadersAreAProtocolError() async throws {
        try await withServer { server, client, _ in
            let error = await expectFailure(.protocolError, client, HTTPRequest(url: server.url("/many-headers")))
            #expect(error?.message.contains("headers exceed") == true)
            let after = try await client.fetch(HTTPRequest(url: server.url("/small?ok")))
            #expect(after.status == 200)
        }
    }

    @Test func cancellationMidTransferIsPromptAndTheClientKeepsWorking() async throws {
        try await withServer { server, client, _ in
            let clock = ContinuousClock()
            let task = Task { try await client.fetch(HTTPRequest(url: server.url("/drip"))) }
            try await Task.sleep(for: .milliseconds(400))  // the drip takes 20 s; it is mid-body now
            let cancelledAt = clock.now
            task.cancel()
            let result = await task.result
            let elapsed = clock.now - cancelledAt
            #expect(elapsed < .milliseconds(500), "cancellation took \(elapsed)")
            switch result {
            case .success(let response): Issue.record("expected cancellation, got \(response.status)")
            case .failure(let error):
                let fetchError = try #require(error as? HTTPFetchError)
                #expect(fetchError.code == .cancelled)
                #expect(fetchError.url == server.url("/drip"))
            }
            let next = try await client.fetch(HTTPRequest(url: server.url("/small?next")))
            #expect(next.body == Array("hello next".utf8))
        }
    }

    /// Cancellations racing completions, queueing and connection setup: every fetch ends exactly once, either with
    /// its own body or with `.cancelled` (a leaked or doubly resumed checked continuation would trap or hang here).
    @Test func randomCancellationsRacingCompletionsResolveEveryFetchOnce() async throws {
        try await withServer({ $0.maxConnectionsPerHost = 4 }) { server, client, _ in
            var generator = SplitMix64(seed: 42)
            let plan = (0..<300).map { i in (i, generator.next() % 3 == 0, Int(generator.next() % 30)) }
            let outcomes = await withTaskGroup(of: String.self) { group in
                for (i, drip, delay) in plan {
                    let task = Task { try await client.fetch(HTTPRequest(url: server.url(drip ? "/drip" : "/small?\(i)"))) }
                    group.addTask {
                        if drip || delay % 2 == 0 {
                            try? await Task.sleep(for: .milliseconds(delay))
                            task.cancel()
                        }
                        switch await task.result {
                        case .success(let response):
                            return !drip && response.body == Array("hello \(i)".utf8) ? "ok" : "wrong body for \(i)"
                        case .failure(let error as HTTPFetchError) where error.code == .cancelled:
                            return "cancelled"
                        case .failure(let error):
                            return "\(error)"
                        }
                    }
                }
                var outcomes: [String: Int] = [:]
                for await outcome in group { outcomes[outcome, default: 0] += 1 }
                return outcomes
            }
            #expect(outcomes.values.reduce(0, +) == 300)
            #expect(Set(outcomes.keys).isSubset(of: ["ok", "cancelled"]), "\(outcomes)")
            #expect(outcomes["cancelled", default: 0] >= plan.filter { $0.1 }.count)
            let after = try await client.fetch(HTTPRequest(url: server.url("/small?after")))
            #expect(after.body == Array("hello after".utf8))
        }
    }

    @Test func alreadyCancelledTaskFailsWithoutFetching() async throws {
        try await withServer { server, client, _ in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.fetch(HTTPRequest(url: server.url("/small?x")))
            }
            let error = await #expect(throws: HTTPFetchError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(server.counter.accepted == 0)
        }
    }

    @Test func closedPortIsConnectFailed() async throws {
        // Bind, learn the port, close: nothing listens there now.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        let client = try HTTPClient()
        _ = await expectFailure(.connectFailed, client, HTTPRequest(url: "http://127.0.0.1:\(port)/"))
        await client.shutdown()
    }

    @Test func malformedURLIsAnInvalidRequest() async throws {
        let client = try HTTPClient()
        _ = await expectFailure(.invalidRequest, client, HTTPRequest(url: "htp//no scheme"))
        await client.shutdown()
    }

    @Test func statusAndHeadersOf429AreReadable() async throws {
        try await withServer { server, client, _ in
            let response = try await client.fetch(HTTPRequest(url: server.url("/429")))
            #expect(response.status == 429)
            #expect(response.header("retry-after") == "7")
            #expect(response.header("X-LIMIT") == "b")
            #expect(response.body == Array("slow down".utf8))
            #expect(response.timings.total >= response.timings.firstByte)
            #expect(response.timings.firstByte > .zero)
        }
    }

    @Test func redirectsAreFollowedAndOnlyTheFinalHeadersRemain() async throws {
        try await withServer { server, client, _ in
            let response = try await client.fetch(HTTPRequest(url: server.url("/redirect")))
            #expect(response.status == 200)
            #expect(response.url == server.url("/small?after-redirect"))
            #expect(response.body == Array("hello after-redirect".utf8))
            #expect(response.header("X-Hop") == nil)
            #expect(response.header("Location") == nil)
        }
    }

    @Test func methodsBodiesAndRequestHeadersAreSent() async throws {
        try await withServer({ $0.userAgent = "curlkit-test" }) { server, client, _ in
            let payload: [UInt8] = [0, 1, 2, 255] + Array("json".utf8)
            for method in ["POST", "PUT"] {
                let response = try await client.fetch(
                    HTTPRequest(url: server.url("/echo"), method: method, headers: [HTTPHeader("X-Test", "v1")], body: payload))
                #expect(response.body == Array("\(method) ".utf8) + payload)
                #expect(response.header("x-seen") == "v1")
                #expect(response.header("x-seen-agent") == "curlkit-test")
                let encodings = response.header("x-seen-encoding") ?? ""
                #expect(["gzip", "deflate", "br", "zstd"].allSatisfy { encodings.contains($0) }, "\(encodings)")
            }
            let empty = try await client.fetch(HTTPRequest(url: server.url("/echo"), method: "POST", body: []))
            #expect(empty.body == Array("POST ".utf8))
            let delete = try await client.fetch(HTTPRequest(url: server.url("/echo"), method: "DELETE"))
            #expect(delete.body == Array("DELETE ".utf8))
            let head = try await client.fetch(HTTPRequest(url: server.url("/small?h"), method: "HEAD"))
            #expect(head.status == 200 && head.body.isEmpty && head.header("content-length") == "7")
        }
    }

    @Test func tasksPreferringTheTransferThreadRunThereWithRepeatedAndChangingHeaders() async throws {
        try await withServer { server, client, _ in
            try await withTaskExecutorPreference(client.taskExecutor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<300 {
                        group.addTask {
                            #expect(Int(ccurl_current_thread_id()) == client.threadID)
                            // Three header sets again and again (each header list is built once), one new per request.
                            let repeated = "set\(i % 3)"
                            let response = try await client.fetch(
                                HTTPRequest(url: server.url("/echo?\(i)"), headers: [HTTPHeader("X-Test", repeated)]))
                            #expect(response.status == 200 && response.header("x-seen") == repeated)
                            let unique = try await client.fetch(
                                HTTPRequest(url: server.url("/echo"), headers: [HTTPHeader("X-Test", "only-\(i)")]))
                            #expect(unique.header("x-seen") == "only-\(i)")
                            #expect(response.url == server.url("/echo?\(i)"))
                            #expect(Int(ccurl_current_thread_id()) == client.threadID)
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test func tasksPreferringAStoppedClientsThreadStillRun() async throws {
        let client = try HTTPClient()
        await client.shutdown()
        let stopped = client.threadID
        let ranOn = await withTaskExecutorPreference(client.taskExecutor) {
            await Task.yield()  // a job enqueued on the stopped executor
            return Int(ccurl_current_thread_id())
        }
        #expect(ranOn != stopped && ranOn != 0)
        let error = await #expect(throws: HTTPFetchError.self) {
            try await withTaskExecutorPreference(client.taskExecutor) {
                try await client.fetch(HTTPRequest(url: "http://127.0.0.1:9/"))
            }
        }
        #expect(error?.code == .shutdown)
    }

    @Test func shutdownAndDroppingTheClientBothEndItsThread() async throws {
        let fixtures = try Fixtures.make()
        let server = try await TestServer.start(fixtures: fixtures)
        var client: HTTPClient? = try HTTPClient()
        _ = try await client?.fetch(HTTPRequest(url: server.url("/small?1")))
        let dropped = try #require(client?.threadID)
        #expect(threadName(dropped) == "CurlKit.HTTP")
        client = nil  // no shutdown: deinit must stop the thread
        try await waitUntil { threadName(dropped) == nil }

        let other = try HTTPClient()
        _ = try await other.fetch(HTTPRequest(url: server.url("/small?2")))
        #expect(threadName(other.threadID) == "CurlKit.HTTP")
        await other.shutdown()
        try await waitUntil { threadName(other.threadID) == nil }
        try await server.close()
    }

    private func waitUntil(
        _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), sourceLocation: sourceLocation)
    }

    @Test func shutdownFailsPendingFetchesAndIsIdempotent() async throws {
        try await withServer { server, client, _ in
            let clock = ContinuousClock()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let url = server.url(i % 2 == 0 ? "/slow" : "/drip")
                        let error = await #expect(throws: HTTPFetchError.self) { try await client.fetch(HTTPRequest(url: url)) }
                        #expect(error?.code == .shutdown)
                        #expect(error?.url == url)
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let start = clock.now
                await client.shutdown()
                #expect(clock.now - start < .seconds(1))
                try await group.waitForAll()
            }
            await client.shutdown()
            let after = await expectFailure(.shutdown, client, HTTPRequest(url: server.url("/small?late")))
            #expect(after?.curlCode == 0)
        }
    }
}
