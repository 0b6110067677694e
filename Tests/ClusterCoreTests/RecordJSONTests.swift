import ClusterCore
import Foundation
import Testing

/// The group commit writes unit records with `RecordJSONWriter`; the store rebuilds them with `JSONDecoder`. Every
/// shape a record takes (each state, with and without parent, lease, error, manifest, Retry-After) must come back
/// equal, including strings that need escaping.
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
        let decoder = JSONDecoder()
        for unit in units {
            var writer = RecordJSONWriter()
            writer.write(unit)
            #expect(try decoder.decode(UnitRecord.self, from: Data(writer.bytes)) == unit)
        }
        #expect(try decoder.decode([UnitRecord].self, from: Data(RecordJSONWriter.array(units).utf8)) == units)
        #expect(try decoder.decode([UnitRecord].self, from: Data(RecordJSONWriter.array([]).utf8)) == [])
    }
}
