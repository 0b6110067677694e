import ClusterCore
import Foundation
import Testing

/// The group commit writes unit records with `RecordJSONWriter`; the store rebuilds them with `JSONDecoder`. Every
/// shape a record takes (each state, with and without parent, lease, error, Retry-After) must come back equal,
/// including strings that need escaping; a done unit's manifest comes back from the flat `outputArray` rows.
@Suite struct RecordJSONTests {
    @Test func writtenRecordsDecodeToEqualRecords() throws {
        var ledger = Ledger(config: LedgerConfig(leaseMillis: 1_000, maxAttempts: 2))
        var clock = TestClock()
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} 웹툰 / é 😀"
        let roots = [
            seed("a"), seed(tricky, payload: [0, 1, 2, 255, 254]), seed("c", payload: Array(repeating: 7, count: 1_000)),
            seed("d", kind: "list", platform: "kakao"), seed("e"), seed("f"),
        ]
        try ledger.createRun(spec(), roots: roots, now: clock.now)
        let granted = ledger.lease(worker: worker("w1"), maxUnits: 5, platforms: ["naver", "kakao"], now: clock.now)
        let files = [
            OutputFile(path: "naver/\(tricky).parquet", table: "episodes", rows: 3, bytes: 10, sha256: String(repeating: "ab", count: 32)),
            OutputFile(path: "b", table: "stats", rows: 0, bytes: Int64.max, sha256: String(repeating: "0f", count: 32)),
        ]
        _ = ledger.complete(
            worker: worker("w1"), token: granted[0].lease!.token, manifest: Manifest(files: files), children: [seed("child")],
            stats: TaskStats(requests: 4, retries: 1, status429: 2, status403: 0, status5xx: 1, bytes: 1 << 40, retryAfterMillis: 30_000), now: clock.now)
        _ = ledger.complete(worker: worker("w1"), token: granted[1].lease!.token, manifest: .empty, children: [], stats: .zero, now: clock.now)
        _ = ledger.fail(worker: worker("w1"), token: granted[2].lease!.token, error: "HTTP 500: \(tricky)\u{1}", retryable: true, stats: TaskStats(requests: 1), now: clock.now)
        _ = ledger.fail(worker: worker("w1"), token: granted[3].lease!.token, error: "fatal", retryable: false, stats: .zero, now: clock.now)
        clock.advance(5_000)
        ledger.expireLeases(now: clock.now)
        _ = ledger.lease(worker: worker("w2"), maxUnits: 1, platforms: ["naver"], now: clock.now)

        let units = ledger.snapshot.units.values.sorted { $0.id < $1.id }
        #expect(Set(units.map(\.state)) == [.pending, .leased, .done, .dead])
        #expect(units.contains { $0.parent != nil } && units.contains { $0.lastError != nil } && units.contains { $0.stats.retryAfterMillis != nil })
        // Records are written without their manifests (the accepted files are rows of their own, below): each
        // decodes to the record with everything else equal, and with the manifest put back to the record itself.
        let decoder = JSONDecoder()
        func restored(_ stored: UnitRecord, _ unit: UnitRecord) -> UnitRecord { unit.manifest.map { stored.withManifest($0) } ?? stored }
        for unit in units {
            var writer = RecordJSONWriter()
            writer.write(unit)
            let stored = try decoder.decode(UnitRecord.self, from: Data(writer.bytes))
            #expect(stored.manifest == nil && restored(stored, unit) == unit)
        }
        let array = try decoder.decode([UnitRecord].self, from: Data(RecordJSONWriter.array(units).utf8))
        #expect(array.count == units.count && zip(array, units).allSatisfy { restored($0, $1) == $1 })
        #expect(try decoder.decode([UnitRecord].self, from: Data(RecordJSONWriter.array([]).utf8)) == [])
        struct Row: Decodable, Equatable { let unit, token, path, table, sha256: String; let rows, bytes: Int64 }
        let rows = try decoder.decode([Row].self, from: Data(RecordJSONWriter.outputArray(units).utf8))
        let expected = units.filter { $0.state == .done }.flatMap { unit in
            (unit.manifest?.files ?? []).map {
                Row(unit: unit.id.rawValue, token: unit.completedBy!.rawValue, path: $0.path, table: $0.table, sha256: $0.sha256, rows: $0.rows, bytes: $0.bytes)
            }
        }
        #expect(rows == expected && rows.count == 2 && rows.contains { $0.path == "naver/\(tricky).parquet" })
        #expect(RecordJSONWriter.outputArray([]) == "[]")
    }

    @Test func leaseGrantEntriesDecodeToEqualRecords() throws {
        var ledger = Ledger(config: LedgerConfig(leaseMillis: 1_000, maxAttempts: 2))
        try ledger.createRun(spec(), roots: (0..<5).map { seed("k\($0)", platform: $0 % 2 == 0 ? "naver" : "kakao") }, now: TestClock().now)
        _ = ledger.drainChanges()
        _ = ledger.lease(worker: worker("w-1_a"), maxUnits: 3, platforms: ["naver", "kakao"], now: TestClock().now)
        _ = ledger.lease(worker: worker("w2"), maxUnits: 3, platforms: ["naver"], now: TestClock().now.adding(millis: 1))
        let grants = ledger.drainChanges().compactMap { change -> LeaseGrantRecord? in if case .leases(let grant) = change { grant } else { nil } }
        #expect(grants.count == 2 && grants.map(\.units.count).reduce(0, +) == 5)
        let empty = LeaseGrantRecord(worker: worker("w3"), grantedAt: Timestamp(millis: -5), deadline: Timestamp(millis: 0), units: [], epochs: [])
        #expect(try JSONDecoder().decode([LeaseGrantRecord].self, from: Data(RecordJSONWriter.grantArray(grants + [empty]).utf8)) == grants + [empty])
    }

    @Test func base64MatchesFoundation() {
        var random = SystemRandomNumberGenerator()
        for length in Array(0..<12) + [255, 1_000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            var writer = RecordJSONWriter()
            writer.base64(data)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == "\"" + Data(data).base64EncodedString() + "\"", "length \(length)")
        }
    }

    /// The hand-written `leaseGrant` body decodes, through the codec, to the envelope that was encoded: every
    /// optional present and absent, rates that print with exponents, strings that need escaping.
    @Test func handWrittenLeaseGrantsRoundTrip() throws {
        let codec = try WireCodec(secret: Array(repeating: 7, count: 32))
        let tricky = "quote \" backslash \\ slash / newline \n bell \u{7} 웹툰 😀"
        let run = spec().defaultID
        let units = try [seed(tricky, payload: [0, 1, 2, 255, 254]), seed("b", kind: "list", platform: "kakao"), seed("c", payload: Array(repeating: 9, count: 301))]
            .enumerated().map { index, seed in
                let id = seed.unitID(in: run)
                return GrantedUnit(token: try #require(LeaseToken(rawValue: "\(id.rawValue)-\(index + 1)")), run: run, unit: id, seed: seed, attempt: index + 1, deadline: Timestamp(millis: 1_764_000_000_000 + Int64(index)))
            }
        let grants = [
            LeaseGrant(units: units, allowances: [
                PlatformAllowance(platform: "naver", requestsPerSecond: 0.1, pausedUntil: nil),
                PlatformAllowance(platform: "kakao", requestsPerSecond: 1e-5, pausedUntil: Timestamp(millis: 1_764_000_000_123)),
                PlatformAllowance(platform: "x", requestsPerSecond: 1e20, pausedUntil: nil),
                PlatformAllowance(platform: "y", requestsPerSecond: 12, pausedUntil: nil),
            ], retryAfterMillis: nil),
            LeaseGrant(units: [], allowances: [], retryAfterMillis: 250),
        ]
        var random = SystemRandomNumberGenerator()
        for grant in grants {
            for replyTo in [MessageID.random(using: &random), nil] {
                let envelope = Envelope(id: MessageID.random(using: &random), sender: worker("coordinator"), sentAt: Timestamp(millis: 42), replyTo: replyTo, message: .leaseGrant(grant))
                #expect(try codec.decode(try codec.encode(envelope)) == envelope)
            }
        }
        // A rate with no JSON form still fails as before (the generic encoder's error), rather than writing bad JSON.
        let infinite = Envelope(id: MessageID.random(using: &random), sender: worker("coordinator"), sentAt: Timestamp(millis: 1), message: .leaseGrant(
            LeaseGrant(units: [], allowances: [PlatformAllowance(platform: "naver", requestsPerSecond: .infinity, pausedUntil: nil)], retryAfterMillis: nil)))
        #expect(throws: ProtocolError.self) { try codec.encode(infinite) }
    }
}
