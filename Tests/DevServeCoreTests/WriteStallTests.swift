import DevServeTestSupport
import Foundation
import NIOCore
import Testing

@testable import DevServeCore

#if canImport(Glibc)
    import Glibc
#endif

/// A client that stops reading is closed after `writeStallTimeout`; one that keeps reading is
/// not, however long its download takes.
@Suite struct WriteStallTests {
    static let fileBytes = 32 << 20

    /// A served folder with `big.bin`, a sparse file of `fileBytes`.
    static func tree() throws -> TempTree {
        let tree = try TempTree()
        let path = try tree.write("big.bin", "")
        let descriptor = open(path, O_WRONLY)
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(fileBytes)) == 0 else { throw TestError("ftruncate failed") }
        return tree
    }

    /// A loopback socket whose receive buffer is set before it connects (so the window is small).
    static func connect(port: Int, receiveBuffer: CInt?) throws -> CInt {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestError("socket failed") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw TestError("connect failed: errno \(errno)")
        }
        return descriptor
    }

    /// Reads until EOF, an error, a 5 s silence, or the whole body, pausing `pause` microseconds
    /// between reads; returns the body bytes received and whether the server closed.
    static func readAll(_ descriptor: CInt, pause: UInt32 = 0) -> (body: Int, closed: Bool) {
        var head: [UInt8] = []
        var body = -1
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while body < fileBytes {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return (max(body, 0), true) }
            if count < 0 { return (max(body, 0), false) }  // the 5 s receive timeout: still open
            if body < 0 {
                head += chunk[..<count]
                if let end = head.indices.first(where: { head[$0...].starts(with: [13, 10, 13, 10]) }) {
                    body = head.count - (end + 4)
                }
            } else {
                body += count
            }
            if pause > 0 { usleep(pause) }
        }
        return (body, false)
    }

    static let request = "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"

    @Test func aClientThatStopsReadingIsClosed() async throws {
        let tree = try Self.tree()
        try await TestServer.with(
            root: tree.path, configure: { $0.limits.writeStallTimeout = .milliseconds(500) }
        ) { server in
            try await offPool {
                let descriptor = try Self.connect(port: server.port, receiveBuffer: 4096)
                defer { close(descriptor) }
                try sendAll(descriptor, Array(Self.request.utf8))
                // Read nothing for well past the stall limit, then take what is left.
                usleep(2_500_000)
                let (bytes, closed) = Self.readAll(descriptor)
                #expect(closed, "the server kept a client that stopped reading")
                #expect(bytes < Self.fileBytes, "the whole file arrived: the connection was never dropped")
            }
        }
    }

    @Test func aClientThatKeepsReadingIsNotCut() async throws {
        let tree = try Self.tree()
        try await TestServer.with(
            root: tree.path, configure: { $0.limits.writeStallTimeout = .milliseconds(500) }
        ) { server in
            try await offPool {
                let descriptor = try Self.connect(port: server.port, receiveBuffer: 64 * 1024)
                defer { close(descriptor) }
                try sendAll(descriptor, Array(Self.request.utf8))
                // Slower than the socket allows (a pause after every read), so the download
                // takes longer than the stall limit; it keeps progressing, so it is not cut.
                let started = ContinuousClock.now
                let (bytes, closed) = Self.readAll(descriptor, pause: 5_000)
                #expect(!closed)
                #expect(bytes == Self.fileBytes)
                #expect(ContinuousClock.now - started > .milliseconds(500), "the download was not slow enough to test")
            }
        }
    }
}
