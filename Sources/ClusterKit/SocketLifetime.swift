import Logging
import NNGKit

/// Runs `body` with a new socket and closes it afterwards, whether `body` returns or throws, without blocking a
/// thread of the cooperative pool. A close that does not finish in `closeTimeout` (libnng 1.5.2 can hang in
/// `nng_close`) is logged and left to finish on its own thread, so a stopping service never hangs on it.
func withSocket<T>(
    _ kind: NNGSocket.Kind, logger: Logger, closeTimeout: Duration = .seconds(5), _ body: (NNGSocket) async throws -> T
) async throws -> T {
    let socket = try NNGSocket(kind)
    let result: Result<T, any Error>
    do {
        result = .success(try await body(socket))
    } catch {
        result = .failure(error)
    }
    if !(await socket.close(waitingAtMost: closeTimeout)) {
        logger.warning("nng socket close did not finish; left to finish on its own thread", metadata: [
            "socket": "\(kind.rawValue)", "waited": "\(closeTimeout)", "abandonedCloses": "\(NNGSocket.abandonedCloses)",
        ])
    }
    return try result.get()
}
