import DevServeTestSupport
import Foundation
import NIOCore
import NIOTLS

@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

// Helpers for the integration suites (HTTPSemanticsIntegrationTests, SecurityIntegrationTests):
// deterministic file contents, in-place rewrites, a client with millisecond timeouts for the
// timing tests, and a way to run blocking socket code off Swift's cooperative thread pool.

/// Deterministic pseudo-random bytes (xorshift), so large-file comparisons catch any misplaced byte.
func patternBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}

extension TempTree {
    @discardableResult
    func write(_ relative: String, bytes: [UInt8]) throws -> String {
        try write(relative, Data(bytes))
    }

    /// Rewrites a file in place (same inode: open with O_TRUNC, write), as most editors and build
    /// tools do, so only size and modification time can tell the versions apart.
    func overwriteInPlace(_ relative: String, _ bytes: [UInt8]) throws {
        let full = path + "/" + relative
        let descriptor = open(full, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else { throw TestError("open \(full) failed: errno \(errno)") }
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw TestError("write \(full) failed: errno \(errno)") }
            offset += written
        }
    }

    func overwriteInPlace(_ relative: String, _ text: String) throws {
        try overwriteInPlace(relative, Array(text.utf8))
    }

    /// A sparse file of `bytes` zeros: large downloads without writing them to disk.
    func sparseFile(_ relative: String, bytes: Int) throws {
        let path = try write(relative, "")
        let descriptor = open(path, O_WRONLY)
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(bytes)) == 0 else { throw TestError("ftruncate \(path) failed") }
    }
}

extension RawResponse {
    /// Every header but `Date`, which may change between two responses.
    var headersWithoutDate: [String] {
        headers.filter { $0.0.lowercased() != "date" }.map { "\($0.0.lowercased()): \($0.1)" }
    }
}

/// Runs blocking socket code on threads of its own, so tests that wait on timeouts do not hold
/// one of the few cooperative threads (2 on this machine) that every other test needs. The body
/// stays in the calling task (a task executor preference), so `#expect` failures inside it are
/// attributed to the right test.
func offPool<T: Sendable>(_ body: () async throws -> T) async throws -> T {
    try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) { try await body() }
}

/// A task executor that runs every job on a fresh thread: made for blocking test code only.
final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread { unowned.runSynchronously(on: executor) }
        thread.start()
    }
}

/// Milliseconds elapsed since `start`.
func milliseconds(since start: ContinuousClock.Instant) -> Int {
    let elapsed = ContinuousClock.now - start
    return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
}

/// A raw TCP client whose waits are bounded in milliseconds, for the tests about timeouts, the
/// connection cap and connections that must (or must not) be answered or closed.
final class TimedClient {
    private let descriptor: CInt
    private var buffer: [UInt8] = []
    private(set) var sawEOF = false

    init(host: String = "127.0.0.1", port: Int) throws {
        descriptor = try connectTCP(host: host, port: port)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Closes the connection now (the server sees EOF).
    func shutdownBoth() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        try sendAll(descriptor, bytes)
    }

    /// Waits up to `timeoutMilliseconds` for bytes or EOF; true when something arrived (or EOF).
    @discardableResult
    func receive(timeoutMilliseconds: Int) throws -> Bool {
        if sawEOF { return true }
        var descriptorSet = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptorSet, 1, Int32(timeoutMilliseconds))
        if ready < 0 { throw TestError("poll failed: errno \(errno)") }
        if ready == 0 { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
        } else if count == 0 || errno == ECONNRESET {
            sawEOF = true
        } else {
            throw TestError("recv failed: errno \(errno)")
        }
        return true
    }

    /// True when no byte arrives and the connection stays open for `milliseconds`.
    func staysSilent(forMilliseconds milliseconds: Int) throws -> Bool {
        let start = ContinuousClock.now
        while true {
            let left = milliseconds - DevServeCoreTests.milliseconds(since: start)
            if left <= 0 { return buffer.isEmpty && !sawEOF }
            if try receive(timeoutMilliseconds: left) { return false }
        }
    }

    /// Reads until the peer closes, at most `timeoutMilliseconds`; true when it closed in time.
    func waitForClose(timeoutMilliseconds: Int) throws -> Bool {
        let start = ContinuousClock.now
        while !sawEOF {
            let left = timeoutMilliseconds - milliseconds(since: start)
            if left <= 0 { return false }
            try receive(timeoutMilliseconds: left)
        }
        return true
    }

    /// Everything received so far, as text (the buffer is kept).
    var receivedText: String { String(decoding: buffer, as: UTF8.self) }

    /// Reads one response (Content-Length bodies only) within `timeoutMilliseconds`.
    func readResponse(timeoutMilliseconds: Int = 5000, bodyExpected: Bool = true) throws -> RawResponse {
        let start = ContinuousClock.now
        func more() throws {
            let left = timeoutMilliseconds - milliseconds(since: start)
            guard left > 0, try receive(timeoutMilliseconds: left) else {
                throw TestError(
                    "no complete response within \(timeoutMilliseconds) ms (have: \(receivedText.prefix(200)))")
            }
            if sawEOF {
                throw TestError("connection closed before a complete response (have: \(receivedText.prefix(200)))")
            }
        }
        let terminator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first { buffer[$0..<($0 + 4)].elementsEqual(terminator) }
            }
            if headEnd == nil { try more() }
        }
        guard let headEnd else { throw TestError("no head") }
        var response = try RawResponse(head: buffer[..<headEnd])
        buffer.removeSubrange(..<(headEnd + 4))
        if bodyExpected, response.status != 304, response.status != 204,
            let lengthText = response.header("content-length"),
            let length = Int(lengthText)
        {
            while buffer.count < length { try more() }
            response.body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)
        }
        return response
    }
}

/// Stands in for the TLS handler in `ServerConfiguration.tls`, so the connections' TLS code paths
/// (streamed file bodies, ALPN) run over a real socket without OpenSSL: the client sends one 0x16
/// byte (what the sniffer takes for a ClientHello), then plain HTTP/1.1; the byte is dropped and
/// the handshake reported done with `http/1.1`.
final class PlaintextTLSStandIn: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static var setup: TLSSetup { TLSSetup(makeHandler: { PlaintextTLSStandIn() }) }

    private var handshaken = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if !handshaken {
            handshaken = true
            bytes.moveReaderIndex(forwardBy: 1)
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "http/1.1"))
        }
        if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
    }
}

@available(*, unavailable)
extension PlaintextTLSStandIn: Sendable {}
