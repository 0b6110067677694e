import Foundation
import NNGKit
import Testing

/// pynng (an independent nng binding in another process) talking to our sockets in both directions.
@Suite struct PynngInteropTests {
    static let reqPeer = """
        import sys, pynng
        url, n = sys.argv[1], int(sys.argv[2])
        with pynng.Req0(recv_timeout=20000, send_timeout=20000) as s:
            s.dial(url, block=False)
            for i in range(n):
                s.send(f"py-request {i}".encode())
                print(s.recv().decode(), flush=True)
        """

    static let repPeer = """
        import sys, pynng
        url, n = sys.argv[1], int(sys.argv[2])
        with pynng.Rep0(listen=url, recv_timeout=20000, send_timeout=20000) as s:
            for _ in range(n):
                request = s.recv()
                s.send(b"py-reply:" + request[::-1])
        """

    static let pushPeer = """
        import sys, time, random, pynng
        url, n = sys.argv[1], int(sys.argv[2])
        rng = random.Random(7)
        with pynng.Push0(send_timeout=20000) as s:
            s.dial(url, block=False)
            for i in range(n):
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
                s.send(body)
                print(body.hex(), flush=True)
            time.sleep(0.5)  # nng has no linger: give the last messages time to leave before closing
        """

    static let pullPeer = """
        import sys, pynng
        url, n = sys.argv[1], int(sys.argv[2])
        with pynng.Pull0(listen=url, recv_timeout=20000) as s:
            for _ in range(n):
                print(s.recv().hex(), flush=True)
        """

    @Test func pynngRequestsOurRep() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let rep = try NNGSocket(.rep)
        defer { rep.close() }
        let listener = try rep.listen("tcp://127.0.0.1:0")
        let server = Task {
            for _ in 0..<5 {
                let request = try await rep.receive(timeout: .seconds(20))
                try await rep.send(Array("swift-reply:".utf8) + request, timeout: .seconds(20))
            }
        }
        let output = try await runPython(Self.reqPeer, arguments: [listener.url, "5"], in: dir)
        try await server.value
        #expect(output.split(separator: "\n") == (0..<5).map { "swift-reply:py-request \($0)" })
    }

    @Test func ourReqAsksPynngRep() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = "ipc://\(dir.file("pyrep.ipc"))"
        let peer = Task { try await runPython(Self.repPeer, arguments: [url, "4"], in: dir) }
        let req = try NNGSocket(.req)
        defer { req.close() }
        try req.set(.reconnectMinimum(.milliseconds(20)), .reconnectMaximum(.milliseconds(100)))
        try req.dial(url)  // pynng may not listen yet: the dialer retries
        for i in 0..<4 {
            let request = Array("swift-request \(i)".utf8)
            try await req.send(request, timeout: .seconds(20))
            #expect(try await req.receive(timeout: .seconds(20)) == Array("py-reply:".utf8) + request.reversed())
        }
        _ = try await peer.value
    }

    @Test func pynngPushesToOurPull() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pull = try NNGSocket(.pull)
        defer { pull.close() }
        let listener = try pull.listen("tcp://127.0.0.1:0")
        let peer = Task { try await runPython(Self.pushPeer, arguments: [listener.url, "12"], in: dir) }
        var received: [String] = []
        for _ in 0..<12 { received.append(hex(try await pull.receive(timeout: .seconds(20)))) }
        let sent = try await peer.value.split(separator: "\n").map(String.init)
        #expect(received == sent)
    }

    @Test func ourPushFeedsPynngPull() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = "ipc://\(dir.file("pypull.ipc"))"
        let peer = Task { try await runPython(Self.pullPeer, arguments: [url, "12"], in: dir) }
        let push = try NNGSocket(.push)
        defer { push.close() }
        try push.set(.reconnectMinimum(.milliseconds(20)), .reconnectMaximum(.milliseconds(100)))
        try push.dial(url)
        var generator = SplitMix64(seed: 12)
        var sent: [String] = []
        for i in 0..<12 {
            let body = randomBytes(1 + Int(generator.next() % 500), seed: UInt64(i))
            try await push.send(body, timeout: .seconds(20))
            sent.append(hex(body))
        }
        let received = try await peer.value.split(separator: "\n").map(String.init)
        #expect(received == sent)
    }
}

/// REQ/REP over tls+tcp with a self-signed certificate made by the openssl CLI for this test.
@Suite struct TLSTests {
    struct Certificate {
        let certificatePEM: String
        let keyPEM: String
    }

    static func makeCertificate(in dir: TempDir, name: String) async throws -> Certificate {
        let cert = dir.file("\(name).crt")
        let key = dir.file("\(name).key")
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
            ]
        )
        return Certificate(
            certificatePEM: try String(contentsOfFile: cert, encoding: .utf8),
            keyPEM: try String(contentsOfFile: key, encoding: .utf8)
        )
    }

    @Test func reqRepOverVerifiedTLS() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let certificate = try await Self.makeCertificate(in: dir, name: "server")
        let server = try NNGTLSConfig.server(certificatePEM: certificate.certificatePEM, keyPEM: certificate.keyPEM)
        let rep = try NNGSocket(.rep)
        defer { rep.close() }
        let listener = try rep.listen("tls+tcp://127.0.0.1:0", tls: server)
        #expect(listener.url == "tls+tcp://127.0.0.1:\(try #require(listener.port))")
        let serving = Task {
            for _ in 0..<2 {
                let request = try await rep.receive(timeout: .seconds(20))
                try await rep.send(Array("secure:".utf8) + request)
            }
        }

        let req = try NNGSocket(.req)
        defer { req.close() }
        try await req.connect(
            listener.url, tls: NNGTLSConfig.client(caPEM: certificate.certificatePEM, serverName: "localhost"))
        let payload = randomBytes(100_000, seed: 443)
        try await req.send(payload, timeout: .seconds(20))
        #expect(try await req.receive(timeout: .seconds(20)) == Array("secure:".utf8) + payload)

        // Encryption without verification also talks to it.
        let unverified = try NNGSocket(.req)
        defer { unverified.close() }
        try await unverified.connect(listener.url, tls: NNGTLSConfig.clientWithoutVerification())
        try await unverified.send("hi".bytes, timeout: .seconds(20))
        #expect(text(try await unverified.receive(timeout: .seconds(20))) == "secure:hi")
        try await serving.value
    }

    @Test func verificationRejectsAWrongNameOrAnUnknownCertificate() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let certificate = try await Self.makeCertificate(in: dir, name: "server")
        let stranger = try await Self.makeCertificate(in: dir, name: "stranger")
        let rep = try NNGSocket(.rep)
        defer { rep.close() }
        let listener = try rep.listen(
            "tls+tcp://127.0.0.1:0",
            tls: NNGTLSConfig.server(certificatePEM: certificate.certificatePEM, keyPEM: certificate.keyPEM))
        for client in [
            try NNGTLSConfig.client(caPEM: certificate.certificatePEM, serverName: "not-localhost"),
            try NNGTLSConfig.client(caPEM: stranger.certificatePEM, serverName: "localhost"),
        ] {
            let req = try NNGSocket(.req)
            defer { req.close() }
            let error = await #expect(throws: NNGError.self) { try await req.connect(listener.url, tls: client) }
            #expect(error?.code == .tls, "\(String(describing: error))")
        }
        #expect(throws: NNGError.self) { try NNGTLSConfig.server(certificatePEM: "not pem", keyPEM: "nope") }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
