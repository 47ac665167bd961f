import ArgumentParser
import DevServeServer
import DevServeSite
import DevServeSystem
import DevServeWatcher
import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `devserve [ROOT]`: serve a folder.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve ROOT over HTTP on localhost (the default command).",
        usage: "devserve [<root>] [<options>]",
        discussion: """
            Listens on 127.0.0.1 and ::1 only unless --lan or --host says otherwise, answers only requests \
            whose Host is localhost, *.localhost, an IP address, this machine's name or an --allow-host, \
            never serves dotfiles (except /.well-known/) nor files reached through symlinks that leave ROOT.
            """
    )

    @Argument(help: "The folder to serve.", completion: .directory)
    public var root: String = "."

    // Unconditional, so `--port -1` reaches validate() and gets devserve's sentence, not "missing value".
    @Option(
        name: .shortAndLong, parsing: .unconditional,
        help: "Port to listen on; 0 picks any free port. Default: 8080, or the next free one.")
    public var port: Int?

    @Option(
        name: [.customShort("H"), .long],
        help: "Address to listen on (repeatable). 'localhost' means 127.0.0.1 and ::1. Default: localhost.")
    public var host: [String] = []

    @Flag(help: "Also listen on every network interface and print the LAN URLs.")
    public var lan = false

    @Flag(
        help: """
            Serve HTTPS (HTTP/2 and HTTP/1.1) with certs/localhost.pem, made by the local CA when missing \
            or expiring. Run `devserve trust` once so browsers trust it.
            """)
    public var tls = false

    @Option(
        help: ArgumentHelp(
            "Serve HTTPS with this PEM certificate chain instead (needs --key).", valueName: "file"),
        completion: .file())
    public var cert: String?

    @Option(help: ArgumentHelp("The PEM private key of --cert.", valueName: "file"), completion: .file())
    public var key: String?

    /// HTTPS, with the local certificate or the user's own.
    var servesTLS: Bool { tls || cert != nil }

    @Flag(name: .customLong("no-reload"), help: "A plain static server: no file watcher, no script injection.")
    public var noReload = false

    @Option(
        name: .customLong("watch"),
        help: ArgumentHelp("Also reload pages when this folder changes (repeatable).", valueName: "dir"))
    public var watch: [String] = []

    @Option(
        name: .customLong("ignore"),
        help: ArgumentHelp(
            "Changes the watcher ignores (repeatable), on top of .git, node_modules and editor temp files.",
            valueName: "glob"))
    public var ignore: [String] = []

    @Flag(help: "Watch by polling instead of inotify (network mounts, WSL).")
    public var poll = false

    @Flag(help: "Serve /index.html for unknown extension-less paths that accept HTML (single-page apps).")
    public var spa = false

    @Option(
        name: .customLong("header"),
        help: ArgumentHelp("Add a header to every response (repeatable).", valueName: "Name: value"))
    public var headers: [String] = []

    @Option(
        help: ArgumentHelp(
            "Send CORS headers to this origin (repeatable); '*' for any. None by default.", valueName: "origin"))
    public var cors: [String] = []

    @Option(
        name: .customLong("allow-host"),
        help: ArgumentHelp(
            "Accept this Host name too (repeatable); '*.example.test' for subdomains.", valueName: "name"))
    public var allowHost: [String] = []

    @Flag(help: "Open the browser at the served URL.")
    public var open = false

    @Flag(name: .shortAndLong, help: "Do not log requests.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Log debug details.")
    public var verbose = false

    public init() {}

    /// Starts the server; on the default loopback pair, a machine without IPv6 still gets 127.0.0.1.
    static func startServer(plan: LaunchPlan, logger: Logger) async throws -> Server {
        let firstTry: Result<Server, ServerError>
        do {
            firstTry = .success(
                try await Server.start(
                    site: plan.configuration, tls: plan.tls, hosts: plan.listenHosts, port: plan.port, logger: logger))
        } catch {
            firstTry = .failure(error)
        }
        guard case .failure(let error) = firstTry, error == .addressUnavailable(host: "::1"), plan.isDefaultHosts
        else { return try firstTry.get() }
        logger.warning("IPv6 loopback (::1) is unavailable; listening on 127.0.0.1 only.")
        return try await Server.start(
            site: plan.configuration, tls: plan.tls, hosts: ["127.0.0.1"], port: plan.port, logger: logger)
    }

    public mutating func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port \(port) is not a port number: use 1 to 65535, or 0 for any free port.")
        }
        if noReload && (!watch.isEmpty || !ignore.isEmpty || poll) {
            throw ValidationError("--watch, --ignore and --poll need live reload: drop --no-reload or them.")
        }
        if (cert == nil) != (key == nil) {
            throw ValidationError(
                cert == nil
                    ? "--key needs --cert: pass the certificate chain with --cert too."
                    : "--cert needs --key: pass the certificate's private key with --key too.")
        }
        if quiet && verbose {
            throw ValidationError("--quiet and --verbose contradict each other: pass one of them.")
        }
        for header in headers {
            _ = try HeaderArgument.parse(header)
        }
        for origin in cors where origin != "*" {
            guard OriginArgument.isValid(origin) else {
                throw ValidationError(
                    "--cors '\(origin)' is not an origin: write it as scheme://host[:port], e.g. http://localhost:3000, or '*'."
                )
            }
        }
        for name in allowHost where !HostArgument.isValidPattern(name) {
            throw ValidationError(
                "--allow-host '\(name)' is not a host name: use a name like myapp.test or *.myapp.test.")
        }
        for name in allowHost where HostArgument.isTooBroad(name) {
            throw ValidationError(
                "--allow-host '\(name)' would accept every site under it, which defeats the Host check: "
                    + "name your own domain, like *.myapp.test or myapp.trycloudflare.com.")
        }
        for name in host where !HostArgument.isValidListenHost(name) {
            throw ValidationError(
                "--host '\(name)' is not an address: use an IP address such as 127.0.0.1 or ::1, or 'localhost'.")
        }
    }

    public func run() async throws {
        let level: Logger.Level = verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = PlainLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "devserve")
        // Before anything is written: a stop asked for during start-up waits in the stream.
        let signals = try ProcessSignals.install()
        var plan = try LaunchPlan(options: self)
        ResourceLimits.raiseOpenFileLimit()
        if servesTLS {
            let invoker = SudoInvoker.current()
            let launch = try TLSLaunch.prepare(
                certificate: cert, key: key, lan: lan, cwd: plan.workingDirectory,
                environment: ProcessEnvironment.caEnvironment(invoker: invoker), invoker: invoker)
            for note in launch.notes { Console.write(note + "\n") }
            for warning in launch.warnings { logger.warning("\(warning)") }
            let context = launch.context
            let ownCertificate = cert != nil
            plan.tls = TLSSetup(
                makeHandler: { try context.makeHandler() },
                explainFailure: { TLSLaunch.explain($0, ownCertificate: ownCertificate) })
            // Again now that the CA and the leaf exist, so their real paths are known.
            plan.configuration.protectedPaths.formUnion(
                LaunchPlan.realPaths([context.certificatePath, context.keyPath]).union(
                    LaunchPlan.protectedPaths(cwd: plan.workingDirectory)))
        }

        // Live reload: the watcher is told of every file a browser is given (so a save that
        // leaves it as it was is dropped), and starts after the server listens: it sets its
        // watches on its own thread, so the first page is served at once however large the tree.
        let hub = plan.configuration.changeHub
        var watcher: Watcher?
        if let hub {
            let made = try ReloadNotifier.makeWatcher(plan: plan, hub: hub, logger: logger)
            plan.configuration.onFileRead = ReloadNotifier.telling(made)
            watcher = made
        }
        let server = try await Self.startServer(plan: plan, logger: logger)
        if case .preferred(let wanted, _) = plan.port, server.port != wanted {
            Console.write("Port \(wanted) is in use; serving on port \(server.port) instead.\n")
        }
        watcher?.start()
        let banner = StartupBanner(
            root: plan.configuration.root, addresses: server.boundAddresses, lan: lan,
            liveReload: hub == nil ? .off : (plan.forcePolling ? .polling : .on),
            extraWatched: plan.watchRoots.count - 1,
            tls: servesTLS)
        Console.write(banner.text)
        if open, let url = banner.primaryURL {
            BrowserOpener.open(url, logger: logger)
        }
        // SIGHUP reloads every page; SIGINT or SIGTERM stop once (caught since run() began):
        // waiting polls answered, the watcher joined, then listeners, connections and event loops.
        for await number in signals {
            guard number == SIGHUP else { break }
            guard let hub else { continue }
            let told = hub.publish([], full: true).told
            logger.info("reload: everything (SIGHUP) → \(told) waiting client\(told == 1 ? "" : "s") told")
        }
        hub?.close()
        watcher?.stop()
        await server.shutdown()
    }
}

extension Server {
    /// Serves the site `configuration` describes: its `FileResponder`, with the connection
    /// limits and request logging it sets, over TLS when `tls` is given.
    static func start(
        site configuration: ServerConfiguration, tls: TLSSetup?, hosts: [String], port: PortChoice, logger: Logger
    ) async throws(ServerError) -> Server {
        try await start(
            responder: FileResponder(configuration: configuration),
            settings: ConnectionSettings(
                limits: configuration.limits.connection, logRequests: configuration.logRequests),
            tls: tls, hosts: hosts, port: port, logger: logger)
    }
}
