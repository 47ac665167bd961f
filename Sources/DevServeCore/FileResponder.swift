import NIOCore
import NIOHTTP1

/// The serving function: a request head in, a response out, with the rules applied in an order
/// that reads top to bottom — who is asking (Host, Origin, Sec-Fetch), which method, which path,
/// then the file, the folder's index, its listing, a clean URL, the SPA fallback, or 404.
///
/// File system work happens here, synchronously: stat, open and read of small files are cheaper
/// than a hop to a thread pool on a local disk, and large files are only opened here and
/// streamed by the connection.
public final class FileResponder: Sendable {
    public let configuration: ServerConfiguration
    let cache: FileCache
    let date = ResponseDate()
    private let rootPrefix: String
    /// The protected real paths as bytes (see `refusal(forRealPath:)`).
    private let protectedPaths: Set<[UInt8]>

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

    public func respond(to request: HTTPRequest) -> Response {
        var response = route(request)
        finish(&response, request: request)
        if request.method == .head, case .file = response.body {
            // Content-Length is already set; the descriptor closes as the slice goes.
            response.body = .empty
        }
        return response
    }

    private func route(_ request: HTTPRequest) -> Response {
        // 1. Who is asking.
        if request.hosts.count > 1 {
            return errorResponse(.badRequest, "the request has more than one Host header")
        }
        // An absolute-form target (`GET http://host/path`) names the host itself (RFC 9112 §3.2.2).
        let (authority, uri) = Self.splitAbsoluteForm(request.target)
        let facts = RequestPolicy.Facts(
            host: authority ?? request.hosts.first, origin: request.origin, secFetchSite: request.secFetchSite,
            secFetchDest: request.secFetchDest, referer: request.referer, isHTTP1_0: request.isHTTP1_0,
            isInternalPath: uri.hasPrefix(Self.internalPrefix), scheme: request.scheme)
        if case .refuse(let status, let reason) = configuration.policy.evaluate(facts) {
            return errorResponse(HTTPResponseStatus(statusCode: status), reason)
        }
        // 2. Which method.
        switch request.method {
        case .get, .head: break
        case .options: return optionsResponse(request)
        default:
            var response = errorResponse(.methodNotAllowed, "devserve serves files: GET, HEAD and OPTIONS only")
            response.headers.replaceOrAdd(name: "Allow", value: Self.allowedMethods)
            return response
        }
        // 3. Which path.
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(uri)
        } catch {
            return errorResponse(.badRequest, error.reason)
        }
        if uri.hasPrefix(Self.internalPrefix) {
            return errorResponse(.notFound, "no such devserve endpoint")
        }
        if Self.hasHiddenSegment(target.segments) {
            return notFound(request)
        }
        // 4. The file, the folder, a clean URL, the SPA fallback, or 404.
        return resolve(target, request: request)
    }

    private func resolve(_ target: RequestTarget, request: HTTPRequest) -> Response {
        let path = filePath(target.segments)
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
    private func walk(_ segments: [String], path: String) -> (Result<POSIX.FileStatus, Errno>, plain: Bool) {
        guard !segments.isEmpty else { return (POSIX.stat(configuration.root), true) }
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
    private static func lookUp(_ path: String, parentsPlain: Bool) -> (Result<POSIX.FileStatus, Errno>, plain: Bool) {
        let result = POSIX.lstat(path)
        if case .success(let status) = result, status.isSymbolicLink { return (POSIX.stat(path), false) }
        return (result, parentsPlain)
    }

    // MARK: Files

    /// Serves the regular file at `path` (already stat'ed through symlinks as `status`). The
    /// small-file cache answers only for a plain path: its real path is known to be itself.
    private func serveFile(
        _ path: String, status: POSIX.FileStatus, plain: Bool, request: HTTPRequest,
        as statusCode: HTTPResponseStatus = .ok
    ) -> Response {
        if plain, let entry = cache.lookup(path, current: status) {
            if statusCode == .ok && !request.isConditionalOrRange {
                // The hot path: bytes and headers both made when the file was read.
                return Response(status: .ok, fixedHeaders: entry.okHeaders, body: .bytes(entry.bytes))
            }
            return representation(
                Representation(
                    contentType: entry.contentType, validators: entry.validators,
                    lastModifiedText: entry.lastModifiedText, size: entry.bytes.readableBytes,
                    source: .memory(entry.bytes)), request: request, status: statusCode)
        }
        let descriptor: CInt
        switch POSIX.openForReading(path) {
        case .success(let opened): descriptor = opened
        case .failure(let error):
            return error.isPermissionDenied
                ? errorResponse(.forbidden, "permission denied") : notFound(request)
        }
        var keepOpen = false
        defer { if !keepOpen { POSIX.close(descriptor) } }
        // The file actually opened must lie under the real root and be neither hidden nor protected.
        guard case .success(let opened) = POSIX.fstat(descriptor), opened.isRegular,
            case .success(let realPath) = POSIX.pathOfDescriptor(descriptor)
        else { return notFound(request) }
        if let refusal = refusal(forRealPath: realPath, request: request) { return refusal }

        let validators = Validators(size: opened.size, modifiedNanoseconds: opened.modifiedNanoseconds)
        let lastModifiedText = HTTPDate.format(validators.lastModified)
        let contentType = MediaType.forFileName(path)
        if opened.size <= configuration.limits.cachedFileBytes {
            guard case .success(let bytes) = POSIX.read(descriptor, count: opened.size), bytes.count == opened.size
            else { return errorResponse(.internalServerError, "the file could not be read") }
            let buffer = ByteBuffer(bytes: bytes)
            cache.store(
                path,
                FileCache.Entry(
                    status: opened, bytes: buffer, contentType: contentType, validators: validators,
                    lastModifiedText: lastModifiedText,
                    okHeaders: okHeaderBlock(
                        contentType: contentType, validators: validators, lastModifiedText: lastModifiedText,
                        size: opened.size)))
            return representation(
                Representation(
                    contentType: contentType, validators: validators, lastModifiedText: lastModifiedText,
                    size: opened.size, source: .memory(buffer)), request: request, status: statusCode)
        }
        keepOpen = true
        return representation(
            Representation(
                contentType: contentType, validators: validators, lastModifiedText: lastModifiedText,
                size: opened.size, source: .descriptor(descriptor)), request: request, status: statusCode)
    }

    /// The bytes of one file version and what describes them.
    struct Representation {
        enum Source {
            case memory(ByteBuffer)
            /// An open descriptor the response takes over.
            case descriptor(CInt)
        }
        var contentType: String
        var validators: Validators
        var lastModifiedText: String
        var size: Int
        var source: Source
    }

    /// Conditional requests, ranges and headers for a representation.
    private func representation(_ rep: Representation, request: HTTPRequest, status: HTTPResponseStatus) -> Response {
        var headers = HTTPHeaders()
        headers.reserveCapacity(10)
        headers.add(name: "Content-Type", value: rep.contentType)
        var outcome = Validators.Outcome.proceed
        if status == .ok {
            headers.add(name: "ETag", value: rep.validators.etag)
            headers.add(name: "Last-Modified", value: rep.lastModifiedText)
            headers.add(name: "Accept-Ranges", value: "bytes")
            outcome = rep.validators.evaluate(
                ifMatch: request.ifMatch, ifUnmodifiedSince: request.ifUnmodifiedSince,
                ifNoneMatch: request.ifNoneMatch, ifModifiedSince: request.ifModifiedSince)
        }
        var first = 0
        var length = rep.size
        var responseStatus = status
        switch outcome {
        case .notModified:
            headers.remove(name: "Content-Type")
            headers.remove(name: "Accept-Ranges")
            if case .descriptor(let descriptor) = rep.source { POSIX.close(descriptor) }
            return Response(status: .notModified, headers: headers)
        case .preconditionFailed:
            if case .descriptor(let descriptor) = rep.source { POSIX.close(descriptor) }
            return errorResponse(.preconditionFailed, "a precondition (If-Match or If-Unmodified-Since) failed")
        case .proceed:
            break
        }
        if status == .ok, let rangeHeader = request.range,
            rep.validators.rangeApplies(ifRange: request.ifRange)
        {
            switch RangeDecision(header: rangeHeader, size: rep.size) {
            case .whole:
                break
            case .partial(let from, let to):
                first = from
                length = to - from + 1
                responseStatus = .partialContent
                headers.add(name: "Content-Range", value: "bytes \(from)-\(to)/\(rep.size)")
            case .unsatisfiable:
                if case .descriptor(let descriptor) = rep.source { POSIX.close(descriptor) }
                var response = errorResponse(.rangeNotSatisfiable, "the requested range is not satisfiable")
                response.headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(rep.size)")
                return response
            }
        }
        headers.add(name: "Content-Length", value: String(length))
        switch rep.source {
        case .memory(let buffer):
            let body =
                first == 0 && length == buffer.readableBytes
                ? buffer : buffer.getSlice(at: buffer.readerIndex + first, length: length) ?? buffer
            return Response(status: responseStatus, headers: headers, body: .bytes(body))
        case .descriptor(let descriptor):
            return Response(
                status: responseStatus, headers: headers,
                body: .file(FileSlice(descriptor: descriptor, offset: first, length: length)))
        }
    }

    /// Why a file or folder at `realPath` may not be served, or nil when it may. Compared byte by
    /// byte: Swift's String equality folds canonically equivalent names that Linux keeps apart.
    private func refusal(forRealPath realPath: [UInt8], request: HTTPRequest) -> Response? {
        let root = configuration.root.utf8
        let isRoot = realPath.elementsEqual(root)
        guard isRoot || realPath.starts(with: rootPrefix.utf8) else {
            return errorResponse(.forbidden, "the path leads outside the served folder")
        }
        if protectedPaths.contains(realPath) { return notFound(request) }
        let relative = isRoot ? [] : realPath.dropFirst(rootPrefix.utf8.count).split(separator: UInt8(ascii: "/"))
        return Self.hasHiddenSegment(relative.map { Array($0) }) ? notFound(request) : nil
    }

    // MARK: Folders

    private func redirectToFolder(_ target: RequestTarget) -> Response {
        let last = target.segments.last ?? ""
        var location = DirectoryListing.encodePathSegment(last) + "/"
        if let query = target.query { location += "?" + query }
        var response = htmlResponse(
            .movedPermanently,
            body:
                "<!doctype html><title>Moved</title><a href=\"\(DirectoryListing.escapeHTML(location))\">Moved here</a>\n"
        )
        response.headers.add(name: "Location", value: location)
        return response
    }

    private func listing(_ path: String, target: RequestTarget, request: HTTPRequest) -> Response {
        switch POSIX.realPath(path) {
        case .success(let realPath):
            if let refusal = refusal(forRealPath: Array(realPath.utf8), request: request) { return refusal }
        case .failure:
            return notFound(request)
        }
        guard case .success(let entries) = POSIX.listDirectory(path) else {
            return errorResponse(.forbidden, "the folder cannot be read")
        }
        let folderPrefix = path == "/" ? "/" : path + "/"
        let items = entries.compactMap { entry -> DirectoryListing.Item? in
            if entry.name.utf8.first == UInt8(ascii: ".") { return nil }
            if protectedPaths.contains(Array((folderPrefix + entry.name).utf8)) { return nil }
            if case .success(let real) = POSIX.realPath(folderPrefix + entry.name),
                protectedPaths.contains(Array(real.utf8))
            {
                return nil
            }
            return DirectoryListing.Item(
                name: entry.name, isDirectory: entry.isDirectory, size: entry.size,
                modified: entry.modifiedNanoseconds / 1_000_000_000)
        }
        return htmlResponse(.ok, body: DirectoryListing.render(path: target.path, items: items))
    }

    // MARK: Other answers

    private func optionsResponse(_ request: HTTPRequest) -> Response {
        var response = Response(status: .noContent)
        response.headers.add(name: "Allow", value: Self.allowedMethods)
        if configuration.policy.corsAllowOrigin(for: request.origin) != nil,
            request.accessControlRequestMethod != nil
        {
            response.headers.add(name: "Access-Control-Allow-Methods", value: Self.allowedMethods)
            if let asked = request.accessControlRequestHeaders {
                response.headers.add(name: "Access-Control-Allow-Headers", value: asked)
            }
            response.headers.add(name: "Access-Control-Max-Age", value: "600")
        }
        return response
    }

    private func notFound(_ request: HTTPRequest) -> Response {
        // A site's own 404.html, served with status 404, as static hosts do.
        let custom = filePath(["404.html"])
        let (found, plain) = Self.lookUp(custom, parentsPlain: true)
        if case .success(let status) = found, status.isRegular {
            return serveFile(custom, status: status, plain: plain, request: request, as: .notFound)
        }
        return errorResponse(.notFound, "nothing is served at this path")
    }

    func errorResponse(_ status: HTTPResponseStatus, _ reason: String) -> Response {
        let code = "\(status.code) \(status.reasonPhrase)"
        return htmlResponse(
            status,
            body: "<!doctype html>\n<meta charset=\"utf-8\">\n<title>\(code)</title>\n<h1>\(code)</h1>\n<p>"
                + DirectoryListing.escapeHTML(reason) + "</p>\n")
    }

    private func htmlResponse(_ status: HTTPResponseStatus, body: String) -> Response {
        let buffer = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: MediaType.html)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        return Response(status: status, headers: headers, body: .bytes(buffer))
    }

    /// The fixed headers of a 200 answer with a whole cached file, in the order `representation`
    /// and `finish` would add them.
    private func okHeaderBlock(
        contentType: String, validators: Validators, lastModifiedText: String, size: Int
    )
        -> HeaderBlock
    {
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: contentType)
        fields.add(name: "ETag", value: validators.etag)
        fields.add(name: "Last-Modified", value: lastModifiedText)
        fields.add(name: "Accept-Ranges", value: "bytes")
        fields.add(name: "Content-Length", value: String(size))
        addCommonFixedHeaders(&fields)
        return HeaderBlock(fields)
    }

    /// The answer to a request that could not be read at all (bad syntax, too large, too slow).
    public func protocolErrorResponse(_ status: HTTPResponseStatus, _ reason: String) -> Response {
        var response = errorResponse(status, reason)
        addCommonHeaders(&response)
        return response
    }

    /// Headers every response carries.
    private func finish(_ response: inout Response, request: HTTPRequest) {
        addCommonHeaders(&response)
        if let allowed = configuration.policy.corsAllowOrigin(for: request.origin) {
            response.headers.add(name: "Access-Control-Allow-Origin", value: allowed)
            response.headers.add(name: "Vary", value: "Origin")
        }
    }

    private func addCommonHeaders(_ response: inout Response) {
        // Date is added where the head is written (it changes every second, not per response).
        if response.fixedHeaders == nil { addCommonFixedHeaders(&response.headers) }
    }

    /// What every response says that does not change between responses.
    private func addCommonFixedHeaders(_ headers: inout HTTPHeaders) {
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        for header in configuration.extraHeaders {
            headers.add(name: header.name, value: header.value)
        }
    }

    // MARK: Helpers

    private func filePath(_ segments: [String]) -> String {
        segments.isEmpty ? configuration.root : rootPrefix + segments.joined(separator: "/")
    }

    /// Dotfiles and dot-folders are hidden, except `/.well-known/`. The first byte decides: a dot
    /// followed by a combining mark is still a dotfile on disk.
    static func hasHiddenSegment(_ segments: [String]) -> Bool {
        for (index, segment) in segments.enumerated() where segment.utf8.first == UInt8(ascii: ".") {
            if index == 0 && segment == ".well-known" { continue }
            return true
        }
        return false
    }

    static func hasHiddenSegment(_ segments: [[UInt8]]) -> Bool {
        for (index, segment) in segments.enumerated() where segment.first == UInt8(ascii: ".") {
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
