import DevServeLiveReload
import DevServeServer
import DevServeSite
import DevServeSystem
import DevServeTLS
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What `devserve` will do, worked out from the flags before anything listens: the real root,
/// the addresses, the port rule and the server configuration. Tests build it too.
public struct LaunchPlan: Sendable {
    public var configuration: ServerConfiguration
    /// HTTPS (HTTP/2 and HTTP/1.1) when set; plain HTTP otherwise.
    public var tls: TLSSetup?
    public var listenHosts: [String]
    public var port: Server.PortChoice
    /// Listening on the default loopback pair (so a missing ::1 may be skipped).
    public var isDefaultHosts: Bool
    /// Folders the watcher watches: the root, then each `--watch` folder (real paths).
    public var watchRoots: [String]
    public var ignoreGlobs: [String]
    public var forcePolling: Bool
    /// The folder devserve runs from: where `certs/` is.
    public var workingDirectory: String

    public static let defaultPort = 8080
    /// How many ports from 8080 are tried when the default port is busy.
    public static let defaultPortAttempts = 20

    public init(options: ServeCommand, workingDirectory: String? = nil) throws {
        let cwd = workingDirectory ?? Paths.currentDirectory()
        self.workingDirectory = cwd
        let root = try Self.resolveRoot(options.root, cwd: cwd)
        var watchRoots = [root]
        for folder in options.watch {
            let real: String
            do {
                real = try Self.resolveRoot(folder, cwd: cwd)
            } catch {
                // The same checks as the root, with the fix that fits --watch.
                throw CLIError.watchFolder(folder, problem: error)
            }
            if !watchRoots.contains(real) { watchRoots.append(real) }
        }
        self.watchRoots = options.noReload ? [] : watchRoots
        ignoreGlobs = options.ignore
        forcePolling = options.poll

        if options.lan {
            listenHosts = ["0.0.0.0", "::"]
            isDefaultHosts = false
        } else if options.host.isEmpty {
            listenHosts = ["127.0.0.1", "::1"]
            isDefaultHosts = true
        } else {
            var hosts: [String] = []
            for name in options.host {
                for address in try Self.resolveListenHost(name) where !hosts.contains(address) {
                    hosts.append(address)
                }
            }
            listenHosts = hosts
            isDefaultHosts = false
        }
        switch options.port {
        case nil: port = .preferred(Self.defaultPort, attempts: Self.defaultPortAttempts)
        case 0: port = .any
        case let value?: port = .exact(value)
        }

        var headers: [(name: String, value: String)] = []
        for header in options.headers {
            headers.append(try HeaderArgument.parse(header))
        }
        let policy = RequestPolicy(
            allowedHosts: options.allowHost, machineNames: Self.machineNames(), corsOrigins: options.cors)
        configuration = ServerConfiguration(
            root: root, spa: options.spa, extraHeaders: headers, policy: policy,
            protectedPaths: Self.protectedPaths(cwd: cwd), logRequests: !options.quiet,
            changeHub: options.noReload ? nil : ChangeHub())
    }

    /// The real path of the folder to serve, or the sentence saying why it cannot be served.
    static func resolveRoot(_ path: String, cwd: String) throws(CLIError) -> String {
        let absolute = Paths.absolute(path, cwd: cwd)
        var info = stat()
        guard stat(absolute, &info) == 0 else {
            if errno == EACCES { throw .rootUnreadable(path, reason: "permission denied") }
            if errno == ELOOP { throw .rootIsALoop(path) }
            throw .rootMissing(path)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .rootIsFile(path) }
        guard let directory = opendir(absolute) else {
            throw .rootUnreadable(
                path, reason: errno == EACCES ? "permission denied" : String(cString: strerror(errno)))
        }
        closedir(directory)
        guard let real = realpath(absolute, nil) else {
            throw .rootUnreadable(path, reason: String(cString: strerror(errno)))
        }
        defer { free(real) }
        return String(cString: real)
    }

    /// IP literals for a --host value: `localhost` is both loopbacks, a literal is itself, a
    /// name is what the resolver says.
    static func resolveListenHost(_ name: String) throws(CLIError) -> [String] {
        if name.lowercased() == "localhost" { return ["127.0.0.1", "::1"] }
        let literal = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
        if (try? SocketAddress(ipAddress: literal, port: 0)) != nil { return [literal] }
        guard let resolved = try? SocketAddress.makeAddressResolvingHost(name, port: 0), let ip = resolved.ipAddress
        else { throw .unknownHost(name) }
        return [ip]
    }

    static func machineNames() -> [String] {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return [] }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .lowercased()
        guard !name.isEmpty else { return [] }
        let short = String(name.prefix(while: { $0 != "." }))
        return short == name ? [name] : [name, short]
    }

    /// The TLS leaf and key in `certs/` of the folder devserve runs from, never served.
    /// Also the local CA's certificate and key, wherever the served folder lies: the CA is
    /// trusted by the user's browsers, so its key must never leave the machine.
    static func protectedPaths(cwd: String) -> Set<String> {
        var paths = ["certs/localhost.pem", "certs/localhost-key.pem"].map { Paths.absolute($0, cwd: cwd) }
        let environment = ProcessEnvironment.caEnvironment(invoker: SudoInvoker.current())
        if let folder = try? CertificateAuthority.defaultFolder(environment: environment) {
            paths += ["ca.pem", "ca-key.pem"].map { Paths.join(folder, $0) }
        }
        return realPaths(paths)
    }

    /// Each path as given and, where it exists, as its real path.
    static func realPaths(_ paths: [String]) -> Set<String> {
        var result: Set<String> = []
        for path in paths {
            result.insert(path)
            if let real = realpath(path, nil) {
                result.insert(String(cString: real))
                free(real)
            }
        }
        return result
    }

}
