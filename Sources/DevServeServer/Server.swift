import DevServeHTTP
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Listens on one or more addresses, all on the same port, and serves HTTP on each.
public final class Server: Sendable {
    /// How the port is chosen.
    public enum PortChoice: Equatable, Sendable {
        /// This port or fail.
        case exact(Int)
        /// This port, else the next free one, up to `attempts` ports in all.
        case preferred(Int, attempts: Int)
        /// Any free port the system picks.
        case any
    }

    /// The addresses actually bound (with the real port).
    public let boundAddresses: [SocketAddress]
    public var port: Int { boundAddresses.first?.port ?? 0 }
    private let channels: [any Channel]
    private let group: MultiThreadedEventLoopGroup
    private let stopped = Mutex(false)

    private init(
        boundAddresses: [SocketAddress], channels: [any Channel], group: MultiThreadedEventLoopGroup
    ) {
        self.boundAddresses = boundAddresses
        self.channels = channels
        self.group = group
    }

    /// Binds every host of `hosts` on one port chosen by `port` and starts serving: each
    /// connection answered by `responder`, with `settings`, over TLS when `tls` is given.
    ///
    /// `hosts` are IP literals (`127.0.0.1`, `::1`, `0.0.0.0`, `::`).
    public static func start(
        responder: any Responder, settings: ConnectionSettings, tls: TLSSetup?, hosts: [String], port: PortChoice,
        logger: Logger,
        threads: Int = System.coreCount
    ) async throws(ServerError) -> Server {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let counter = ConnectionLimiter.Counter(maximum: settings.limits.maximumConnections)
        let candidates: [Int]
        switch port {
        case .exact(let value): candidates = [value]
        case .preferred(let value, let attempts): candidates = Array(value..<min(65536, value + max(1, attempts)))
        case .any: candidates = [0]
        }
        var lastError = ServerError.portInUse(port: candidates.first ?? 0)
        for candidate in candidates {
            do {
                let channels = try await bindAll(
                    hosts: hosts, port: candidate, group: group, tls: tls,
                    responder: responder, settings: settings, counter: counter, logger: logger)
                let addresses = channels.compactMap(\.localAddress)
                return Server(boundAddresses: addresses, channels: channels, group: group)
            } catch {
                lastError = error
                if case .portInUse = error, candidates.count > 1 { continue }
                break
            }
        }
        try? await group.shutdownGracefully()
        if case .portInUse = lastError, let first = candidates.first, let last = candidates.last, first != last {
            throw ServerError.portsInUse(first: first, last: last)
        }
        throw lastError
    }

    /// Binds all hosts on `port` (0: the first picks, the rest follow it); all or nothing.
    private static func bindAll(
        hosts: [String], port: Int, group: MultiThreadedEventLoopGroup, tls: TLSSetup?,
        responder: any Responder, settings: ConnectionSettings, counter: ConnectionLimiter.Counter, logger: Logger
    ) async throws(ServerError) -> [any Channel] {
        var bound: [any Channel] = []
        var port = port
        for host in hosts {
            do {
                let address = try SocketAddress(ipAddress: host, port: port)
                let channel = try await bootstrap(
                    group: group, address: address, tls: tls, responder: responder,
                    settings: settings,
                    counter: counter, logger: logger
                ).bind(to: address).get()
                bound.append(channel)
                if port == 0 { port = channel.localAddress?.port ?? 0 }
            } catch {
                for channel in bound { try? await channel.close() }
                throw ServerError(bindError: error, host: host, port: port)
            }
        }
        return bound
    }

    private static func bootstrap(
        group: MultiThreadedEventLoopGroup, address: SocketAddress, tls: TLSSetup?,
        responder: any Responder, settings: ConnectionSettings, counter: ConnectionLimiter.Counter, logger: Logger
    ) -> ServerBootstrap {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One accept per read, so the connection cap is checked before every accept.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(counter: counter))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            SecureConnectionSniffer(responder: responder, settings: settings, logger: logger, tls: tls))
                    } else {
                        try channel.pipeline.syncOperations.addHandler(
                            HTTP1Connection(responder: responder, settings: settings, logger: logger))
                    }
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that shuts its side after its requests still gets the answers: the
            // connection handlers close on `ChannelEvent.inputClosed` once they are out.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        if case .v6 = address {
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .init(IPPROTO_IPV6), name: .init(IPV6_V6ONLY)), value: 1)
        }
        return bootstrap
    }

    /// Stops listening, closes every connection and the event loops.
    public func shutdown() async {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }
}

/// devserve as the user started it (`devserve`, `.build/debug/devserve`, ...): sentences that
/// tell them to run a devserve command name it this way, so it can be pasted as it is.
public let invokedAs: String = CommandLine.arguments.first ?? "devserve"

/// Why the server could not start; each reads as a sentence the user can act on.
public enum ServerError: Error, Equatable, Sendable, CustomStringConvertible {
    case portInUse(port: Int)
    case portsInUse(first: Int, last: Int)
    case permissionDenied(port: Int)
    case addressUnavailable(host: String)
    case addressUnsupported(host: String)
    case other(host: String, port: Int, message: String)

    init(bindError: any Error, host: String, port: Int) {
        let code: CInt? = (bindError as? IOError)?.errnoCode
        switch code {
        case EADDRINUSE: self = .portInUse(port: port)
        case EACCES, EPERM: self = .permissionDenied(port: port)
        case EADDRNOTAVAIL, EAFNOSUPPORT: self = .addressUnavailable(host: host)
        case EINVAL: self = .addressUnsupported(host: host)
        default: self = .other(host: host, port: port, message: "\(bindError)")
        }
    }

    public var description: String {
        switch self {
        case .portsInUse(let first, let last):
            return "Ports \(first) to \(last) are all in use: choose a port with --port, or --port 0 for any free one."
        case .portInUse(let port):
            return "Port \(port) is already in use: stop the other server or choose another port with --port."
        case .permissionDenied(let port):
            return "Port \(port) needs privileges: run with --port 8080 (or any port from 1024), or allow it once "
                + "with 'sudo setcap cap_net_bind_service=+ep \(invokedAs)'."
        case .addressUnsupported(let host):
            return "Cannot listen on \(host): the system does not take it as a listening address (a link-local "
                + "address needs its interface, an IPv4-mapped one its IPv4 form); use 127.0.0.1, ::1 or an address "
                + "of this machine."
        case .addressUnavailable(let host):
            return "Cannot listen on \(host): that address is not on this machine; check --host."
        case .other(let host, let port, let message):
            return "Cannot listen on \(host) port \(port): \(message)."
        }
    }
}
