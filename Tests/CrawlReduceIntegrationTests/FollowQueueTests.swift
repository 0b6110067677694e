import CrawlReduce
import Testing

/// The following reducer's choice of runs, on a manual clock: pure, milliseconds.
@Suite struct FollowQueueTests {
    @Test func takesUncompletedRunsInFinishOrderAndRetriesFailuresOnlyAfterTheirPause() {
        let start = ContinuousClock.now
        var queue = FollowQueue<ContinuousClock.Instant>(retryAfter: .seconds(300))
        let finished = ["2026-11-24.daily.kakao+naver", "2026-11-25.daily.kakao+naver", "2026-11-25.full.naver"]
        #expect(queue.due(finished: finished, completed: [], now: start) == finished)
        #expect(queue.due(finished: finished, completed: [finished[1]], now: start) == [finished[0], finished[2]])
        #expect(queue.due(finished: finished, completed: Set(finished), now: start).isEmpty)

        queue.failed(finished[0], at: start)
        #expect(queue.failing == 1)
        #expect(queue.due(finished: finished, completed: [], now: start + .seconds(299)) == [finished[1], finished[2]])
        #expect(queue.due(finished: finished, completed: [], now: start + .seconds(300)) == finished)
        // Failing again restarts the pause; completing clears it.
        queue.failed(finished[0], at: start + .seconds(300))
        #expect(!queue.due(finished: finished, completed: [], now: start + .seconds(599)).contains(finished[0]))
        queue.completed(finished[0])
        #expect(queue.failing == 0)
        #expect(queue.due(finished: finished, completed: [], now: start + .seconds(301)) == finished)
    }
}
