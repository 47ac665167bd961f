import DevServeHTTP
import DevServeLiveReload
import NIOCore
import NIOHTTP1

/// devserve's own endpoints (`/__devserve/poll`, `/__devserve/client.js`) and the script tag
/// injected into HTML pages.
extension FileResponder {
    func internalEndpoint(_ target: RequestTarget, request: HTTPRequest) -> Route {
        guard let hub = configuration.changeHub else {
            return .response(errorResponse(.notFound, "live reload is off (--no-reload)"))
        }
        switch target.path {
        case LiveReload.clientPath:
            return .response(clientScriptResponse(request))
        case LiveReload.pollPath:
            guard let query = LiveReload.PollQuery(target.query) else {
                return .response(errorResponse(.badRequest, "since must be a whole number"))
            }
            // No parameters: where the server stands. Another boot: the server restarted.
            guard let boot = query.boot, let since = query.since, boot == hub.boot else {
                let restarted = query.boot != nil && query.boot != hub.boot
                let body = LiveReload.json(boot: hub.boot, version: hub.version, restarted: restarted)
                return .response(jsonResponse(body))
            }
            if let now = hub.answerNow(since: since) { return .response(pollResponse(now, request: request)) }
            return .waitForChanges(since: since)
        default:
            return .response(errorResponse(.notFound, "no such devserve endpoint"))
        }
    }

    /// A poll that is up to date waits on the hub for the next change or `pollTimeout`.
    func waitForChanges(since: Int, request: HTTPRequest, on eventLoop: any EventLoop) -> LaterAnswer {
        // route() waits only with a hub; without one there is nothing new, at once.
        let (id, answer) =
            configuration.changeHub?.wait(since: since, on: eventLoop, timeout: configuration.limits.pollTimeout)
            ?? (-1, eventLoop.makeSucceededFuture(ChangeHub.Answer.nothingNew))
        let hub = configuration.changeHub
        // On `eventLoop` (the connection's): the response, which holds buffers, never crosses threads.
        let response = answer.assumeIsolated().map { [self] in pollResponse($0, request: request) }.nonisolated()
        return LaterAnswer(response: response, onCancel: { hub?.cancel(id) })
    }

    /// Tells `onFileRead` (the watcher) which file version a browser is given.
    func tellFileRead(_ realPath: [UInt8], _ status: POSIX.FileStatus, bytes: [UInt8]?) {
        guard let onFileRead = configuration.onFileRead else { return }
        onFileRead(
            ServerConfiguration.FileRead(
                path: String(decoding: realPath, as: UTF8.self), device: status.device, inode: status.inode,
                size: status.size, modifiedNanoseconds: status.modifiedNanoseconds,
                changedNanoseconds: status.changedNanoseconds, bytes: bytes))
    }

    /// The answer to a poll, once the hub has one.
    func pollResponse(_ answer: ChangeHub.Answer, request: HTTPRequest) -> Response {
        var response: Response
        switch answer {
        case .nothingNew:
            response = Response(status: .noContent)
            response.headers.add(name: "Cache-Control", value: "no-store")
        case .changes(let version, let changes, let full):
            let boot = configuration.changeHub?.boot ?? ""
            response = jsonResponse(LiveReload.json(boot: boot, version: version, changes: changes, full: full))
        }
        finish(&response, request: request)
        return response
    }

    private func jsonResponse(_ body: String) -> Response {
        let buffer = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        return Response(status: .ok, headers: headers, body: .bytes(buffer))
    }

    private func clientScriptResponse(_ request: HTTPRequest) -> Response {
        let validators = Validators(etag: ClientScript.etag, lastModified: 0)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/javascript; charset=utf-8")
        headers.add(name: "ETag", value: ClientScript.etag)
        if request.ifNoneMatch.map({ Validators.list($0, contains: validators.etag, weak: true) }) == true {
            return Response(status: .notModified, headers: headers)
        }
        headers.add(name: "Content-Length", value: String(ClientScript.bytes.readableBytes))
        return Response(status: .ok, headers: headers, body: .bytes(ClientScript.bytes))
    }

    /// Whether an HTML answer to `request` gets the live-reload script: a top-level load
    /// (`Sec-Fetch-Dest: document`, or no such header), not a range, not too large.
    func injectsReloadScript(into request: HTTPRequest, size: Int) -> Bool {
        guard configuration.changeHub != nil, request.range == nil, size <= LiveReload.maximumInjectedBytes else {
            return false
        }
        guard let destination = request.secFetchDest else { return true }
        return destination.lowercased() == "document"
    }

    /// The ETag of a page with the script: it names the file and the client script, not the boot
    /// or version, so a restart with unchanged files keeps it (how the client knows not to reload).
    func injectedETag(_ validators: Validators) -> String {
        String(validators.etag.dropLast()) + "-" + ClientScript.version + "\""
    }

    /// `html` with the script tag, and the headers that describe the injected bytes. The page is
    /// `no-store`: its `data-version` must be current on every load, or a page revalidated from
    /// cache would replay changes it already shows.
    func injectedHTML(_ html: ByteBuffer, validators: Validators?, lastModifiedText: String?) -> Response {
        let hub = configuration.changeHub
        let tag = LiveReload.scriptTag(boot: hub?.boot ?? "", version: hub?.version ?? 0)
        let body = LiveReload.inject(tag, into: html)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: MediaType.html)
        if let validators { headers.add(name: "ETag", value: injectedETag(validators)) }
        if let lastModifiedText { headers.add(name: "Last-Modified", value: lastModifiedText) }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        return Response(status: .ok, headers: headers, body: .bytes(body))
    }
}
