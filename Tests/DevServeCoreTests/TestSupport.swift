import DevServeServer
import DevServeSite
import DevServeTestSupport
import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder with files, removed when the test is done.
final class TempTree {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/devserve-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestError("mkdtemp failed") }
        path = String(cString: made)
    }

    /// Writes `contents` at `relative` (folders made as needed) and returns the full path.
    @discardableResult
    func write(_ relative: String, _ contents: String) throws -> String {
        try write(relative, Data(contents.utf8))
    }

    @discardableResult
    func write(_ relative: String, _ data: Data) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: full))
        return full
    }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }

    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: target)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A devserve server on a free loopback port, for one test.
struct TestServer {
    let server: Server
    var port: Int { server.port }

    /// With `logger`, requests are logged to it (`logRequests`); without, not at all.
    static func start(
        root: String, hosts: [String] = ["127.0.0.1"], logger: Logger? = nil, tls: TLSSetup? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let realRoot = try realPath(root)
        var configuration = ServerConfiguration(root: realRoot, logRequests: logger != nil)
        configure(&configuration)
        let server = try await Server.start(
            site: configuration, tls: tls, hosts: hosts, port: .any, logger: logger ?? Logger(label: "test"))
        return TestServer(server: server)
    }

    func stop() async {
        await server.shutdown()
    }

    /// Runs `body` against a fresh server and always stops it afterwards.
    static func with<T>(
        root: String, hosts: [String] = ["127.0.0.1"], logger: Logger? = nil, tls: TLSSetup? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let server = try await start(root: root, hosts: hosts, logger: logger, tls: tls, configure: configure)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    static func realPath(_ path: String) throws -> String {
        guard let real = realpath(path, nil) else { throw TestError("realpath \(path) failed") }
        defer { free(real) }
        return String(cString: real)
    }
}

/// An HTTP response as read off the wire.
struct RawResponse {
    var statusLine: String
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// A response with no body yet, from the bytes of its head (without the final CRLFCRLF).
    init(head: ArraySlice<UInt8>) throws {
        var lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw TestError("bad status line: \(statusLine)") }
        status = code
        headers = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            return (String(line[..<colon]), value)
        }
        body = []
    }

    init(statusLine: String, status: Int, headers: [(String, String)], body: [UInt8]) {
        self.statusLine = statusLine
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A blocking TCP client speaking raw HTTP/1.1, so tests control every byte sent and see every
/// byte received. Every read has a timeout; nothing waits forever.
final class RawClient {
    private let descriptor: CInt
    private var buffer: [UInt8] = []

    init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Int = 5) throws {
        descriptor = try connectTCP(host: host, port: port)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        try sendAll(descriptor, bytes)
    }

    /// Sends a GET (or other method) with Host 127.0.0.1 and the given extra header lines.
    func request(
        _ method: String = "GET", _ target: String, headers: [String] = [], host: String? = "localhost"
    )
        throws
    {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if let host { text += "Host: \(host)\r\n" }
        for header in headers { text += header + "\r\n" }
        text += "\r\n"
        try send(text)
    }

    /// Reads one response; `bodyExpected: false` for HEAD.
    func readResponse(bodyExpected: Bool = true) throws -> RawResponse {
        let headEnd = try readUntilHeadEnd()
        var response = try RawResponse(head: buffer[..<headEnd])
        buffer.removeSubrange(..<(headEnd + 4))
        let noBody =
            !bodyExpected || response.status == 304 || response.status == 204 || (100..<200).contains(response.status)
        if !noBody {
            if let lengthText = response.header("content-length"), let length = Int(lengthText) {
                try fill(length)
                response.body = Array(buffer[..<length])
                buffer.removeSubrange(..<length)
            } else {
                // Until close.
                while try readMore() {}
                response.body = buffer
                buffer.removeAll()
            }
        }
        return response
    }

    /// True when the server closed the connection (reads EOF within the timeout).
    func isClosedByPeer() -> Bool {
        do {
            while try readMore() {}
            return true
        } catch {
            return false
        }
    }

    private func readUntilHeadEnd() throws -> Int {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var searchFrom = 0
        while true {
            if buffer.count >= 4 {
                for index in searchFrom...(buffer.count - 4) where Array(buffer[index..<(index + 4)]) == terminator {
                    return index
                }
                searchFrom = max(0, buffer.count - 3)
            }
            guard try readMore() else { throw TestError("connection closed before a response head") }
        }
    }

    private func fill(_ count: Int) throws {
        while buffer.count < count {
            guard try readMore() else { throw TestError("connection closed mid-body") }
        }
    }

    /// Reads what is available; false on EOF, throws on timeout or error.
    @discardableResult
    func readMore() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
            return true
        }
        if count == 0 { return false }
        if errno == ECONNRESET { return false }
        throw TestError("recv failed or timed out: errno \(errno)")
    }

    /// Shortcut: one request, one response.
    static func get(
        _ target: String, port: Int, host: String = "127.0.0.1", method: String = "GET", headers: [String] = [],
        hostHeader: String? = "localhost"
    ) throws -> RawResponse {
        let client = try RawClient(host: host, port: port)
        try client.request(method, target, headers: headers, host: hostHeader)
        return try client.readResponse(bodyExpected: method != "HEAD")
    }
}

/// A connected TCP socket to `host` (an IPv4 or IPv6 literal) and `port`, blocking.

// What the command line assembles (ServeCommand.swift), assembled the same way for the tests.
extension ConnectionSettings {
    /// The connection limits and logging `configuration` sets.
    init(_ configuration: ServerConfiguration) {
        self.init(limits: configuration.limits.connection, logRequests: configuration.logRequests)
    }
}

extension Server {
    /// Serves the site `configuration` describes, on one event loop.
    static func start(
        site configuration: ServerConfiguration, tls: TLSSetup? = nil, hosts: [String], port: PortChoice,
        logger: Logger
    ) async throws(ServerError) -> Server {
        try await start(
            responder: FileResponder(configuration: configuration), settings: ConnectionSettings(configuration),
            tls: tls, hosts: hosts, port: port, logger: logger, threads: 1)
    }
}
