#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a blocking call on a fresh detached thread and awaits its result, keeping the cooperative pool free.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let job = ThreadJob { continuation.resume(returning: body()) }
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
            // No thread available: run here rather than never resuming.
            Unmanaged<ThreadJob>.fromOpaque(arg).takeRetainedValue().run()
        }
    }
}

private final class ThreadJob: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
