import CrawlReduce
import Testing

/// The following reducer's choice of runs, on a manual clock: pure, milliseconds.
@Suite struct FollowQueueTests {
    static let ids = ["2026-11-24.daily.kakao+naver", "2026-11-25.daily.kakao+naver", "2026-11-25.full.naver"]
    static let clean = ids.map { FinishedRun(id: $0, deadUnits: 0) }

    @Test func takesUncompletedRunsInFinishOrderAndRetriesFailuresOnlyAfterTheirPause() {
        let start = ContinuousClock.now
        var queue = FollowQueue<ContinuousClock.Instant>(retryAfter: .seconds(300))
        let ids = Self.ids
        #expect(queue.next(finished: Self.clean, completed: [], now: start).due == ids)
        #expect(queue.next(finished: Self.clean, completed: [ids[1]], now: start).due == [ids[0], ids[2]])
        #expect(queue.next(finished: Self.clean, completed: Set(ids), now: start).due.isEmpty)

        queue.failed(ids[0], at: start)
        #expect(queue.failing == 1)
        #expect(queue.next(finished: Self.clean, completed: [], now: start + .seconds(299)).due == [ids[1], ids[2]])
        #expect(queue.next(finished: Self.clean, completed: [], now: start + .seconds(300)).due == ids)
        // Failing again restarts the pause; completing clears it.
        queue.failed(ids[0], at: start + .seconds(300))
        #expect(!queue.next(finished: Self.clean, completed: [], now: start + .seconds(599)).due.contains(ids[0]))
        queue.completed(ids[0])
        #expect(queue.failing == 0)
        #expect(queue.next(finished: Self.clean, completed: [], now: start + .seconds(301)).due == ids)
    }

    @Test func aRunWithDeadUnitsIsHeldAndReportedOnceUntilItFinishesClean() {
        let now = ContinuousClock.now
        var queue = FollowQueue<ContinuousClock.Instant>(retryAfter: .seconds(300))
        var finished = Self.clean
        finished[1].deadUnits = 3
        let first = queue.next(finished: finished, completed: [], now: now)
        #expect(first.due == [Self.ids[0], Self.ids[2]])
        #expect(first.newlyHeld == [finished[1]])
        #expect(queue.next(finished: finished, completed: [], now: now).newlyHeld.isEmpty, "reported once")
        // Its dead units were retried and it finished clean: due now.
        let retried = queue.next(finished: Self.clean, completed: [], now: now)
        #expect(retried.due == Self.ids && retried.newlyHeld.isEmpty)
        // Dead again later: held and reported again.
        #expect(queue.next(finished: finished, completed: [], now: now).newlyHeld == [finished[1]])
        // A completed run is never held or due, dead units or not.
        #expect(queue.next(finished: finished, completed: [Self.ids[1]], now: now) == ([Self.ids[0], Self.ids[2]], []))
    }
}
