import CCurl
import Testing

@testable import CurlKit

@Suite struct ResponseHeaderParserTests {
    private func parse(_ lines: [String]) -> ResponseHeaderParser {
        var parser = ResponseHeaderParser()
        for line in lines {
            let accepted = Array(line.utf8).withUnsafeBytes { parser.consume($0) }
            #expect(accepted)
        }
        return parser
    }

    @Test func keepsOnlyTheLastResponsesFields() {
        let parser = parse([
            "HTTP/1.1 100 Continue\r\n", "\r\n",
            "HTTP/1.1 302 Found\r\n", "Location: /next\r\n", "X-Hop: first\r\n", "\r\n",
            "HTTP/2 200\r\n", "content-type: text/plain\r\n", "Retry-After:   7 \r\n", "\r\n",
        ])
        #expect(parser.headers == [HTTPHeader("content-type", "text/plain"), HTTPHeader("Retry-After", "7")])
    }

    @Test func foldedLinesJoinThePreviousValueAndJunkIsIgnored() {
        let parser = parse(["HTTP/1.1 200 OK\r\n", "X-Long: a\r\n", "\t b\r\n", "no colon here\r\n", "Empty:\r\n", "\n"])
        #expect(parser.headers == [HTTPHeader("X-Long", "a b"), HTTPHeader("Empty", "")])
    }

    @Test func refusesHeadersBeyondTheLimit() {
        var parser = ResponseHeaderParser()
        let line = Array("X-Big: \(String(repeating: "z", count: 1000))\r\n".utf8)
        var accepted = 0
        while line.withUnsafeBytes({ parser.consume($0) }) {
            accepted += 1
            #expect(accepted < 1000)
            if accepted >= 1000 { break }
        }
        #expect(accepted == ResponseHeaderParser.maxBytes / (line.count - 2))
    }

    @Test func randomHeaderBlocksRoundTrip() {
        var generator = SplitMix64(seed: 0x00C0_FFEE)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        let valueAlphabet = Array("abc XYZ 0123:;,=/\"웹툰")
        for _ in 0..<300 {
            let count = Int(generator.next() % 12)
            let expected = (0..<count).map { _ in
                let name = String((0...Int(generator.next() % 15)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
                var value = String((0..<Int(generator.next() % 40)).map { _ in valueAlphabet[Int(generator.next() % UInt64(valueAlphabet.count))] })
                while value.first == " " { value.removeFirst() }
                while value.last == " " { value.removeLast() }
                return HTTPHeader(name, value)
            }
            let stale = ["HTTP/1.1 301 Moved\r\n", "Location: x\r\n", "\r\n"]
            let lines = stale + ["HTTP/1.1 200 OK\r\n"] + expected.map { "\($0.name): \($0.value)\r\n" } + ["\r\n"]
            #expect(parse(lines).headers == expected)
        }
    }
}

@Suite struct ClassificationTests {
    @Test func curlCodesMapToTypedErrors() {
        let table: [(CURLcode, Bool, HTTPFetchError.Code)] = [
            (CURLE_OPERATION_TIMEDOUT, false, .timeout),
            (CURLE_RECV_ERROR, false, .connectionReset), (CURLE_SEND_ERROR, false, .connectionReset),
            (CURLE_GOT_NOTHING, false, .connectionReset), (CURLE_PARTIAL_FILE, false, .connectionReset),
            (CURLE_COULDNT_RESOLVE_HOST, false, .dnsFailure), (CURLE_COULDNT_CONNECT, false, .connectFailed),
            (CURLE_FILESIZE_EXCEEDED, false, .bodyTooLarge), (CURLE_WRITE_ERROR, true, .bodyTooLarge),
            (CURLE_WRITE_ERROR, false, .other), (CURLE_SSL_CONNECT_ERROR, false, .tls),
            (CURLE_PEER_FAILED_VERIFICATION, false, .tls), (CURLE_BAD_CONTENT_ENCODING, false, .protocolError),
            (CURLE_TOO_MANY_REDIRECTS, false, .protocolError), (CURLE_URL_MALFORMAT, false, .invalidRequest),
            (CURLE_UNSUPPORTED_PROTOCOL, false, .invalidRequest), (CURLE_OUT_OF_MEMORY, false, .other),
        ]
        for (code, over, expected) in table {
            #expect(HTTPFetchError.classify(code, overBodyLimit: over) == expected, "CURLcode \(code.rawValue)")
        }
    }

    @Test func descriptionNamesTheURLAndCode() {
        let error = HTTPFetchError(code: .timeout, url: "http://h/x", message: "Operation timed out", curlCode: 28)
        #expect(error.description == "timeout fetching http://h/x: Operation timed out (curl error 28)")
    }

    @Test func durationsBecomeWholeMillisecondsOfAtLeastOne() {
        #expect(milliseconds(.seconds(3)) == 3000)
        #expect(milliseconds(.milliseconds(1500)) == 1500)
        #expect(milliseconds(.microseconds(10)) == 1)
        #expect(milliseconds(.zero) == 1)
        #expect(milliseconds(.seconds(-5)) == 1)
        #expect(milliseconds(.seconds(Int64.max)) == Int.max)
    }

    @Test func headerLookupIsCaseInsensitiveAndLastWins() {
        let response = HTTPResponse(
            status: 200, headers: [HTTPHeader("X-A", "1"), HTTPHeader("x-a", "2"), HTTPHeader("B", "3")], body: [],
            url: "u", httpVersion: "1.1", timings: HTTPTimings(total: .zero, connect: .zero, firstByte: .zero))
        #expect(response.header("X-a") == "2")
        #expect(response.header("b") == "3")
        #expect(response.header("c") == nil)
        #expect(response.header("X-") == nil)
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
