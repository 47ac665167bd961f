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
        try tree.sparseFile("big.bin", bytes: fileBytes)
        return tree
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

    /// Plain (sendfile) and through the TLS code path (streamed chunks).
    @Test(arguments: [false, true])
    func aClientThatStopsReadingIsClosed(tls: Bool) async throws {
        let tree = try Self.tree()
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.limits.writeStallTimeout = .milliseconds(500)
                if tls { $0.tls = PlaintextTLSStandIn.setup }
            }
        ) { server in
            try await offPool {
                let descriptor = try connectTCP(
                    host: "127.0.0.1", port: server.port, timeoutSeconds: 5, receiveBuffer: 4096)
                defer { close(descriptor) }
                try sendAll(descriptor, (tls ? [0x16] : []) + Array(Self.request.utf8))
                // Read nothing for well past the stall limit, then take what is left.
                usleep(2_500_000)
                let (bytes, closed) = Self.readAll(descriptor)
                #expect(closed, "the server kept a client that stopped reading")
                #expect(bytes < Self.fileBytes, "the whole file arrived: the connection was never dropped")
            }
        }
    }

    /// Plain (sendfile) and through the TLS code path (streamed chunks).
    @Test(arguments: [false, true])
    func aClientThatKeepsReadingIsNotCut(tls: Bool) async throws {
        let tree = try Self.tree()
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.limits.writeStallTimeout = .milliseconds(500)
                if tls { $0.tls = PlaintextTLSStandIn.setup }
            }
        ) { server in
            try await offPool {
                let descriptor = try connectTCP(
                    host: "127.0.0.1", port: server.port, timeoutSeconds: 5, receiveBuffer: 64 * 1024)
                defer { close(descriptor) }
                try sendAll(descriptor, (tls ? [0x16] : []) + Array(Self.request.utf8))
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
