import Testing

@testable import WebtoonCore

/// The byte-level fast paths of request building against the character-level code they stand in for.
@Suite struct EndpointExpansionTests {
    private static let pieces = ["a", "Z", "9", "/", "{", "}", "{titleId}", "{day}", "{nope}", "-", "~", " ", "%", "?",
                                 "=", "&", "é", "웹툰", "e\u{301}", "\r\n", "{page", "}x{"]

    private func randomText(_ random: inout SplitMix64, pieces: [String]) -> String {
        (0..<Int(random.next() % 12)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
    }

    @Test func byteExpansionEqualsCharacterExpansion() {
        var random = SplitMix64(seed: 0xE7A4_D0)
        let values = ["titleId": "183559", "day": "mon", "page": "2/3 é"]
        for _ in 0..<3_000 {
            let template = randomText(&random, pieces: Self.pieces)
            for encode in [EndpointCatalog.percentEncodePath, EndpointCatalog.percentEncodeQuery, { "<\($0)>" }] {
                let fast = EndpointCatalog.expand(template, { values[$0] }, encode: encode)
                #expect(fast == EndpointCatalog.expandByCharacters(template, { values[$0] }, encode: encode), "\(template)")
            }
        }
    }

    @Test func percentEncodingKeepsOnlyUnreservedBytes() {
        var random = SplitMix64(seed: 0x9E4C)
        for _ in 0..<3_000 {
            let text = randomText(&random, pieces: Self.pieces)
            for keepSlash in [false, true] {
                var expected = ""
                for byte in text.utf8 {
                    let scalar = Unicode.Scalar(byte)
                    if scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                        || "-._~".unicodeScalars.contains(scalar) || (keepSlash && byte == UInt8(ascii: "/"))
                    {
                        expected.unicodeScalars.append(scalar)
                    } else {
                        expected += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                    }
                }
                #expect(EndpointCatalog.percentEncode(text, keepSlash: keepSlash) == expected, "\(text)")
            }
        }
    }

    @Test func placeholderLookupEqualsTheValueTable() {
        var random = SplitMix64(seed: 77)
        func maybe<T>(_ value: T) -> T? { random.next() % 3 == 0 ? nil : value }
        for _ in 0..<500 {
            let parameters = EndpointParameters(
                titleId: maybe(Int64(random.next() % 1_000_000)), episodeId: maybe(Int64(random.next() % 5_000)),
                page: maybe(Int(random.next() % 40)), offset: maybe(Int(random.next() % 100)),
                limit: maybe(Int(random.next() % 100)), day: maybe(Int(random.next() % 9) - 1))
            for name in ["titleId", "episodeId", "page", "offset", "limit", "day", "other", ""] {
                #expect(parameters.placeholderValue(named: name) == parameters.placeholderValues[name])
            }
        }
    }

    @Test func headerNamesCompareLikeLowercasedStrings() {
        let names = ["Referer", "referer", "REFERER", "Referrer", "X-Ä", "x-ä", "X-ä", "", "ẞ", "ß", "K", "\u{212A}"]
        for a in names {
            for b in names {
                #expect(asciiCaseInsensitiveEqual(a, b) == (a.lowercased() == b.lowercased()), "\(a) \(b)")
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

extension EndpointParameters {
    /// The table request building used before `placeholderValue(named:)`: the oracle it is tested against.
    fileprivate var placeholderValues: [String: String] {
        var values: [String: String] = [:]
        if let titleId { values["titleId"] = String(titleId) }
        if let episodeId { values["episodeId"] = String(episodeId) }
        if let page { values["page"] = String(page) }
        if let offset { values["offset"] = String(offset) }
        if let limit { values["limit"] = String(limit) }
        if let day, Weekdays.kakaoKeys.indices.contains(day) { values["day"] = Weekdays.kakaoKeys[day] }
        return values
    }
}
