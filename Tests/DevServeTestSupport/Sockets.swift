#if canImport(Glibc)
    import Glibc
#endif

/// Raw loopback sockets for the test targets that talk to a real server: bytes that are not
/// HTTP, not TLS, or not well-formed, sent exactly as written.
public struct SocketError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A connected TCP socket to `host` (an IPv4 or IPv6 literal) and `port`. With `timeoutSeconds`,
/// reads give up after that long instead of waiting for ever; `receiveBuffer` sets SO_RCVBUF
/// before connecting, so the window the client offers stays that small.
public func connectTCP(
    host: String, port: Int, timeoutSeconds: Int? = nil, receiveBuffer: CInt? = nil
) throws -> CInt {
    let isV6 = host.contains(":")
    let descriptor = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw SocketError("socket failed: errno \(errno)") }
    if var size = receiveBuffer {
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
    }
    if let timeoutSeconds {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    let result: CInt
    if isV6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET6, host, &address.sin6_addr)
        result = connect(descriptor, to: address)
    } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        result = connect(descriptor, to: address)
    }
    guard result == 0 else {
        let code = errno
        close(descriptor)
        throw SocketError("connect to \(host):\(port) failed: errno \(code)")
    }
    return descriptor
}

/// connect(2) with a `sockaddr_in` or `sockaddr_in6`.
private func connect<Address>(_ descriptor: CInt, to address: Address) -> CInt {
    withUnsafePointer(to: address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<Address>.size))
        }
    }
}

/// Sends every byte of `bytes` on a connected socket.
public func sendAll(_ descriptor: CInt, _ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes[offset...].withUnsafeBytes {
            send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
        }
        guard sent > 0 else { throw SocketError("send failed: errno \(errno)") }
        offset += sent
    }
}
