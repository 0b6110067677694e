import CLibPQ
import Dispatch
import Foundation
import Synchronization

/// What only the connection's own thread touches: the libpq handle.
final class PGConnectionState {
    var conn: OpaquePointer?
    var running = true
}

/// One dedicated OS thread per connection. Every libpq call for that connection runs here, one job at a time,
/// so blocking libpq calls never occupy Swift's cooperative pool and the `PGconn` is never shared between threads.
final class PGConnectionThread: Sendable {
    typealias Job = @Sendable (PGConnectionState) -> Void

    private struct Queue {
        var jobs: [Job] = []
        var head = 0
        var accepting = true
    }

    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; false (and `job` is dropped) once the thread has been told to stop.
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        let accepted = queue.withLock { queue in
            guard queue.accepting else { return false }
            queue.jobs.append(job)
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// Queues `job` as the last one: it runs after everything already queued, then the thread exits.
    @discardableResult
    func stop(after job: @escaping Job) -> Bool {
        let accepted = queue.withLock { queue in
            guard queue.accepting else { return false }
            queue.accepting = false
            queue.jobs.append { state in
                job(state)
                state.running = false
            }
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// Runs `body` on the connection thread and returns its result to the awaiting caller.
    func run<T: Sendable>(
        operation: String, _ body: @escaping @Sendable (PGConnectionState) throws(PGError) -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = submit { state in
                do throws(PGError) {
                    continuation.resume(returning: try body(state))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if !accepted {
                continuation.resume(
                    throwing: PGError(code: .closed, operation: operation, message: "the connection is closed"))
            }
        }
    }

    private func loop() {
        let state = PGConnectionState()
        while state.running {
            wakeup.wait()
            let job = queue.withLock { queue -> Job in
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head >= 64 && queue.head * 2 >= queue.jobs.count {
                    queue.jobs.removeFirst(queue.head)
                    queue.head = 0
                }
                return job
            }
            job(state)
        }
    }
}

/// A one-shot completion for work handed to the connection thread without suspending the caller (COPY sends a
/// buffer while the producer encodes the next one).
final class PGCompletion: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Void, any Error>)
        case done(PGError?)
    }

    private let state = Mutex(State.pending)

    func complete(_ failure: PGError?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if case .waiting(let continuation) = state {
                state = .done(failure)
                return continuation
            }
            state = .done(failure)
            return nil
        }
        if let waiter {
            if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
        }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let finished = state.withLock { state -> PGError?? in
                if case .done(let failure) = state { return .some(failure) }
                state = .waiting(continuation)
                return .none
            }
            if case .some(let failure) = finished {
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
        }
    }
}
