import DevServeTestSupport
import Foundation
import NIOCore
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

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
            tls: tls ? PlaintextTLSStandIn.setup : nil,
            configure: { $0.limits.writeStallTimeout = .milliseconds(500) }
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
            tls: tls ? PlaintextTLSStandIn.setup : nil,
            configure: { $0.limits.writeStallTimeout = .milliseconds(500) }
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

    // MARK: Answers held in memory

    /// A page of about 3 MB (read whole with live reload on, for the injected script) and a 100 KB
    /// file (cached).
    static func memoryTree() throws -> TempTree {
        let tree = try TempTree()
        try tree.write(
            "page.html", "<html><head></head><body>" + String(repeating: "p", count: 3_000_000) + "</body></html>")
        try tree.write("m100k.bin", String(repeating: "m", count: 100_000))
        return tree
    }

    /// Reads until the server closes, an error, or a 5 s silence; returns the bytes and whether
    /// the server closed.
    static func drain(
        _ descriptor: CInt, chunk size: Int = 64 * 1024, pause: UInt32 = 0
    ) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: size)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return (received, true) }
            if count < 0 { return (received, false) }
            received += chunk[..<count]
            if pause > 0 { usleep(pause) }
        }
    }

    /// The last answer before a close, a large page in memory, to a client that reads nothing;
    /// and fifty pipelined answers over the high-water mark, which must not be taken for a head
    /// that did not arrive (no 408).
    @Test(arguments: [
        "GET /page.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        String(repeating: "GET /m100k.bin HTTP/1.1\r\nHost: localhost\r\n\r\n", count: 50),
    ])
    func aClientThatStopsReadingAnswersHeldInMemoryIsClosed(requests: String) async throws {
        let tree = try Self.memoryTree()
        let logs = LogRecorder()
        try await TestServer.with(
            root: tree.path, logger: logs.logger,
            configure: {
                $0.limits.writeStallTimeout = .milliseconds(500)
                $0.limits.headTimeout = .milliseconds(300)
                $0.changeHub = ChangeHub()  // live reload on: the page is read whole and injected
            }
        ) { server in
            try await offPool {
                let descriptor = try connectTCP(
                    host: "127.0.0.1", port: server.port, timeoutSeconds: 5, receiveBuffer: 4096)
                defer { close(descriptor) }
                try sendAll(descriptor, Array(requests.utf8))
                usleep(2_500_000)
                let (bytes, closed) = Self.drain(descriptor)
                #expect(closed, "the server kept a client that stopped reading")
                #expect(bytes.count < 3_000_000, "everything arrived: the connection was never dropped")
            }
            #expect(!logs.messages(at: .info).contains { $0.contains(" 408 ") }, "\(logs.messages(at: .info))")
        }
    }

    /// Slow readers of large answers keep taking them, so they are not cut: a 3 MB injected
    /// page (within the kernel's buffers) read at 3 MB/s, and, past those buffers (up to 4 MB on
    /// loopback, whose writer wakes only when a third is free), a 6 MB page and a 6 MB file read
    /// at 1.6 MB/s, where what the kernel says the peer acknowledged is the progress.
    @Test(arguments: [("/page.html", 64 * 1024), ("/large.html", 32 * 1024), ("/big.bin", 32 * 1024)])
    func aSlowReaderThatKeepsReadingIsNotCut(path: String, chunk: Int) async throws {
        let tree = try Self.memoryTree()
        try tree.write(
            "large.html", "<html><head></head><body>" + String(repeating: "p", count: 6_000_000) + "</body></html>")
        try tree.sparseFile("big.bin", bytes: 6 << 20)
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.limits.writeStallTimeout = .milliseconds(500)
                $0.changeHub = ChangeHub()  // live reload on: pages are read whole and injected
            }
        ) { server in
            try await offPool {
                let descriptor = try connectTCP(
                    host: "127.0.0.1", port: server.port, timeoutSeconds: 5, receiveBuffer: CInt(chunk))
                defer { close(descriptor) }
                try sendAll(
                    descriptor, Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
                let started = ContinuousClock.now
                let (bytes, closed) = Self.drain(descriptor, chunk: chunk, pause: 20_000)
                #expect(closed, "the answer ends with the close it asked for")
                #expect(bytes.count > (path == "/page.html" ? 3_000_000 : 6_000_000), "cut after \(bytes.count) bytes")
                if path.hasSuffix(".html") {
                    let text = String(decoding: bytes, as: UTF8.self)
                    #expect(text.hasSuffix("</html>"), "the whole page arrived")
                    #expect(text.contains("/__devserve/client.js"), "the page was injected, so held in memory")
                }
                #expect(ContinuousClock.now - started > .milliseconds(500), "the download was not slow enough to test")
            }
        }
    }
}
