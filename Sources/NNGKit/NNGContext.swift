import CNNG
import Synchronization

/// An independent protocol state on a REQ, REP, SURVEYOR, RESPONDENT or SUB socket (`nng_ctx`).
///
/// A REP socket with N contexts each looping `receive` then `send` serves N requests concurrently; a REQ context
/// matches its reply to its own request. Keeps its socket alive; closed explicitly or on deinit.
public final class NNGContext: Sendable {
    public let socket: NNGSocket
    let raw: nng_ctx
    private let closed = Atomic<Bool>(false)

    init(socket: NNGSocket, raw: nng_ctx) {
        self.socket = socket
        self.raw = raw
    }

    deinit { close() }

    /// Closes the context; its pending operations fail with ``NNGError/Code/closed``. Idempotent.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        nng_ctx_close(raw)
    }

    /// Per-context options: send/receive timeouts, ``NNGOption/requestResendTime(_:)``,
    /// ``NNGOption/surveyTime(_:)``. Others are ``NNGError/Code/notSupported``.
    public func set(_ options: NNGOption...) throws {
        for option in options {
            try option.apply(
                size: { nng_ctx_set_size(raw, $0, $1) },
                milliseconds: { nng_ctx_set_ms(raw, $0, $1) },
                bool: { nng_ctx_set_bool(raw, $0, $1) },
                int: { nng_ctx_set_int(raw, $0, $1) }
            )
        }
    }

    /// Sends on this context (REQ: a request; REP: the reply to the request this context last received).
    public func send(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        let op = try AioOperation.make(.send, operation: "context send", timeout: timeout, counter: socket.operations)
        let ctx = raw
        _ = try await op.run { aio in submitSend(bytes, aio) { nng_ctx_send(ctx, $0) } }
    }

    /// Receives on this context (REP: the next request; REQ: the reply to this context's request).
    public func receive(timeout: Duration? = nil) async throws -> [UInt8] {
        let op = try AioOperation.make(.receive, operation: "context receive", timeout: timeout, counter: socket.operations)
        let ctx = raw
        return try await op.run { aio in
            nng_ctx_recv(ctx, aio)
            return 0
        }
    }
}
