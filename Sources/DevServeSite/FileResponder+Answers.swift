import DevServeHTTP
import DevServeSystem
import NIOCore
import NIOHTTP1

/// Answers other than a file: folder redirects and listings, OPTIONS, errors, and the headers
/// every response carries.
extension FileResponder {
    // MARK: Folders

    func redirectToFolder(_ target: RequestTarget) -> Response {
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

    func listing(_ path: String, target: RequestTarget, request: HTTPRequest) -> Response {
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
            let entryPath = folderPrefix + entry.name
            if protectedPaths.contains(Array(entryPath.utf8)) { return nil }
            guard case .success(let real) = POSIX.realPath(entryPath) else { return nil }
            switch verdict(forRealPath: Array(real.utf8)) {
            case .hidden:
                return nil
            case .outside:
                // A link out of the root: named (it is in the folder), but what it points at is
                // not told, and following it is refused.
                return DirectoryListing.Item(name: entry.name, isDirectory: false, size: nil, modified: nil)
            case .servable:
                if !entry.isDirectory, holdsPrivateKey(entryPath, size: entry.size, name: entry.name) {
                    return nil
                }
                return DirectoryListing.Item(
                    name: entry.name, isDirectory: entry.isDirectory, size: entry.size,
                    modified: entry.modifiedNanoseconds / 1_000_000_000)
            }
        }
        let page = DirectoryListing.render(path: target.path, items: items)
        if injectsReloadScript(into: request, size: page.utf8.count) {
            return injectedHTML(ByteBuffer(string: page), validators: nil, lastModifiedText: nil)
        }
        return htmlResponse(.ok, body: page)
    }

    /// For a listing: a file `serveFile` would refuse for the key it holds is not listed. Files
    /// up to the cache's size and those named like keys are looked through (once per version);
    /// a larger file that holds one pasted in is refused when asked for, but its name is listed.
    func holdsPrivateKey(_ path: String, size: Int, name: String) -> Bool {
        guard size <= configuration.limits.cachedFileBytes || PrivateKeyPEM.nameMayHoldKey(name),
            case .success(let descriptor) = POSIX.openForReading(path)
        else { return false }
        defer { POSIX.close(descriptor) }
        guard case .success(let status) = POSIX.fstat(descriptor), status.isRegular else { return false }
        return keyScans.holdsKey(status.version, descriptor: descriptor)
    }

    // MARK: Other answers

    func optionsResponse(_ request: HTTPRequest) -> Response {
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

    /// `custom`: the site's own 404.html may answer. Off while that page itself is being served,
    /// so a 404.html that may not be served (a link into a hidden folder) ends in the built-in page
    /// instead of asking for itself again.
    func notFound(_ request: HTTPRequest, custom allowed: Bool = true) -> Response {
        // A site's own 404.html, served with status 404, as static hosts do.
        let custom = filePath(["404.html"])
        let (found, plain) = Self.lookUp(custom, parentsPlain: true)
        if allowed, case .success(let status) = found, status.isRegular {
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

    func htmlResponse(_ status: HTTPResponseStatus, body: String) -> Response {
        let buffer = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: MediaType.html)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        return Response(status: status, headers: headers, body: .bytes(buffer))
    }

    /// The fixed headers of a 200 answer with a whole cached file, in the order `representation`
    /// and `finish` would add them.
    func okHeaderBlock(
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

    /// The answer to plain HTTP arriving on the HTTPS port: a temporary redirect to the same URL
    /// over https (307, so a browser does not remember it for a later plain-HTTP run on this
    /// port). The Host is checked first, like any request's; without one, `localhost` is assumed.
    public func redirectToHTTPS(_ request: HTTPRequest, port: Int) -> Response {
        if request.hosts.count > 1 {
            return protocolErrorResponse(.badRequest, "the request has more than one Host header")
        }
        let (authority, uri) = Self.splitAbsoluteForm(request.target)
        let host = authority ?? request.hosts.first
        let facts = RequestPolicy.Facts(
            host: host, origin: nil, secFetchSite: nil, secFetchDest: nil, referer: nil,
            isHTTP1_0: request.isHTTP1_0, isInternalPath: false, scheme: "http")
        if case .refuse(let status, let reason) = configuration.policy.evaluate(facts) {
            return protocolErrorResponse(HTTPResponseStatus(statusCode: status), reason)
        }
        let location = "https://" + (host ?? "localhost:\(port)") + (uri.hasPrefix("/") ? String(uri) : "/")
        var response = errorResponse(.temporaryRedirect, "This port serves HTTPS: \(location)")
        response.headers.add(name: "Location", value: location)
        response.headers.add(name: "Cache-Control", value: "no-store")
        addCommonHeaders(&response)
        return response
    }

    /// Headers every response carries.
    func finish(_ response: inout Response, request: HTTPRequest) {
        addCommonHeaders(&response, crossOrigin: sharesCrossOrigin(request))
        if let allowed = configuration.policy.corsAllowOrigin(for: request.origin) {
            response.headers.add(name: "Access-Control-Allow-Origin", value: allowed)
            response.headers.add(name: "Vary", value: "Origin")
        }
    }

    /// `crossOrigin`: the request comes from a `--cors` origin. A response with fixed headers
    /// has them already (those say `same-site`: the cache's fast path is not taken for such a
    /// request unless every origin is allowed).
    func addCommonHeaders(_ response: inout Response, crossOrigin: Bool = false) {
        // Date is added where the head is written (it changes every second, not per response).
        if response.fixedHeaders == nil {
            addCommonFixedHeaders(
                &response.headers, cacheControl: !response.headers.contains(name: "Cache-Control"),
                crossOrigin: crossOrigin)
        }
    }

    /// True when the request comes from a `--cors` origin that is not every origin, whose
    /// answers differ from the cached fixed headers (`Cross-Origin-Resource-Policy`).
    func sharesCrossOrigin(_ request: HTTPRequest) -> Bool {
        configuration.policy.sharesCrossOrigin(origin: request.origin, referer: request.referer)
    }

    /// What every response says that does not change between responses (`Cache-Control:
    /// no-cache` unless the response set its own), for a request from a `--cors` origin or not.
    func addCommonFixedHeaders(_ headers: inout HTTPHeaders, cacheControl: Bool = true, crossOrigin: Bool = false) {
        if cacheControl { headers.add(name: "Cache-Control", value: "no-cache") }
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(
            name: "Cross-Origin-Resource-Policy", value: configuration.policy.resourcePolicy(crossOrigin: crossOrigin))
        for header in configuration.extraHeaders {
            headers.add(name: header.name, value: header.value)
        }
    }
}
