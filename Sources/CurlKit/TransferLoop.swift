import CCurl
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One request on an easy handle, from `curl_multi_add_handle` until its continuation is resumed.
/// Passed to libcurl callbacks as unretained userdata; the loop's tables keep it alive.
final class Transfer {
    let id: UInt64
    let easy: UnsafeMutableRawPointer
    let url: String
    let continuation: CheckedContinuation<HTTPResponse, any Error>
    let maxBody: Int
    var body: [UInt8] = []
    var headers = ResponseHeaderParser()
    var overBodyLimit = false
    var headersTooLarge = false
    var requestHeaders: UnsafeMutablePointer<curl_slist>? = nil
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(id: UInt64, easy: UnsafeMutableRawPointer, submission: Submission, maxBody: Int) {
        self.id = id
        self.easy = easy
        self.url = submission.request.url
        self.continuation = submission.continuation
        self.maxBody = maxBody
        errorBuffer.initialize(to: 0)
    }

    deinit {
        curl_slist_free_all(requestHeaders)
        errorBuffer.deallocate()
    }

    var curlMessage: String {
        errorBuffer.pointee == 0 ? "" : String(cString: errorBuffer)
    }
}

/// The body of the client's thread. Confined to that thread once `run` starts; nothing else touches its state.
final class TransferLoop: @unchecked Sendable {
    private let shared: Shared
    private let multi: UnsafeMutableRawPointer
    private let configuration: HTTPClient.Configuration
    private let logger: Logger
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var activeByID: [UInt64: UnsafeMutableRawPointer] = [:]
    /// Reset easy handles kept for reuse; their allocations and DNS cache survive `curl_easy_reset`.
    private var idle: [UnsafeMutableRawPointer] = []
    private let maxIdle: Int
    /// Header lists of bodiless requests by their fields, built once: a crawler sends the same few header sets
    /// again and again, and libcurl only keeps a pointer to the list. Freed when the loop stops.
    private var headerLists: [[HTTPHeader]: UnsafeMutablePointer<curl_slist>] = [:]
    private static let maxHeaderLists = 64

    init(shared: Shared, configuration: HTTPClient.Configuration, logger: Logger) {
        self.shared = shared
        self.multi = shared.multi
        self.configuration = configuration
        self.logger = logger
        self.maxIdle = max(configuration.maxTotalConnections, 16)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(configuration.maxConnectionsPerHost, 0))
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(configuration.maxTotalConnections, 0))
        if configuration.maxTotalConnections > 0 {
            _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, configuration.maxTotalConnections)
        }
    }

    func run() {
        // Named so a thread dump shows whose it is (and tests can see it stop); Linux keeps 15 bytes. Not through
        // Thread.name: Foundation may not yet know its thread's id this early and then skips the OS call.
        ccurl_name_current_thread("CurlKit.HTTP")
        shared.threadID.store(ccurl_current_thread_id(), ordering: .releasing)
        #if !os(Linux)
        var running: Int32 = 0
        #endif
        let executor = shared.asUnownedTaskExecutor()
        while true {
            let (submissions, cancellations, jobs, stopping): ([Submission], [UInt64], [UnownedJob], Bool) =
                shared.inbox.withLock { inbox in
                    let stopping = inbox.state != .running
                    // Jobs left at a stop are handed to the global executor by `stop()`.
                    let jobs = stopping ? [] : inbox.jobs
                    defer {
                        inbox.submissions = []
                        inbox.cancellations = []
                        if !stopping { inbox.jobs = [] }
                        inbox.wakeupPending = false
                    }
                    return (inbox.submissions, inbox.cancellations, jobs, stopping)
                }
            if stopping {
                for submission in submissions {
                    submission.continuation.resume(throwing: HTTPFetchError.ours(.shutdown, url: submission.request.url))
                }
                break
            }
            for submission in submissions { start(submission) }
            for id in cancellations { cancel(id) }
            for job in jobs { job.runSynchronously(on: executor) }
            // Block only if nothing arrived meanwhile (jobs just run may have queued fetches or more jobs);
            // otherwise only collect what curl has ready and come straight back.
            let mayWait = shared.inbox.withLock { inbox in
                let idle = inbox.submissions.isEmpty && inbox.cancellations.isEmpty && inbox.jobs.isEmpty
                    && inbox.state == .running
                inbox.loopWaiting = idle
                return idle
            }
            #if os(Linux)
            // Waits for a ready socket, curl's timer or a wake-up, and lets curl act on exactly those.
            if ccurl_events_run(shared.events, mayWait ? 1000 : 0) < 0 {
                logger.error("epoll_wait failed", metadata: ["errno": "\(errno)"])
            }
            drainCompletions()
            #else
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                logger.error("curl_multi_perform failed", metadata: ["code": "\(performed.rawValue)"])
            }
            drainCompletions()
            if mayWait { _ = curl_multi_poll(multi, nil, 0, 1000, nil) }
            #endif
            if mayWait { shared.inbox.withLock { $0.loopWaiting = false } }
        }
        stop()
    }

    private func start(_ submission: Submission) {
        guard let easy = idle.popLast() ?? curl_easy_init() else {
            submission.continuation.resume(
                throwing: HTTPFetchError(code: .other, url: submission.request.url, message: "curl_easy_init failed"))
            return
        }
        let transfer = Transfer(id: submission.id, easy: easy, submission: submission, maxBody: configuration.maxBodyBytes)
        let configured = configure(transfer, submission.request)
        guard configured == CURLE_OK else {
            finish(transfer, with: .failure(error(for: transfer, configured)))
            return
        }
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            let message = String(cString: curl_multi_strerror(added))
            finish(transfer, with: .failure(HTTPFetchError(code: .other, url: transfer.url, message: message)))
            return
        }
        active[easy] = transfer
        activeByID[transfer.id] = easy
    }

    /// Applies every option; returns the first failure (a bad method string or an option libcurl refuses).
    private func configure(_ transfer: Transfer, _ request: HTTPRequest) -> CURLcode {
        let easy = transfer.easy
        let userdata = Unmanaged.passUnretained(transfer).toOpaque()
        var first = CURLE_OK
        func check(_ code: CURLcode) { if first == CURLE_OK { first = code } }

        check(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        check(request.url.withCString { ccurl_easy_setopt_string(easy, CURLOPT_URL, $0) })
        check(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout)))
        check(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout ?? configuration.totalTimeout)))
        check(ccurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maxBodyBytes)))
        check(
            ccurl_easy_setopt_long(
                easy, CURLOPT_HTTP_VERSION,
                configuration.http2 ? Int(CURL_HTTP_VERSION_2TLS) : Int(CURL_HTTP_VERSION_1_1)))
        // Prefer waiting for a multiplexed HTTP/2 stream over opening another connection.
        check(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        if configuration.acceptEncoding { check(ccurl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")) }
        if let agent = configuration.userAgent {
            check(agent.withCString { ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, $0) })
        }
        if configuration.maxRedirects > 0 {
            check(ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
            check(ccurl_easy_setopt_long(easy, CURLOPT_MAXREDIRS, configuration.maxRedirects))
        }

        check(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata))
        check(
            ccurl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
                let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
                let length = size * count
                guard transfer.body.count + length <= transfer.maxBody else {
                    transfer.overBodyLimit = true
                    return 0  // libcurl aborts with CURLE_WRITE_ERROR
                }
                if let data { transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
                return length
            })
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata))
        check(
            ccurl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
                let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
                let length = size * count
                guard transfer.headers.consume(UnsafeRawBufferPointer(start: data, count: length)) else {
                    transfer.headersTooLarge = true
                    return 0
                }
                return length
            })

        var list: UnsafeMutablePointer<curl_slist>? = nil
        var listIsShared = false
        if request.body == nil, !request.headers.isEmpty {
            if let shared = headerLists[request.headers] {
                list = shared
                listIsShared = true
            } else if headerLists.count < Self.maxHeaderLists {
                list = Self.headerList(request.headers)
                if let list { headerLists[request.headers] = list }
                listIsShared = true
            }
        }
        if !listIsShared { list = Self.headerList(request.headers) }
        switch (request.method, request.body) {
        case ("GET", nil): check(ccurl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case ("HEAD", nil): check(ccurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        case (let method, nil):
            check(method.withCString { ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, $0) })
        case (let method, let body?):
            check(ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies the bytes (POSTFIELDSIZE of them, NULs included), so the array need not outlive
            // this call.
            check(
                body.withUnsafeBytes { bytes in
                    guard let base = bytes.baseAddress else {
                        return ccurl_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "")
                    }
                    return ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                })
            if method != "POST" {
                check(method.withCString { ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, $0) })
            }
            list = curl_slist_append(list, "Expect:")  // no 100-continue round trip
        }
        if !listIsShared { transfer.requestHeaders = list }
        if let list { check(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)) }
        return first
    }

    private static func headerList(_ headers: [HTTPHeader]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in headers {
            // "Name;" is libcurl's spelling of a header sent with an empty value.
            let line = header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)"
            list = curl_slist_append(list, line)
        }
        return list
    }

    private func cancel(_ id: UInt64) {
        guard let easy = activeByID[id], let transfer = active[easy] else { return }  // finished meanwhile
        curl_multi_remove_handle(multi, easy)
        finish(transfer, with: .failure(HTTPFetchError.ours(.cancelled, url: transfer.url)))
    }

    private func drainCompletions() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = active[easy]
            else { continue }
            let result = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            finish(transfer, with: result == CURLE_OK ? .success(response(of: transfer)) : .failure(error(for: transfer, result)))
        }
    }

    private func response(of transfer: Transfer) -> HTTPResponse {
        let easy = transfer.easy
        var status = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        var effective: UnsafeMutablePointer<CChar>? = nil
        _ = ccurl_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
        func micros(_ info: CURLINFO) -> Duration {
            var value: curl_off_t = 0
            _ = ccurl_easy_getinfo_off_t(easy, info, &value)
            return .microseconds(value)
        }
        return HTTPResponse(
            status: status,
            headers: transfer.headers.headers,
            body: transfer.body,
            url: effectiveURL(effective, requested: transfer.url),
            httpVersion: Self.versionName(version),
            timings: HTTPTimings(
                total: micros(CURLINFO_TOTAL_TIME_T), connect: micros(CURLINFO_CONNECT_TIME_T),
                firstByte: micros(CURLINFO_STARTTRANSFER_TIME_T)))
    }

    /// The effective URL, sharing the requested string when they are equal (no redirect): no copy per response.
    private func effectiveURL(_ effective: UnsafeMutablePointer<CChar>?, requested: String) -> String {
        guard let effective else { return requested }
        var requested = requested
        let same = requested.withUTF8 { bytes in
            strlen(effective) == bytes.count && memcmp(effective, bytes.baseAddress!, bytes.count) == 0
        }
        return same ? requested : String(cString: effective)
    }

    static func versionName(_ version: Int) -> String {
        switch version {
        case Int(CURL_HTTP_VERSION_1_0): "1.0"
        case Int(CURL_HTTP_VERSION_1_1): "1.1"
        case Int(CURL_HTTP_VERSION_2_0): "2"
        case Int(CURL_HTTP_VERSION_3): "3"
        default: "unknown"
        }
    }

    private func error(for transfer: Transfer, _ result: CURLcode) -> HTTPFetchError {
        let detail = transfer.curlMessage.isEmpty ? String(cString: curl_easy_strerror(result)) : transfer.curlMessage
        if transfer.headersTooLarge {
            return HTTPFetchError(
                code: .protocolError, url: transfer.url,
                message: "response headers exceed \(ResponseHeaderParser.maxBytes) bytes",
                curlCode: Int32(result.rawValue))
        }
        let code = HTTPFetchError.classify(result, overBodyLimit: transfer.overBodyLimit)
        let message =
            code == .bodyTooLarge ? "body exceeds the \(transfer.maxBody)-byte limit (\(detail))" : detail
        return HTTPFetchError(code: code, url: transfer.url, message: message, curlCode: Int32(result.rawValue))
    }

    /// Releases the handle (already removed from the multi) and resumes the caller; the only place that resumes
    /// a continuation the loop owns.
    private func finish(_ transfer: Transfer, with outcome: Result<HTTPResponse, HTTPFetchError>) {
        active[transfer.easy] = nil
        activeByID[transfer.id] = nil
        curl_easy_reset(transfer.easy)  // drops the userdata, error buffer and header list pointers
        if idle.count < maxIdle { idle.append(transfer.easy) } else { curl_easy_cleanup(transfer.easy) }
        if case .failure(let failure) = outcome {
            logger.debug("fetch failed", metadata: ["url": "\(transfer.url)", "error": "\(failure)"])
        }
        transfer.continuation.resume(with: outcome.mapError { $0 as any Error })
    }

    private func stop() {
        for transfer in Array(active.values) {
            curl_multi_remove_handle(multi, transfer.easy)
            finish(transfer, with: .failure(HTTPFetchError.ours(.shutdown, url: transfer.url)))
        }
        for easy in idle { curl_easy_cleanup(easy) }
        idle = []
        for list in headerLists.values { curl_slist_free_all(list) }
        headerLists = [:]
        let (waiters, jobs) = shared.inbox.withLock { inbox in
            inbox.state = .stopped
            defer {
                inbox.shutdownWaiters = []
                inbox.jobs = []
            }
            return (inbox.shutdownWaiters, inbox.jobs)
        }
        for job in jobs { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
        curl_multi_cleanup(multi)
        #if os(Linux)
        ccurl_events_close(shared.events)  // after the cleanup, whose socket callbacks still use it
        shared.events.deallocate()
        #endif
        for waiter in waiters { waiter.resume() }
    }
}

/// Whole milliseconds, at least 1 (libcurl reads 0 as "no timeout").
func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0 else { return 1 }
    let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    if overflow { return Int.max }
    return max(1, Int(product) + Int(attoseconds / 1_000_000_000_000_000))
}
