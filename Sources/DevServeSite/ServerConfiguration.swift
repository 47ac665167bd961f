import DevServeHTTP
import DevServeLiveReload
import NIOCore

/// Everything the server needs to run, built by the command line (or a test) and then frozen.
public struct ServerConfiguration: Sendable {
    /// The folder served, as a real path (symlinks resolved, no trailing slash unless `/`).
    public var root: String
    /// Serve `/index.html` for unknown extension-less paths that accept HTML.
    public var spa: Bool
    /// Headers added to every response (`--header`).
    public var extraHeaders: [(name: String, value: String)]
    /// Host, Origin, Sec-Fetch and CORS rules.
    public var policy: RequestPolicy
    /// Real paths never served nor listed (the TLS key and certificate).
    public var protectedPaths: Set<String>
    /// One log line per request.
    public var logRequests: Bool
    /// Live reload: the change log the poll endpoint serves and the pages' script tag reports.
    /// Nil with `--no-reload` (no endpoint, no injection).
    public var changeHub: ChangeHub?
    public var liveReload: Bool { changeHub != nil }
    /// Live reload: told of each file version read from disk to answer a request, so the watcher
    /// knows what the browsers have and drops a save that leaves it as it was. Called on the
    /// event loop, once per version read (a cached file is told once, when it is read): hand it on.
    public var onFileRead: (@Sendable (FileRead) -> Void)?
    public var limits: Limits

    /// A file version read to answer a request: its real path, what fstat(2) said of it, and its
    /// bytes when they were read whole (files up to `Limits.cachedFileBytes`).
    public struct FileRead: Sendable {
        public var path: String
        public var device: UInt64
        public var inode: UInt64
        public var size: Int
        public var modifiedNanoseconds: Int
        public var changedNanoseconds: Int
        public var bytes: [UInt8]?
    }

    public struct Limits: Sendable {
        /// Largest request head accepted; larger gets 431.
        public var maximumHeadBytes = 16 * 1024
        /// Time a client has to send a whole request head once it starts (or after connecting).
        public var headTimeout: TimeAmount = .seconds(10)
        /// Time an idle keep-alive connection is kept.
        public var idleTimeout: TimeAmount = .seconds(60)
        /// A connection whose answers make no progress for this long (the client stopped
        /// reading) is closed; a client that reads, however slowly, is not.
        public var writeStallTimeout: TimeAmount = .seconds(60)
        /// How long a long poll waits for a change before answering 204.
        public var pollTimeout: TimeAmount = .seconds(25)
        /// Open connections at most; past it the server stops accepting until one closes.
        public var maximumConnections = 4096
        /// Files up to this size are kept in memory (validated by stat on every request).
        public var cachedFileBytes = 128 * 1024
        /// Memory the small-file cache may use in all.
        public var cacheBudgetBytes = 32 * 1024 * 1024
        public init() {}

        /// The limits the connections keep (the rest are the site's).
        public var connection: ConnectionLimits {
            var limits = ConnectionLimits()
            limits.maximumHeadBytes = maximumHeadBytes
            limits.headTimeout = headTimeout
            limits.idleTimeout = idleTimeout
            limits.writeStallTimeout = writeStallTimeout
            limits.maximumConnections = maximumConnections
            return limits
        }
    }

    public init(
        root: String, spa: Bool = false,
        extraHeaders: [(name: String, value: String)] = [], policy: RequestPolicy = RequestPolicy(),
        protectedPaths: Set<String> = [], logRequests: Bool = false, changeHub: ChangeHub? = nil,
        limits: Limits = Limits()
    ) {
        self.root = root
        self.spa = spa
        self.extraHeaders = extraHeaders
        self.policy = policy
        self.protectedPaths = protectedPaths
        self.logRequests = logRequests
        self.changeHub = changeHub
        self.limits = limits
    }
}
