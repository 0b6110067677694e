import CNNG
import Synchronization

/// One asynchronous nng operation (send or receive) bridged to Swift concurrency.
///
/// nng calls ``aioCallback`` on one of its own threads exactly once for every operation submitted; the callback takes
/// the retained reference back through the `arg` pointer and resumes the continuation. Task cancellation calls
/// `nng_aio_cancel`, which completes the operation with `NNG_ECANCELED`. The aio is reaped (freed on nng's reaper
/// thread) in `deinit`, so dropping the last reference never blocks, even on the callback thread.
final class AioOperation: @unchecked Sendable {
    enum Kind { case send, receive }

    private enum Phase { case idle, submitting, submitted }

    private struct State {
        var continuation: CheckedContinuation<[UInt8], any Error>?
        var phase = Phase.idle
        var cancelled = false
    }

    let kind: Kind
    let operation: String
    private let counter: OperationCounter
    // Written once in `make`, read-only afterwards (hence @unchecked Sendable).
    private var aio: OpaquePointer!
    private let state = Mutex(State())

    private init(kind: Kind, operation: String, counter: OperationCounter) {
        self.kind = kind
        self.operation = operation
        self.counter = counter
        counter.value.add(1, ordering: .relaxed)
    }

    static func make(
        _ kind: Kind, operation: String, timeout: Duration?, counter: OperationCounter
    ) throws(NNGError) -> AioOperation {
        let op = AioOperation(kind: kind, operation: operation, counter: counter)
        var aio: OpaquePointer?
        try check(nng_aio_alloc(&aio, aioCallback, Unmanaged.passUnretained(op).toOpaque()), "\(operation): aio alloc")
        op.aio = aio
        // NNG_DURATION_DEFAULT defers to the socket's send/receive timeout option.
        nng_aio_set_timeout(aio, timeout.map { nngDuration($0) } ?? nng_duration(NNG_DURATION_DEFAULT))
        return op
    }

    deinit {
        if let aio { nng_aio_reap(aio) }
        counter.value.subtract(1, ordering: .relaxed)
    }

    /// Runs `submit`, which prepares and starts the nng call on the aio; it returns non-zero if it could not start.
    ///
    /// `nng_aio_cancel` does nothing to an aio whose operation has not started yet, so a cancellation that arrives
    /// while `submit` runs is remembered and applied right after it.
    func run(_ submit: (OpaquePointer) -> Int32) async throws -> [UInt8] {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                let proceed = state.withLock { state -> Bool in
                    if state.cancelled { return false }
                    state.continuation = continuation
                    state.phase = .submitting
                    return true
                }
                guard proceed else {
                    continuation.resume(throwing: NNGError(number: Int32(NNG_ECANCELED.rawValue), operation: operation))
                    return
                }
                // Balanced by takeRetainedValue in the callback, which nng runs once per submitted operation.
                let retained = Unmanaged.passRetained(self)
                let rv = submit(aio)
                if rv != 0 {
                    retained.release()
                    let taken = state.withLock { $0.continuation.take() }
                    taken?.resume(throwing: NNGError(number: rv, operation: operation))
                    return
                }
                let cancelNow = state.withLock { state -> Bool in
                    state.phase = .submitted
                    return state.cancelled
                }
                if cancelNow { nng_aio_cancel(aio) }
            }
        } onCancel: {
            let cancelNow = state.withLock { state -> Bool in
                state.cancelled = true
                return state.phase == .submitted
            }
            if cancelNow { nng_aio_cancel(aio) }
        }
    }

    /// Called on an nng thread when the operation finished, failed, timed out or was cancelled.
    fileprivate func complete() {
        let rv = nng_aio_result(aio)
        let result: Result<[UInt8], NNGError>
        if rv != 0 {
            // A failed send leaves the message with us: free it.
            if kind == .send, let msg = nng_aio_get_msg(aio) {
                nng_aio_set_msg(aio, nil)
                nng_msg_free(msg)
            }
            result = .failure(NNGError(number: rv, operation: operation))
        } else if kind == .receive, let msg = nng_aio_get_msg(aio) {
            nng_aio_set_msg(aio, nil)
            let bytes = [UInt8](UnsafeRawBufferPointer(start: nng_msg_body(msg), count: nng_msg_len(msg)))
            nng_msg_free(msg)
            result = .success(bytes)
        } else {
            result = .success([])
        }
        let continuation = state.withLock { $0.continuation.take() }
        continuation?.resume(with: result)
    }
}

/// Counts a socket's live operations (allocated, not yet freed), so tests can prove cancelled ones are released.
final class OperationCounter: Sendable {
    let value = Atomic<Int>(0)
    var live: Int { value.load(ordering: .relaxed) }
}

private let aioCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    guard let arg else { return }
    Unmanaged<AioOperation>.fromOpaque(arg).takeRetainedValue().complete()
}

/// Copies `bytes` into a fresh nng message; the caller owns it until nng accepts it.
func makeMessage(_ bytes: [UInt8]) -> (OpaquePointer?, Int32) {
    var msg: OpaquePointer?
    let rv = nng_msg_alloc(&msg, bytes.count)
    guard rv == 0, let msg else { return (nil, rv) }
    if !bytes.isEmpty {
        bytes.withUnsafeBytes { source in
            nng_msg_body(msg).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
    }
    return (msg, 0)
}

/// Starts an async send of `bytes` with `start` (nng_send_aio or nng_ctx_send).
func submitSend(_ bytes: [UInt8], _ aio: OpaquePointer, _ start: (OpaquePointer) -> Void) -> Int32 {
    let (msg, rv) = makeMessage(bytes)
    guard let msg else { return rv }
    nng_aio_set_msg(aio, msg)
    start(aio)
    return 0
}
