import CNNG
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One socket's `nng_close`, run on its own thread so no caller waits for it longer than it chooses.
///
/// Why: libnng 1.5.2 (Debian 12) can hang in `nng_close` forever. When a pipe is torn down while its receive is in
/// flight, nng's reaper may wait on a task that was prepared but never dispatched (nng issues #1543 and #1813); the
/// close then waits for that reaper. Seen here about once in 15 runs of a coordinator restarted under live
/// workers. A caller therefore waits a bounded time, and a process that ends with such a close unfinished skips
/// nng's own atexit teardown (which would wait for the same close) — see ``ProcessExitGuard``.
final class SocketClose: Sendable {
    private struct State {
        var finished = false
        var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
        var gaveUp = false
    }

    private let state = Mutex(State())
    private let latch = Latch()

    /// Closes `raw` on a new thread; `after` runs on that thread once nng_close returned.
    init(_ raw: nng_socket, after: @escaping @Sendable () -> Void) {
        ProcessExitGuard.install()
        SocketClose.unfinished.add(1, ordering: .relaxed)
        startDetachedThread { [self] in
            nng_close(raw)
            after()
            SocketClose.unfinished.subtract(1, ordering: .relaxed)
            let waiters = state.withLock { state in
                state.finished = true
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            for waiter in waiters { waiter.continuation.resume(returning: true) }
            latch.open()
        }
    }

    /// Closes started and not finished, process-wide.
    static let unfinished = Atomic<Int>(0)
    /// Closes a caller stopped waiting for, process-wide.
    static let abandoned = Atomic<Int>(0)

    /// Waits without blocking a thread; false if the close did not finish within `timeout`.
    func wait(timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: Int? = state.withLock { state in
                if state.finished { return nil }
                state.nextID += 1
                state.waiters.append((state.nextID, continuation))
                return state.nextID
            }
            guard let id else { return continuation.resume(returning: true) }
            Task.detached { [self] in
                try? await Task.sleep(for: timeout)
                let expired = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    noteAbandoned(&state)
                    return state.waiters.remove(at: index).continuation
                }
                expired?.resume(returning: false)
            }
        }
    }

    /// Blocks the calling thread up to `timeout`; for synchronous callers (`deinit`, `defer`).
    func waitBlocking(timeout: Duration) -> Bool {
        if state.withLock({ $0.finished }) { return true }
        let finished = latch.wait(timeout: timeout) || state.withLock { $0.finished }
        if !finished { state.withLock { noteAbandoned(&$0) } }
        return finished
    }

    private func noteAbandoned(_ state: inout State) {
        guard !state.gaveUp else { return }
        state.gaveUp = true
        SocketClose.abandoned.add(1, ordering: .relaxed)
    }
}

/// Ends the process with `_exit` (same status, stdio flushed) when a socket close is still unfinished at exit, so
/// nng's atexit teardown — which would wait for that close forever — is skipped. Registered with glibc's `on_exit`
/// after nng registered its own handler, so it runs first.
enum ProcessExitGuard {
    private static let installed = Atomic<Bool>(false)

    static func install() {
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        #if canImport(Glibc)
        on_exit({ status, _ in
            // A close that is merely slow gets a moment; a hung one never finishes.
            var waitedMillis = 0
            while SocketClose.unfinished.load(ordering: .relaxed) > 0, waitedMillis < 2_000 {
                usleep(10_000)
                waitedMillis += 10
            }
            let unfinished = SocketClose.unfinished.load(ordering: .relaxed)
            guard unfinished > 0 else { return }
            let note = "nng: \(unfinished) socket close(s) never finished (libnng 1.5.2 close hang); exiting without nng's teardown\n"
            fflush(nil)
            _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            _exit(status)
        }, nil)
        #endif
    }
}

/// A one-shot latch with a timed wait (POSIX semaphore; each woken waiter passes the wake-up on).
final class Latch: @unchecked Sendable {
    private let raw = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init() { sem_init(raw, 0, 0) }
    deinit {
        sem_destroy(raw)
        raw.deallocate()
    }

    func open() { sem_post(raw) }

    func wait(timeout: Duration) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let (seconds, attoseconds) = timeout.components
        let nanos = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        while true {
            if sem_timedwait(raw, &deadline) == 0 {
                sem_post(raw)
                return true
            }
            if errno != EINTR { return false }
        }
    }
}
