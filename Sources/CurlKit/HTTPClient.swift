import CCurl
import Foundation
import Logging
import Synchronization

/// `curl_global_init` must run once before any handle exists; a global `let` is initialised lazily and exactly once.
private let curlGlobalInitResult: CURLcode = ccurl_global_init_default()

/// HTTP fetches over one libcurl multi handle driven by a dedicated thread.
///
/// The thread owns the `CURLM` and every `CURL` easy handle, so no curl object is ever touched concurrently and no
/// blocking call runs on Swift's cooperative pool. Callers hand requests over through a mutex-guarded inbox and a
/// wake-up. On Linux the thread drives curl with `curl_multi_socket_action` over epoll, so a wake-up touches only
/// the transfers whose sockets are ready (`curl_multi_perform` checks every transfer each time). Connections are pooled by the multi handle (HTTP/2 multiplexed where offered) and capped
/// per host and in total.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        /// Politeness cap: simultaneous connections to one host (0 = no cap). Extra transfers wait inside libcurl.
        public var maxConnectionsPerHost: Int = 8
        /// Simultaneous connections overall (0 = no cap); also the size of the idle connection cache.
        public var maxTotalConnections: Int = 64
        public var connectTimeout: Duration = .seconds(10)
        /// Whole-transfer limit, including time spent waiting for a free connection; `HTTPRequest.timeout` overrides it.
        public var totalTimeout: Duration = .seconds(30)
        /// Largest decoded body accepted; larger ones fail with `.bodyTooLarge`.
        public var maxBodyBytes: Int = 64 << 20
        public var userAgent: String? = nil
        /// Negotiate HTTP/2 over TLS (ALPN) and multiplex on it; cleartext stays HTTP/1.1.
        public var http2: Bool = true
        /// Advertise and decode every content encoding libcurl was built with (gzip, deflate, br, zstd).
        public var acceptEncoding: Bool = true
        /// Redirects followed per request (0 = do not follow).
        public var maxRedirects: Int = 10
        public init() {}
    }

    private let shared: Shared
    /// The transfer thread's kernel id (0 until it has started, and on platforms without one).
    var threadID: Int { shared.threadID.load(ordering: .acquiring) }
    private let nextID = Atomic<UInt64>(0)

    /// The transfer thread as a task executor. A task that prefers it (`withTaskExecutorPreference`) runs between
    /// curl's events on the same thread that drives the transfers, so a fetch is handed to curl and its completion
    /// resumes the caller without crossing threads (no eventfd write, no wake-up of another thread per request).
    /// Its jobs must not block (file I/O and other blocking calls belong on a queue of their own): while one runs,
    /// no transfer makes progress.
    public var taskExecutor: any TaskExecutor { shared }

    /// Starts the transfer thread. Throws when libcurl cannot be initialised.
    public init(configuration: Configuration = .init(), logger: Logger? = nil) throws {
        guard curlGlobalInitResult == CURLE_OK else {
            throw HTTPFetchError(
                code: .other, url: "", message: "curl_global_init failed", curlCode: Int32(curlGlobalInitResult.rawValue))
        }
        guard let multi = curl_multi_init() else {
            throw HTTPFetchError(code: .other, url: "", message: "curl_multi_init failed")
        }
        let logger = logger ?? Logger(label: "CurlKit", factory: { _ in SwiftLogNoOpLogHandler() })
        #if os(Linux)
        let events = UnsafeMutablePointer<ccurl_events>.allocate(capacity: 1)
        events.initialize(to: ccurl_events(epfd: -1, wakefd: -1, multi: nil, deadline_ms: -1))
        guard ccurl_events_init(events, multi) == 0 else {
            let detail = String(cString: strerror(errno))
            ccurl_events_close(events)
            events.deallocate()
            curl_multi_cleanup(multi)
            throw HTTPFetchError(code: .other, url: "", message: "epoll/eventfd set-up failed: \(detail)")
        }
        shared = Shared(multi: multi, events: events)
        #else
        shared = Shared(multi: multi)
        #endif
        let loop = TransferLoop(shared: shared, configuration: configuration, logger: logger)
        Thread { loop.run() }.start()
    }

    deinit {
        // No fetch can be pending (each retains the client), so only the thread needs stopping.
        shared.inbox.withLock { inbox in
            if inbox.state == .running {
                inbox.state = .stopping
                shared.wakeUp(&inbox)
            }
        }
    }

    /// Performs `request`. Non-2xx statuses are returned, not thrown.
    /// - Throws: `HTTPFetchError` naming the URL: timeouts, resets, size cap, cancellation, shutdown, and so on.
    public func fetch(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = nextID.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                let rejection: HTTPFetchError.Code? = shared.inbox.withLock { inbox in
                    guard inbox.state == .running else { return .shutdown }
                    // The cancellation handler may already have run and found nothing to cancel.
                    if Task.isCancelled { return .cancelled }
                    inbox.submissions.append(Submission(id: id, request: request, continuation: continuation))
                    shared.wakeUp(&inbox)
                    return nil
                }
                if let rejection {
                    continuation.resume(throwing: HTTPFetchError.ours(rejection, url: request.url))
                }
            }
        } onCancel: {
            cancel(id)
        }
    }

    /// Stops the thread after failing every pending fetch with `.shutdown`; returns once curl is cleaned up.
    /// Calling it again (or concurrently) waits for the same stop.
    ///
    /// Tasks that still prefer `taskExecutor` keep running: once the thread has stopped, their jobs go to the
    /// global concurrent executor.
    public func shutdown() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let (abandoned, stopped): ([Submission], Bool) = shared.inbox.withLock { inbox in
                switch inbox.state {
                case .stopped:
                    return ([], true)
                case .stopping:
                    inbox.shutdownWaiters.append(waiter)
                    return ([], false)
                case .running:
                    inbox.state = .stopping
                    inbox.shutdownWaiters.append(waiter)
                    let abandoned = inbox.submissions
                    inbox.submissions = []
                    shared.wakeUp(&inbox)
                    return (abandoned, false)
                }
            }
            for submission in abandoned {
                submission.continuation.resume(throwing: HTTPFetchError.ours(.shutdown, url: submission.request.url))
            }
            if stopped { waiter.resume() }
        }
    }

    private func cancel(_ id: UInt64) {
        let dequeued: Submission? = shared.inbox.withLock { inbox in
            guard inbox.state == .running else { return nil }  // shutdown fails everything itself
            if let index = inbox.submissions.firstIndex(where: { $0.id == id }) {
                return inbox.submissions.remove(at: index)
            }
            inbox.cancellations.append(id)  // in flight on the loop, already finished, or not yet submitted
            shared.wakeUp(&inbox)
            return nil
        }
        if let dequeued {
            dequeued.continuation.resume(throwing: HTTPFetchError.ours(.cancelled, url: dequeued.request.url))
        }
    }
}

extension HTTPFetchError {
    static func ours(_ code: Code, url: String) -> HTTPFetchError {
        let message = code == .cancelled ? "the fetching task was cancelled" : "the HTTP client was shut down"
        return HTTPFetchError(code: code, url: url, message: message)
    }
}

struct Submission: Sendable {
    let id: UInt64
    let request: HTTPRequest
    let continuation: CheckedContinuation<HTTPResponse, any Error>
}

/// What callers hand to the transfer thread. Every continuation lives in exactly one place at a time: here, in the
/// loop's active table, or resumed; moving it happens under the lock, which is what makes double resumes impossible.
struct Inbox: ~Copyable {
    enum State { case running, stopping, stopped }
    var state = State.running
    var submissions: [Submission] = []
    var cancellations: [UInt64] = []
    /// Jobs of tasks that prefer the transfer thread as their executor, run by the loop in order.
    var jobs: [UnownedJob] = []
    var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    /// The loop found the inbox empty and waits (or is about to wait) for sockets: only then does new work need a
    /// wake-up. While it runs it looks at the inbox again before waiting, so jobs it enqueues itself cost no syscall.
    var loopWaiting = false
    /// A wakeup was sent since the loop last drained the inbox, so another one is unnecessary.
    var wakeupPending = false
}

/// State shared by the client and its thread, so the thread does not keep the client alive.
final class Shared: Sendable {
    let inbox = Mutex(Inbox())
    /// Used off the loop thread only for the wake-up (`curl_multi_wakeup` or an eventfd write, both thread-safe),
    /// and only while the inbox says the loop is not stopped, under the lock, so never after clean-up.
    nonisolated(unsafe) let multi: UnsafeMutableRawPointer
    /// The transfer thread's kernel id once it runs (Linux), so tests can watch that exact thread end.
    let threadID = Atomic<Int>(0)

    #if os(Linux)
    /// The epoll set, wake-up eventfd and curl timer the loop drives transfers with (see `ccurl_events_run`).
    nonisolated(unsafe) let events: UnsafeMutablePointer<ccurl_events>
    private let wakeFD: Int32

    init(multi: UnsafeMutableRawPointer, events: UnsafeMutablePointer<ccurl_events>) {
        self.multi = multi
        self.events = events
        wakeFD = events.pointee.wakefd
    }
    #else
    init(multi: UnsafeMutableRawPointer) { self.multi = multi }
    #endif

    func wakeUp(_ inbox: inout Inbox) {
        guard inbox.loopWaiting, !inbox.wakeupPending, inbox.state != .stopped else { return }
        inbox.wakeupPending = true
        #if os(Linux)
        ccurl_events_wake(wakeFD)
        #else
        curl_multi_wakeup(multi)
        #endif
    }
}

extension Shared: TaskExecutor {
    /// Queues `job` for the transfer thread; once that thread has stopped, the global concurrent executor runs it.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let accepted = inbox.withLock { inbox -> Bool in
            guard inbox.state != .stopped else { return false }
            inbox.jobs.append(job)
            wakeUp(&inbox)
            return true
        }
        if !accepted { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }
}
