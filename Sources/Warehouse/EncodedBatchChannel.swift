import Dispatch
import Foundation
import Synchronization

/// A bounded hand-off from a dedicated producer thread (file reading and encoding, blocking) to an async consumer
/// (the COPY sender). The producer blocks when `capacity` batches wait; the consumer suspends when none does.
/// `cancel()` (the consumer failed or finished early) wakes a blocked producer, whose next `put` returns false.
final class EncodedBatchChannel: Sendable {
    enum Item: Sendable {
        case rows(EncodedRows)
        /// The producer finished: rows written and their fingerprint.
        case end(rows: Int, checksum: String)
        case failed(any Error)
    }

    private struct State {
        var items: [Item] = []
        var head = 0
        var waiter: CheckedContinuation<Item, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let space: DispatchSemaphore

    init(capacity: Int) { space = DispatchSemaphore(value: max(1, capacity)) }

    /// Runs `produce` on a new thread. It calls `put` for each batch (false: stop, the consumer is gone) and returns
    /// the final count and fingerprint, or nil when it stopped early; a throw reaches the consumer as `.failed`.
    func startProducer(
        name: String,
        _ produce: @escaping @Sendable (_ put: (EncodedRows) -> Bool) throws -> (rows: Int, checksum: String)?
    ) {
        let thread = Thread { [self] in
            do {
                if let (rows, checksum) = try produce({ batch in self.put(.rows(batch), waitForSpace: true) }) {
                    _ = put(.end(rows: rows, checksum: checksum), waitForSpace: false)
                }
            } catch {
                _ = put(.failed(error), waitForSpace: false)
            }
        }
        thread.name = name
        thread.start()
    }

    /// The next item, in order; suspends (no thread blocked) until the producer sends one.
    func next() async -> Item {
        let item = await withCheckedContinuation { (continuation: CheckedContinuation<Item, Never>) in
            let ready = state.withLock { state -> Item? in
                if state.head < state.items.count {
                    let item = state.items[state.head]
                    state.head += 1
                    if state.head == state.items.count {
                        state.items.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return item
                }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        if case .rows = item { space.signal() }
        return item
    }

    /// Stops the producer at its next `put`; items not yet taken are dropped.
    func cancel() {
        let wasCancelled = state.withLock { state -> Bool in
            defer { state.cancelled = true }
            return state.cancelled
        }
        if !wasCancelled { space.signal() }
    }

    private func put(_ item: Item, waitForSpace: Bool) -> Bool {
        if waitForSpace { space.wait() }
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Item, Never>?) in
            guard !state.cancelled else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.items.append(item)
            return (true, nil)
        }
        if !accepted, waitForSpace { space.signal() }  // let another blocked put see the cancel too
        waiter?.resume(returning: item)
        return accepted
    }
}
