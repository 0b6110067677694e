#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a blocking call on a fresh detached thread and awaits its result, keeping the cooperative pool free.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        startDetachedThread { continuation.resume(returning: body()) }
    }
}

/// Runs `body` on a fresh detached thread (or here, if no thread can be created) and returns at once.
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    let job = ThreadJob(body)
    let arg = Unmanaged.passRetained(job).toOpaque()
    #if canImport(Glibc)
    var thread = pthread_t()
    #else
    var thread: pthread_t?
    #endif
    let rv = pthread_create(&thread, nil, { arg in
        Unmanaged<ThreadJob>.fromOpaque(arg!).takeRetainedValue().run()
        return nil
    }, arg)
    if rv == 0 {
        #if canImport(Glibc)
        pthread_detach(thread)
        #else
        if let thread { pthread_detach(thread) }
        #endif
    } else {
        // No thread available: run here rather than never.
        Unmanaged<ThreadJob>.fromOpaque(arg).takeRetainedValue().run()
    }
}

private final class ThreadJob: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
