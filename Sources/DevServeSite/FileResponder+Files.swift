import DevServeHTTP
import DevServeSystem
import NIOCore
import NIOHTTP1

/// Files: the cache, opening and checking the real path, conditional requests and ranges.
extension FileResponder {
    /// Serves the regular file at `path` (already stat'ed through symlinks as `status`). The
    /// small-file cache answers only for a plain path: its real path is known to be itself.
    func serveFile(
        _ path: String, status: POSIX.FileStatus, plain: Bool, request: HTTPRequest,
        as statusCode: HTTPResponseStatus = .ok
    ) -> Response {
        if plain, let entry = cache.lookup(path, current: status) {
            if statusCode == .ok && !request.isConditionalOrRange
                && !(entry.isHTML && injectsReloadScript(into: request, size: entry.bytes.readableBytes))
                && (configuration.policy.sharesWithEveryOrigin || !sharesCrossOrigin(request))
            {
                // The hot path: bytes and headers both made when the file was read.
                return Response(status: .ok, fixedHeaders: entry.okHeaders, body: .bytes(entry.bytes))
            }
            return representation(
                Representation(
                    contentType: entry.contentType, validators: entry.validators,
                    lastModifiedText: entry.lastModifiedText, size: entry.bytes.readableBytes,
                    source: .memory(entry.bytes)), request: request, status: statusCode)
        }
        // Serving the site's own 404 page: anything that would answer 404 here answers the built-in one.
        let customNotFound = statusCode != .notFound
        let descriptor: CInt
        switch POSIX.openForReading(path) {
        case .success(let opened): descriptor = opened
        case .failure(let error):
            return error.isPermissionDenied
                ? errorResponse(.forbidden, "permission denied") : notFound(request, custom: customNotFound)
        }
        var keepOpen = false
        defer { if !keepOpen { POSIX.close(descriptor) } }
        // The file actually opened must lie under the real root and be neither hidden nor protected.
        guard case .success(let opened) = POSIX.fstat(descriptor), opened.isRegular,
            case .success(let realPath) = POSIX.pathOfDescriptor(descriptor)
        else { return notFound(request, custom: customNotFound) }
        if let refusal = refusal(forRealPath: realPath, request: request, customNotFound: customNotFound) {
            return refusal
        }

        let validators = Validators(size: opened.size, modifiedNanoseconds: opened.modifiedNanoseconds)
        let lastModifiedText = HTTPDate.format(validators.lastModified)
        let contentType = MediaType.forFileName(path)
        if opened.size <= configuration.limits.cachedFileBytes {
            guard case .success(let bytes) = POSIX.read(descriptor, count: opened.size), bytes.count == opened.size
            else { return errorResponse(.internalServerError, "the file could not be read") }
            // Looked through once per version read: a refused file is never cached.
            if PrivateKeyPEM.isIn(bytes) { return notFound(request, custom: customNotFound) }
            let buffer = ByteBuffer(bytes: bytes)
            tellFileRead(realPath, opened, bytes: bytes)
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
        if PrivateKeyPEM.isLookedThrough(size: opened.size, name: path),
            keyScans.holdsKey(opened.version, descriptor: descriptor)
        {
            return notFound(request, custom: customNotFound)
        }
        tellFileRead(realPath, opened, bytes: nil)
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
    func representation(_ rep: Representation, request: HTTPRequest, status: HTTPResponseStatus) -> Response {
        if MediaType.isHTML(rep.contentType) && injectsReloadScript(into: request, size: rep.size) {
            return injectedRepresentation(rep, request: request, status: status)
        }
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
            return preconditionFailed()
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

    func preconditionFailed() -> Response {
        errorResponse(.preconditionFailed, "a precondition (If-Match or If-Unmodified-Since) failed")
    }

    /// Why a file or folder at `realPath` may not be served, or nil when it may. Compared byte by
    /// byte: Swift's String equality folds canonically equivalent names that Linux keeps apart.
    func refusal(forRealPath realPath: [UInt8], request: HTTPRequest, customNotFound: Bool = true) -> Response? {
        switch verdict(forRealPath: realPath) {
        case .servable: return nil
        case .outside: return errorResponse(.forbidden, "the path leads outside the served folder")
        case .hidden: return notFound(request, custom: customNotFound)
        }
    }

    /// What may be done with a real path, by its place alone (its bytes are looked at later).
    enum PathVerdict {
        case servable
        /// Outside the real root (a symlink that leaves it).
        case outside
        /// Never served nor listed: a dotfile or dot-folder, a protected path (the TLS files in
        /// use, the CA), or devserve's leaf files in any `certs/` under the root.
        case hidden
    }

    func verdict(forRealPath realPath: [UInt8]) -> PathVerdict {
        let isRoot = realPath.elementsEqual(configuration.root.utf8)
        guard isRoot || realPath.starts(with: rootPrefix.utf8) else { return .outside }
        if protectedPaths.contains(realPath) { return .hidden }
        let relative = isRoot ? [] : realPath.dropFirst(rootPrefix.utf8.count).split(separator: UInt8(ascii: "/"))
        if Self.hasHiddenSegment(relative) { return .hidden }
        if relative.count >= 2, relative[relative.count - 2].elementsEqual("certs".utf8),
            Self.leafFileNames.contains(where: { relative[relative.count - 1].elementsEqual($0.utf8) })
        {
            return .hidden
        }
        return .servable
    }

    /// The names devserve gives its leaf certificate and key in a project's `certs/`: protected
    /// wherever they are under the root (a project served from its parent folder, say), not only
    /// in the folder devserve was started from.
    static let leafFileNames = ["localhost.pem", "localhost-key.pem"]

    /// An HTML file with the live-reload script: read whole (at most 16 MiB), conditional
    /// requests checked against the injected bytes' ETag.
    private func injectedRepresentation(
        _ rep: Representation, request: HTTPRequest, status: HTTPResponseStatus
    )
        -> Response
    {
        let html: ByteBuffer
        switch rep.source {
        case .memory(let buffer):
            html = buffer
        case .descriptor(let descriptor):
            defer { POSIX.close(descriptor) }
            guard case .success(let bytes) = POSIX.read(descriptor, count: rep.size) else {
                return errorResponse(.internalServerError, "the file could not be read")
            }
            html = ByteBuffer(bytes: bytes)
        }
        if status == .ok {
            let injected = Validators(etag: injectedETag(rep.validators), lastModified: rep.validators.lastModified)
            let outcome = injected.evaluate(
                ifMatch: request.ifMatch, ifUnmodifiedSince: request.ifUnmodifiedSince,
                ifNoneMatch: request.ifNoneMatch, ifModifiedSince: request.ifModifiedSince)
            if outcome == .preconditionFailed {
                return preconditionFailed()
            }
            if outcome == .notModified {
                var headers = HTTPHeaders()
                headers.add(name: "ETag", value: injected.etag)
                headers.add(name: "Last-Modified", value: rep.lastModifiedText)
                headers.add(name: "Cache-Control", value: "no-store")
                return Response(status: .notModified, headers: headers)
            }
        }
        var response = injectedHTML(html, validators: rep.validators, lastModifiedText: rep.lastModifiedText)
        response.status = status
        return response
    }
}
