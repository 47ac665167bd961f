import DevServeTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `devserve` binary, run as a user would run it, with output captured in files.
final class DevServeProcess {
    let process = Process()
    let outputPath: String
    let errorPath: String

    /// The executable next to the test bundle in the build folder.
    static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var folder = (exe as NSString).deletingLastPathComponent
        if folder.hasSuffix(".xctest") || folder.contains(".xctest/") {
            while folder.contains(".xctest") { folder = (folder as NSString).deletingLastPathComponent }
        }
        return folder + "/devserve"
    }

    /// Starts `devserve ARGS`; `asUser` runs it as another user through setpriv (root only).
    init(
        _ arguments: [String], workingDirectory: String? = nil, asNobody: Bool = false,
        environment: [String: String]? = nil
    ) throws {
        let stamp = UUID().uuidString
        outputPath = NSTemporaryDirectory() + "/devserve-out-\(stamp)"
        errorPath = NSTemporaryDirectory() + "/devserve-err-\(stamp)"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        if asNobody {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        }
        // A test run started with sudo must not make every devserve think it acts for that user;
        // the tests of that set SUDO_* themselves.
        let inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SUDO_") }
        process.environment = inherited.merging(environment ?? [:]) { $1 }
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(atPath: outputPath)
        try? FileManager.default.removeItem(atPath: errorPath)
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Waits (at most `seconds`) for the process to exit and returns its status.
    func waitForExit(seconds: Double = 15) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            process.terminate()
            throw CLITestError("devserve did not exit within \(seconds) s")
        }
        return process.terminationStatus
    }

    /// Waits (at most `seconds`) until stdout contains `text`; returns stdout.
    @discardableResult
    func waitForOutput(containing text: String, seconds: Double = 15) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let current = output
            if current.contains(text) { return current }
            if !process.isRunning { break }
            usleep(20_000)
        }
        throw CLITestError("stdout never showed '\(text)'; stdout: \(output) stderr: \(errorOutput)")
    }

    /// The port of the first `http://127.0.0.1:PORT/` URL in the start-up block.
    func waitForPort() throws -> Int {
        let text = try waitForOutput(containing: "http://127.0.0.1:")
        guard let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) else {
            throw CLITestError("no URL in \(text)")
        }
        let url = text[range]
        return Int(url.dropFirst("http://127.0.0.1:".count).dropLast()) ?? 0
    }

    func stop() throws -> Int32 {
        process.terminate()  // SIGTERM
        return try waitForExit()
    }
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Minimal HTTP over a socket for the CLI tests.
enum HTTP {
    static func get(
        _ path: String, port: Int, host: String = "127.0.0.1", hostHeader: String = "localhost",
        timeoutSeconds: Int = 5
    ) throws -> (status: Int, head: String, body: String) {
        let socket = try RawSocket(host: host, port: port, timeoutSeconds: timeoutSeconds)
        let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n"
        socket.send(Array(request.utf8))
        let received = socket.readUntilClosed()
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw CLITestError("no response head: \(text)") }
        let head = String(text[..<split.lowerBound])
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, head, String(text[split.upperBound...]))
    }

    /// A listening socket holding `port` on 127.0.0.1, or nil if the port is taken already.
    static func occupy(port: Int) -> CInt? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A free port number (bound and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A temporary folder for one test.
final class TempFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "/devserve-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String) throws {
        let full = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Running command-line tools (curl, openssl, certutil) and reading what they print.
enum Tool {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ path: String, _ arguments: [String], input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: output)
    }
}

/// A raw TCP client (IPv4 or IPv6) for bytes that are not HTTP or not TLS, and for `HTTP.get`.
final class RawSocket {
    private var descriptor: CInt

    init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Int = 5) throws {
        descriptor = try connectTCP(host: host, port: port, timeoutSeconds: timeoutSeconds)
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything the server sends until it closes (or the timeout passes).
    func readUntilClosed() -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += chunk[..<count]
        }
        return received
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
