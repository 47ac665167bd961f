import DevServeTestSupport
import Foundation
import Testing

@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

/// A client that shuts its side after its requests (`nc -N`, an HTTP/1.0-style script) gets every
/// answer it asked for, whole, then the close; and the log says what really went out.
@Suite struct HalfCloseTests {
    static let fileBytes = 24 << 20

    /// `big.bin` (sparse, `fileBytes`, sent with sendfile) and `small.txt`.
    static func tree() throws -> TempTree {
        let tree = try TempTree()
        try tree.write("small.txt", "hello")
        try tree.sparseFile("big.bin", bytes: fileBytes)
        return tree
    }

    /// Sends `requests`, shuts the write side, and reads until the server closes; nil if it did
    /// not close within 5 s of silence.
    static func halfClosedExchange(port: Int, _ requests: String) throws -> [UInt8]? {
        let descriptor = try connectTCP(host: "127.0.0.1", port: port, timeoutSeconds: 5)
        defer { close(descriptor) }
        try sendAll(descriptor, Array(requests.utf8))
        shutdown(descriptor, Int32(SHUT_WR))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return received }
            if count < 0 { return errno == ECONNRESET ? received : nil }
            received += chunk[..<count]
        }
    }

    static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n" }

    /// The status lines of the responses in `bytes`, walking them by Content-Length.
    static func statuses(_ bytes: [UInt8]) -> [(status: String, body: Int)] {
        var found: [(String, Int)] = []
        var index = 0
        let end: [UInt8] = [13, 10, 13, 10]
        while index < bytes.count,
            let headEnd = (index..<(bytes.count - 3)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(end) })
        {
            let head = String(decoding: bytes[index..<headEnd], as: UTF8.self)
            let length =
                head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let body = min(length, bytes.count - (headEnd + 4))
            found.append((String(head.split(separator: "\r\n").first ?? ""), body))
            index = headEnd + 4 + body
        }
        return found
    }

    /// Plain (sendfile) and through the TLS code path (streamed chunks).
    @Test(arguments: [false, true])
    func aHalfClosedClientGetsTheWholeFileAndTheLogSaysSo(tls: Bool) async throws {
        let tree = try Self.tree()
        let logs = LogRecorder()
        try await TestServer.with(
            root: tree.path, logger: logs.logger, tls: tls ? PlaintextTLSStandIn.setup : nil
        ) { server in
            let received = try await offPool {
                try Self.halfClosedExchange(port: server.port, (tls ? "\u{16}" : "") + Self.get("/big.bin"))
            }
            let bytes = try #require(received, "the server never closed")
            let answers = Self.statuses(bytes)
            #expect(answers.map(\.status) == ["HTTP/1.1 200 OK"])
            #expect(answers.first?.body == Self.fileBytes, "the whole file, not a truncated one")
            #expect(logs.messages(at: .info).contains { $0.hasPrefix("GET /big.bin 200 \(Self.fileBytes) B") })
        }
    }

    @Test func pipelinedRequestsBeforeTheHalfCloseAreAllAnswered() async throws {
        let tree = try Self.tree()
        try await TestServer.with(root: tree.path) { server in
            let requests = Self.get("/small.txt") + Self.get("/big.bin") + Self.get("/missing") + Self.get("/small.txt")
            let received = try await offPool { try Self.halfClosedExchange(port: server.port, requests) }
            let answers = Self.statuses(try #require(received, "the server never closed"))
            #expect(
                answers.map(\.status) == [
                    "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK",
                ])
            #expect(answers.map(\.body).prefix(2) == [5, Self.fileBytes])
        }
    }

    /// A head cut off by the client's FIN will never complete: the connection closes at once,
    /// not after the head timeout.
    @Test func aPartialHeadThenHalfCloseEndsTheConnection() async throws {
        let tree = try Self.tree()
        try await TestServer.with(root: tree.path, configure: { $0.limits.headTimeout = .seconds(60) }) { server in
            let received = try await offPool {
                try Self.halfClosedExchange(port: server.port, "GET /small.txt HTTP/1.1\r\nHost: loc")
            }
            #expect(received == [], "closed with nothing sent, within 5 s (the head timeout is 60 s)")
        }
    }

    /// A download the client abandons is logged with the bytes that went out, not Content-Length.
    @Test func aDownloadCutShortIsLoggedWithTheBytesSent() async throws {
        let tree = try Self.tree()
        let logs = LogRecorder()
        try await TestServer.with(root: tree.path, logger: logs.logger) { server in
            try await offPool {
                let descriptor = try connectTCP(
                    host: "127.0.0.1", port: server.port, timeoutSeconds: 5, receiveBuffer: 16 * 1024)
                try sendAll(descriptor, Array(Self.get("/big.bin").utf8))
                var chunk = [UInt8](repeating: 0, count: 64 * 1024)
                _ = recv(descriptor, &chunk, chunk.count, 0)
                var linger = linger(l_onoff: 1, l_linger: 0)  // close with a reset, as a killed client does
                setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                close(descriptor)
            }
            var line: String?
            for _ in 0..<100 where line == nil {
                line = logs.messages(at: .info).first { $0.hasPrefix("GET /big.bin 200 ") }
                if line == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let logged = try #require(line, "the abandoned download was logged")
            let bytes = try #require(Int(logged.split(separator: " ")[3]))
            #expect(bytes < Self.fileBytes, "\(logged): the log claims the whole file went out")
        }
    }
}
