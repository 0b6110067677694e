import ClusterCore
import ClusterKit
import Foundation
import PQKit
import Testing
import Warehouse

#if canImport(Glibc)
import Glibc
#endif

/// `webtoon reduce --watch` follows the ledger as the compose topology's reducer service does: each run the
/// coordinator finishes is reduced, loaded, modelled and tested once; a run with a dead unit waits; a run whose
/// accepted file is corrupt is logged and left alone until its retry, and is completed once the file is restored;
/// SIGTERM stops it cleanly.
@Suite(.serialized) struct ReduceWatchTests {
    @Test func followsFinishedRunsOnceAndRetriesAFailedOne() async throws {
        try await withScratchDatabase { connection, ledger, tag in
            let root = try temporaryFolder("watch")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let w = WarehouseSchemas(suffix: tag).warehouse
            func crawl(_ date: String) async throws -> String {
                let (status, log) = try await runWebtoon(
                    ["run", "--workers", "1", "--concurrency", "3", "--mode", "daily", "--scale", "small", "--date", date,
                     "--data-root", root, "--schema", ledger, "--warehouse-suffix", tag, "--log-level", "warning", "--no-load"],
                    logs: root, name: "run-\(date)")
                #expect(status == 0, "webtoon run \(date) failed:\n\(log.suffix(4000))")
                return "\(date).daily.kakao+naver"
            }
            func completed() async -> Set<String> {
                let rows = try? await connection.query("SELECT run_id FROM \(w).completed_runs").rows
                return Set((rows ?? []).compactMap { try? $0.value(0, as: String.self) })
            }
            func watcher(_ name: String, retrySeconds: String) throws -> Process {
                try startWebtoon(
                    ["reduce", "--watch", "--data-root", root, "--schema", ledger, "--warehouse-suffix", tag,
                     "--poll-seconds", "0.2", "--retry-seconds", retrySeconds, "--memory-budget", "16MiB"],
                    logs: root, name: name
                ).0
            }
            func stop(_ process: Process) async throws -> Int32 {
                kill(process.processIdentifier, SIGTERM)
                let deadline = ContinuousClock.now + .seconds(30)
                while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                return process.terminationStatus
            }
            func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline {
                    if try await condition() { return }
                    try await Task.sleep(for: .milliseconds(100))
                }
                throw TestFailure("timed out waiting for \(what)")
            }

            // Day 1 finishes before the follower starts: it is picked up from the ledger.
            let run1 = try await crawl("2026-11-25")
            let first = try watcher("watch-1", retrySeconds: "600")
            try await waitFor("run 1 completed") { await completed().contains(run1) }
            #expect(try await count(connection, "SELECT count(*) FROM \(w).loads WHERE run_id = '\(run1)'") == 6)
            #expect(try await count(connection, "SELECT count(*) FROM \(w).episodes WHERE snapshot_date = '2026-11-25'") > 0)
            let loads = try await contentHash(connection, "\(w).loads")
            let marks = try await contentHash(connection, "\(w).completed_runs")
            try await Task.sleep(for: .seconds(1))  // five more looks at the ledger
            #expect(try await contentHash(connection, "\(w).loads") == loads, "a completed run is not loaded again")
            #expect(try await contentHash(connection, "\(w).completed_runs") == marks)
            #expect(try await stop(first) == 0)

            // Day 2 with a dead unit and one accepted file corrupted. The dead unit holds the run (reported, not
            // attempted); once the unit is done, the corrupt file fails the run by name and the follower keeps going;
            // once the file is restored, the retry completes the run. Day 1 is left alone throughout.
            let run2 = try await crawl("2026-11-26")
            let unit: String? = try await connection.query(
                "SELECT id FROM \(ledger).units WHERE run_id = $1 AND state = 'done' ORDER BY id LIMIT 1", [.text(run2)]
            ).rows.first?.value(0, as: String.self)
            let held = try #require(unit)
            _ = try await connection.execute("UPDATE \(ledger).units SET state = 'dead' WHERE id = $1", [.text(held)])
            let victim = try #require(try await acceptedOutputs(ledger: ledger, run: run2).first { $0.file.table == "episodes" })
            let victimPath = root + "/" + victim.file.path
            let good = try Data(contentsOf: URL(fileURLWithPath: victimPath))
            var bad = [UInt8](good)
            bad[bad.count / 2] ^= 0x5A
            try Data(bad).write(to: URL(fileURLWithPath: victimPath))
            let second = try watcher("watch-2", retrySeconds: "1")
            let log2 = root + "/watch-2.log"
            try await waitFor("the dead unit reported") {
                ((try? String(contentsOfFile: log2, encoding: .utf8)) ?? "").contains("run finished with dead units")
            }
            try await Task.sleep(for: .seconds(1))  // five more looks: held, so never attempted
            let whileHeld = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
            #expect(!whileHeld.contains("run failed"), "a held run is not attempted: \(whileHeld.suffix(1500))")
            #expect(whileHeld.components(separatedBy: "run finished with dead units").count == 2, "reported once")
            _ = try await connection.execute("UPDATE \(ledger).units SET state = 'done' WHERE id = $1", [.text(held)])
            try await waitFor("the failure logged") {
                ((try? String(contentsOfFile: log2, encoding: .utf8)) ?? "").contains("run failed; retrying later")
            }
            let failure = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
            #expect(failure.contains(victimPath) && failure.contains("corruptInput"), "\(failure.suffix(2000))")
            #expect(!(await completed().contains(run2)))
            #expect(try await count(connection, "SELECT count(*) FROM \(w).episodes WHERE snapshot_date = '2026-11-26'") == 0)
            try good.write(to: URL(fileURLWithPath: victimPath))
            try await waitFor("run 2 completed after its retry") { await completed().contains(run2) }
            #expect(try await count(connection, "SELECT count(*) FROM \(w).loads WHERE run_id = '\(run2)'") == 6)
            #expect(try await count(connection, "SELECT count(*) FROM \(w).loads WHERE run_id = '\(run1)'") == 6)
            #expect(try await stop(second) == 0)
        }
    }
}
