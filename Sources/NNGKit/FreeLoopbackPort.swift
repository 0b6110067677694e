#if canImport(Glibc)
    import Glibc
    private let streamSocket = Int32(SOCK_STREAM.rawValue)
#elseif canImport(Darwin)
    import Darwin
    private let streamSocket = SOCK_STREAM
#endif

/// A loopback TCP port nobody listens on, for a listener that must keep its address (a child process told the
/// port, as `webtoon run` tells its coordinator, or a coordinator restarted on the same address). Chosen below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 here): a port the kernel handed out for `:0` can be
/// taken again, between the probe and the real listen, as the local port of any outgoing connection of the tests
/// running alongside (curl, PostgreSQL, nng), which made coordinators fail with "address in use". Below the range
/// only another listener can take it, and the probe's bind checks that.
public func freeLoopbackPort() throws -> Int {
    for _ in 0..<50 {
        let port = Int.random(in: 20_000..<32_000)
        if canBindLoopback(port: UInt16(port)) { return port }
    }
    throw FreePortError(description: "no free loopback port in 20000..<32000 after 50 tries")
}

public struct FreePortError: Error, CustomStringConvertible {
    public let description: String
}

private func canBindLoopback(port: UInt16) -> Bool {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    // SO_REUSEADDR as nng sets it, so a port in TIME_WAIT from an earlier test counts as free, as it is for nng.
    var one: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return bound == 0 && listen(fd, 1) == 0
}
