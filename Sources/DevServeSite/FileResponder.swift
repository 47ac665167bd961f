import DevServeHTTP
import DevServeSystem
import NIOCore
import NIOHTTP1
import Synchronization

/// The serving function: a request head in, a response out, with the rules applied in an order
/// that reads top to bottom — who is asking (Host, Origin, Sec-Fetch), which method, which path,
/// then the file, the folder's index, its listing, a clean URL, the SPA fallback, or 404.
///
/// File system work happens here, synchronously: stat, open and read of small files are cheaper
/// than a hop to a thread pool on a local disk, and large files are only opened here and
/// streamed by the connection.
public final class FileResponder: Responder {
    public let configuration: ServerConfiguration
    let cache: FileCache
    let rootPrefix: String
    /// The protected real paths as bytes (see `refusal(forRealPath:)`).
    let protectedPaths: Set<[UInt8]>
    /// Verdicts on files larger than the cache looked through for private keys.
    let keyScans = PrivateKeyPEM.Scans()
    /// See `parsedTarget(_:)`.
    let parsedTargets = Mutex(
        TargetMemo<ParsedTarget>(
            entryLimit: FileResponder.parsedTargetLimit, byteLimit: FileResponder.parsedTargetBytes,
            maximumKeyBytes: FileResponder.parsedTargetMaximumKeyBytes))

    public static let allowedMethods = "GET, HEAD, OPTIONS"
    /// URL paths under this prefix belong to devserve itself.
    public static let internalPrefix = "/__devserve/"

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
        self.cache = FileCache(
            maximumFileBytes: configuration.limits.cachedFileBytes, budgetBytes: configuration.limits.cacheBudgetBytes)
        self.rootPrefix = configuration.root == "/" ? "/" : configuration.root + "/"
        self.protectedPaths = Set(configuration.protectedPaths.map { Array($0.utf8) })
    }

    /// What `route` decided: an answer, or to wait on the hub from `since`.
    enum Route {
        case response(Response)
        case waitForChanges(since: Int)
    }

    /// Answers `request`, which arrived on `eventLoop`.
    public func answer(_ request: HTTPRequest, on eventLoop: any EventLoop) -> Answer {
        switch route(request) {
        case .response(var response):
            finish(&response, request: request)
            return .response(response)
        case .waitForChanges(let since):
            return .later(waitForChanges(since: since, request: request, on: eventLoop))
        }
    }

    func route(_ request: HTTPRequest) -> Route {
        // 1. Who is asking.
        if request.hosts.count > 1 {
            return .response(errorResponse(.badRequest, "the request has more than one Host header"))
        }
        // An absolute-form target (`GET http://host/path`) names the host itself (RFC 9112 §3.2.2).
        let (authority, uri) = Self.splitAbsoluteForm(request.target)
        let isInternalPath = uri.utf8.starts(with: Self.internalPrefix.utf8)
        let facts = RequestPolicy.Facts(
            host: authority ?? request.hosts.first, origin: request.origin, secFetchSite: request.secFetchSite,
            secFetchDest: request.secFetchDest, referer: request.referer, isHTTP1_0: request.isHTTP1_0,
            isInternalPath: isInternalPath, scheme: request.scheme)
        if case .refuse(let status, let reason) = configuration.policy.evaluate(facts) {
            return .response(errorResponse(HTTPResponseStatus(statusCode: status), reason))
        }
        // 2. Which method.
        switch request.method {
        case .get, .head: break
        case .options: return .response(optionsResponse(request))
        default:
            var response = errorResponse(.methodNotAllowed, "devserve serves files: GET, HEAD and OPTIONS only")
            response.headers.replaceOrAdd(name: "Allow", value: Self.allowedMethods)
            return .response(response)
        }
        // 3. Which path.
        let parsed: ParsedTarget
        switch parsedTarget(uri) {
        case .success(let known): parsed = known
        case .failure(let error): return .response(errorResponse(.badRequest, error.reason))
        }
        let target = parsed.target
        // 4. devserve's own endpoints.
        if isInternalPath {
            return internalEndpoint(target, request: request)
        }
        if parsed.isHidden {
            return .response(notFound(request))
        }
        // 5. The file, the folder, a clean URL, the SPA fallback, or 404.
        return .response(resolve(target, path: parsed.path, request: request))
    }

    /// A request target as `route` needs it: parsed, whether it names a hidden path, and the
    /// file path it names under the root.
    struct ParsedTarget: Sendable {
        let target: RequestTarget
        let isHidden: Bool
        let path: String
    }

    /// Parses a raw target, or finds it parsed already: parsing is pure, and a page asks for the
    /// same few paths again and again. The memo holds at most `parsedTargetLimit` targets and
    /// `parsedTargetBytes` bytes and is emptied when full, and never holds a target longer than
    /// `parsedTargetMaximumKeyBytes`, so a client sending endless new or long paths cannot grow it.
    func parsedTarget(_ uri: Substring) -> Result<ParsedTarget, TargetError> {
        let key = TargetKey(String(uri))
        if let known = parsedTargets.withLock({ $0[key] }) { return .success(known) }
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(uri)
        } catch {
            return .failure(error)
        }
        let parsed = ParsedTarget(
            target: target, isHidden: Self.hasHiddenSegment(target.segments.lazy.map(\.utf8)),
            path: filePath(target.segments))
        // The value holds the decoded segments, the file path, and the query (a slice that
        // keeps the whole raw target alive).
        let cost = uri.base.utf8.count + parsed.path.utf8.count + target.segments.reduce(0) { $0 + $1.utf8.count }
        parsedTargets.withLock { $0.insert(parsed, for: key, cost: cost) }
        return .success(parsed)
    }

    static let parsedTargetLimit = 4096
    static let parsedTargetBytes = 4 << 20
    static let parsedTargetMaximumKeyBytes = 2048

    /// A raw target compared by its bytes. String's `==` and hash treat canonically equivalent
    /// spellings as one (`é` and `e` + U+0301), and Linux keeps them as two different file names.
    struct TargetKey: Hashable, Sendable {
        let text: String
        init(_ text: String) { self.text = text }

        static func == (lhs: TargetKey, rhs: TargetKey) -> Bool { lhs.text.utf8.elementsEqual(rhs.text.utf8) }

        func hash(into hasher: inout Hasher) {
            var text = text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    func resolve(_ target: RequestTarget, path: String, request: HTTPRequest) -> Response {
        let (found, plain) = walk(target.segments, path: path)
        switch found {
        case .success(let status) where status.isDirectory:
            guard target.trailingSlash || target.segments.isEmpty else {
                return redirectToFolder(target)
            }
            let index = path == "/" ? "/index.html" : path + "/index.html"
            let (indexFound, indexPlain) = Self.lookUp(index, parentsPlain: plain)
            if case .success(let indexStatus) = indexFound, indexStatus.isRegular {
                return serveFile(index, status: indexStatus, plain: indexPlain, request: request)
            }
            return listing(path, target: target, request: request)
        case .success(let status) where status.isRegular:
            if target.trailingSlash { return notFound(request) }
            return serveFile(path, status: status, plain: plain, request: request)
        case .success:
            return errorResponse(.forbidden, "not a regular file")
        case .failure(let error) where error.isPermissionDenied:
            return errorResponse(.forbidden, "permission denied")
        case .failure:
            break
        }
        // Clean URLs: /about is about.html.
        if !target.trailingSlash, let last = target.segments.last, !last.hasSuffix(".html") {
            let html = path + ".html"
            let (htmlFound, htmlPlain) = Self.lookUp(html, parentsPlain: plain)
            if case .success(let status) = htmlFound, status.isRegular {
                return serveFile(html, status: status, plain: htmlPlain, request: request)
            }
        }
        // Single-page apps: unknown extension-less paths that want HTML get the root index.
        if configuration.spa, !(target.segments.last?.contains(".") ?? false),
            Self.acceptsHTML(request.accept)
        {
            let index = filePath(["index.html"])
            let (indexFound, indexPlain) = Self.lookUp(index, parentsPlain: true)
            if case .success(let status) = indexFound, status.isRegular {
                return serveFile(index, status: status, plain: indexPlain, request: request)
            }
        }
        return notFound(request)
    }

    /// Stats the path of `segments` below the root one component at a time with lstat(2), so
    /// it also learns whether the path is plain: no component is a symlink, hence its real path
    /// is itself, under the root. A symlink hands over to stat(2) for the rest.
    func walk(_ segments: [String], path: String) -> (Result<POSIX.FileStatus, Errno>, plain: Bool) {
        guard !segments.isEmpty else { return (POSIX.stat(configuration.root), true) }
        // An entry of the root itself: one lstat of the whole path, no C copy to cut it short.
        if segments.count == 1 { return Self.lookUp(path, parentsPlain: true) }
        // One C copy of the path; each prefix is stat'ed by ending the string at its slash.
        var bytes = Array(path.utf8CString)
        var index = rootPrefix.utf8.count
        while true {
            let end = bytes[index...].firstIndex(of: CChar(UInt8(ascii: "/"))) ?? (bytes.count - 1)
            let isLast = end == bytes.count - 1
            bytes[end] = 0
            let result = POSIX.lstat(bytes)
            guard case .success(let status) = result else { return (result, true) }
            if status.isSymbolicLink { return (POSIX.stat(path), false) }
            if isLast { return (result, true) }
            if !status.isDirectory { return (.failure(.notADirectory), true) }
            bytes[end] = CChar(UInt8(ascii: "/"))
            index = end + 1
        }
    }

    /// The status of `path` through symlinks, and whether it is plain (see `walk`) given that
    /// its parent folders are.
    static func lookUp(_ path: String, parentsPlain: Bool) -> (Result<POSIX.FileStatus, Errno>, plain: Bool) {
        let result = POSIX.lstat(path)
        if case .success(let status) = result, status.isSymbolicLink { return (POSIX.stat(path), false) }
        return (result, parentsPlain)
    }

    // MARK: Helpers

    func filePath(_ segments: [String]) -> String {
        segments.isEmpty ? configuration.root : rootPrefix + segments.joined(separator: "/")
    }

    /// Dotfiles and dot-folders are hidden, except `/.well-known/`. The first byte decides: a dot
    /// followed by a combining mark is still a dotfile on disk.
    static func hasHiddenSegment<Segments: Sequence>(_ segments: Segments) -> Bool
    where Segments.Element: Sequence<UInt8> {
        for (index, segment) in segments.enumerated() {
            var bytes = segment.makeIterator()
            guard bytes.next() == UInt8(ascii: ".") else { continue }
            if index == 0 && segment.elementsEqual(".well-known".utf8) { continue }
            return true
        }
        return false
    }

    /// `http://host:port/path?q` → (`host:port`, `/path?q`); other targets are returned as they are.
    static func splitAbsoluteForm(_ uri: String) -> (authority: String?, target: Substring) {
        guard uri.utf8.first != UInt8(ascii: "/"), let schemeEnd = uri.firstRange(of: "://") else {
            return (nil, uri[...])
        }
        let scheme = uri[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return (nil, uri[...]) }
        let rest = uri[schemeEnd.upperBound...]
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var target = rest[slash...]
        if target.first != "/" { target = "/" + target }
        return (String(rest[..<slash]), target)
    }

    static func acceptsHTML(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.contains("text/html") || accept.contains("application/xhtml+xml")
    }
}
