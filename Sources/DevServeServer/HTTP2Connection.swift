import DevServeHTTP
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves HTTP/2 on one connection, at the frame level behind NIO's `NIOHTTP2Handler` (which
/// keeps the protocol: HPACK, stream states, flow control, and its limits on streams, resets and
/// glitches). Each request is answered from its HEADERS frame by the same responder as HTTP/1.1,
/// so the responses are the same: files, listings, injected pages and long polls.
///
/// Why frames and not NIO's per-stream child channels: a child channel, its pipeline and the
/// HTTP/1 codec cost more than the rest of a small response together; a page of 300 modules is
/// 300 of them. Here a stream is a dictionary entry while it is answered. Each answer is flushed
/// as soon as it is written (see `respond`); the TLS handler below still sends all the answers to
/// one read in one socket write.
///
/// - A long poll waits as an entry in `polls`; a stream the browser resets forgets its wait.
/// - File bodies go out in chunks (`FileStream`); NIO's flow control holds back each chunk's
///   write until the client's window allows it, and the next chunk is read only then.
/// - A request that sends a body gets its answer, then RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
/// - Answers that make no progress for `writeStallTimeout` close the connection (`WriteStallWatcher`).
/// - With no stream open for `idleTimeout`, the connection says GOAWAY and closes; before the
///   client's preface has arrived, `headTimeout` bounds it instead (as a first request head).
///   A client that shut its side gets the answers to its open streams, then the GOAWAY.
final class HTTP2Connection: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let responder: any Responder
    private let settings: ConnectionSettings
    private let logger: Logger
    private let logRequests: Bool
    /// Streams being answered (waiting polls and file bodies included).
    private var active: Set<HTTP2StreamID> = []
    /// The hub's wait id of each stream whose long poll waits.
    private var polls: [HTTP2StreamID: LaterAnswer] = [:]
    private var highestStream = HTTP2StreamID.rootStream
    private var wroteInRead = false
    private var isOpen = true
    private var idleTimer: Scheduled<Void>?
    /// This handler's place in the pipeline while it is in one (for `wroteFrame`).
    private var context: ChannelHandlerContext?
    private var idleDeadline = NIODeadline.distantFuture
    /// A frame from the client has arrived (its preface): the idle timeout replaces the head timeout.
    private var heardPreface = false
    /// The client shut its side: once the open streams are answered, GOAWAY and close.
    private var peerFinished = false

    /// Response header names that are HTTP/1.1 only and must not appear in HTTP/2.
    static func isConnectionSpecific(_ name: String) -> Bool {
        switch name {
        // TE too: only `TE: trailers`, and only in requests (RFC 9113 §8.2.2).
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te": return true
        default: return false
        }
    }

    /// Values that differ from file to file stay out of HPACK's dynamic table: indexing them
    /// would only evict the values that repeat (types, cache policy) and lengthen every lookup.
    static func indexing(_ name: String) -> HPACKIndexing {
        switch name {
        case "etag", "last-modified", "content-length", "content-range", "location": return .nonIndexable
        default: return .indexable
        }
    }

    init(responder: any Responder, settings: ConnectionSettings, logger: Logger) {
        self.responder = responder
        self.settings = settings
        self.logger = logger
        self.logRequests = settings.logRequests
    }

    /// Adds NIO's HTTP/2 handler, with its default limits (100 concurrent streams, flow control,
    /// reset, glitch and header-size limits), and an `HTTP2Connection` behind it that also hears of
    /// every frame NIO writes.
    static func install(
        on pipeline: ChannelPipeline.SynchronousOperations, responder: any Responder, settings: ConnectionSettings,
        logger: Logger
    ) throws {
        let connection = HTTP2Connection(responder: responder, settings: settings, logger: logger)
        try pipeline.addHandler(
            NIOHTTP2Handler(
                mode: .server, frameDelegate: connection, connectionConfiguration: .init(),
                streamConfiguration: .init()))
        // In front of the connection, so DATA frames that flow control holds back count as stalled.
        try pipeline.addHandler(WriteStallWatcher(limit: settings.limits.writeStallTimeout))
        try pipeline.addHandler(connection)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer(context, after: settings.limits.headTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        idleTimer?.cancel()
        idleTimer = nil
        for poll in polls.values { poll.cancel() }
        polls.removeAll()
        active.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOHTTP2Handler has already answered protocol errors (GOAWAY or RST_STREAM); TLS errors
        // and unclean shutdowns end the connection.
        if error is any NIOHTTP2Error { return }
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if !heardPreface {
            heardPreface = true
            armIdleTimer(context)
        }
        switch frame.payload {
        case .headers(let headers):
            // Only a stream's first HEADERS is a request; later ones are trailers.
            guard frame.streamID > highestStream else { return }
            highestStream = frame.streamID
            active.insert(frame.streamID)
            var request = request(from: headers.headers)
            if !request.target.hasPrefix("/") && request.target != "*" {
                // HTTP/2 names the host in :authority only; an absolute :path must not override
                // it (RFC 9113 §8.3.1).
                request.target = "/"
                let refusal = responder.protocolErrorResponse(.badRequest, "the :path is not an absolute path")
                send(
                    context, stream: frame.streamID, refusal, for: request, requestDone: headers.endStream,
                    started: .now())
                wroteInRead = true
                return
            }
            respond(context, stream: frame.streamID, to: request, requestDone: headers.endStream)
        case .rstStream:
            streamClosed(context, frame.streamID)
        case .data(let data):
            // Request bodies are never read; give their bytes back to the connection's window, so
            // later requests on it are not starved (the stream itself is reset after its answer).
            let length = data.data.readableBytes + (data.paddingBytes.map { $0 + 1 } ?? 0)
            if length > 0 {
                write(context, HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: length)))
                wroteInRead = true
            }
        default:
            break  // settings, pings, window updates: NIO's handler did its part
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Streams NIO closes itself (a stream error, a reset it sent) end like a reset from the peer.
        if let closed = event as? StreamClosedEvent { streamClosed(context, closed.streamID) }
        if case .some(.inputClosed) = event as? ChannelEvent {
            peerFinished = true
            // Waiting long polls belong to a tab that went away (browsers never half-close): forgotten
            // at once, so only the other streams are still answered.
            let waiting = polls
            polls.removeAll()
            for (stream, poll) in waiting {
                poll.cancel()
                finished(context, stream: stream)
            }
            armIdleTimer(context)  // at once, or when the last open stream is answered
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func streamClosed(_ context: ChannelHandlerContext, _ stream: HTTP2StreamID) {
        polls.removeValue(forKey: stream)?.cancel()
        finished(context, stream: stream)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if wroteInRead {
            wroteInRead = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The request as the responder reads it; `:authority` is the Host.
    private func request(from headers: HPACKHeaders) -> HTTPRequest {
        var method = "GET"
        var path = ""
        var request = HTTPRequest(method: .get, target: "", scheme: "https")
        var authority: String?
        var hosts: [String] = []
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                default: break
                }
            } else if name == "host" {
                hosts.append(value)
            } else {
                request.record(lowercasedName: name, value: value)
            }
        }
        request.method = HTTPRequest.Method(method)
        request.target = path
        // :authority wins; a Host header repeating it is not a second host (RFC 9113 §8.3.1).
        request.hosts = authority.map { [$0] + hosts.filter { $0 != authority } } ?? hosts
        return request
    }

    // MARK: Answering

    private func respond(
        _ context: ChannelHandlerContext, stream: HTTP2StreamID, to request: HTTPRequest, requestDone: Bool
    ) {
        let started = logRequests ? NIODeadline.now() : .uptimeNanoseconds(0)
        switch responder.answer(request, on: context.eventLoop) {
        case .response(let response):
            send(context, stream: stream, response, for: request, requestDone: requestDone, started: started)
            // Flushed at once: NIO then closes the stream now, while it is the oldest one open,
            // which keeps NIO's per-connection stream lists short and cheap to update. (The TLS
            // handler below still sends what one read answered in one write.)
            context.flush()
        case .later(let later):
            polls[stream] = later
            later.response.assumeIsolated().whenComplete { [self] result in
                guard isOpen, polls.removeValue(forKey: stream) != nil, case .success(let response) = result else {
                    return
                }
                send(context, stream: stream, response, for: request, requestDone: requestDone, started: started)
                context.flush()
            }
        }
    }

    private func send(
        _ context: ChannelHandlerContext, stream: HTTP2StreamID, _ answer: Response, for request: HTTPRequest,
        requestDone: Bool, started: NIODeadline
    ) {
        let response = answer.sent(for: request)
        var headers = HPACKHeaders()
        headers.reserveCapacity(12)
        headers.add(name: ":status", value: String(response.status.code))
        if let fixed = response.fixedHeaders {
            for (name, value) in fixed.http2 { headers.add(name: name, value: value, indexing: Self.indexing(name)) }
        }
        headers.add(name: "date", value: settings.date.value)
        for (name, value) in response.headers {
            let lowered = name.lowercased()
            if !Self.isConnectionSpecific(lowered) {
                headers.add(name: lowered, value: value, indexing: Self.indexing(lowered))
            }
        }
        let body = response.body
        var isEmpty = false
        if case .empty = body { isEmpty = true }
        // NIO refuses a header block it finds invalid; the stream is then reset, never left hanging.
        let headersWritten = context.eventLoop.makePromise(of: Void.self)
        context.write(
            wrapOutboundOut(
                HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers, endStream: isEmpty)))),
            promise: headersWritten)
        headersWritten.futureResult.assumeIsolated().whenFailure { [self] _ in
            guard isOpen else { return }
            write(context, HTTP2Frame(streamID: stream, payload: .rstStream(.internalError)))
            context.flush()
            finished(context, stream: stream)
        }
        if isEmpty {
            complete(context, stream: stream, request, response, requestDone: requestDone, started: started)
            return
        }
        switch body {
        case .empty:
            break
        case .bytes(let buffer):
            write(
                context, HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(buffer), endStream: true)))
            )
            complete(context, stream: stream, request, response, requestDone: requestDone, started: started)
        case .file(let slice):
            guard let descriptor = slice.takeDescriptor() else {
                write(context, HTTP2Frame(streamID: stream, payload: .rstStream(.internalError)))
                finished(context, stream: stream)
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            FileStream(
                descriptor: descriptor, offset: slice.offset, length: slice.length, channel: context.channel,
                write: { chunk in
                    let (handler, context) = bound.value
                    let frame = HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(chunk))))
                    return context.writeAndFlush(handler.wrapOutboundOut(frame))
                },
                finished: { completed, sent in
                    let (handler, context) = bound.value
                    if !completed, handler.logRequests {
                        handler.logger.info(
                            "\(LogLine.request(request, response: response, started: started, sent: sent))")
                    }
                    guard handler.isOpen else { return }
                    if completed {
                        let end = HTTP2Frame(
                            streamID: stream, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
                        handler.write(context, end)
                        handler.complete(
                            context, stream: stream, request, response, requestDone: requestDone, started: started)
                    } else {
                        // Cut short (the file shrank, or the stream was reset): never end it as if whole.
                        handler.write(context, HTTP2Frame(streamID: stream, payload: .rstStream(.internalError)))
                        handler.finished(context, stream: stream)
                    }
                    context.flush()
                }
            ).start()
        }
    }

    /// The response's last frame is written: log it, and release a request body we never read.
    private func complete(
        _ context: ChannelHandlerContext, stream: HTTP2StreamID, _ request: HTTPRequest, _ response: Response,
        requestDone: Bool, started: NIODeadline
    ) {
        if !requestDone {
            write(context, HTTP2Frame(streamID: stream, payload: .rstStream(.noError)))
        }
        if logRequests { logger.info("\(LogLine.request(request, response: response, started: started))") }
        finished(context, stream: stream)
    }

    private func write(_ context: ChannelHandlerContext, _ frame: HTTP2Frame) {
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    private func finished(_ context: ChannelHandlerContext, stream: HTTP2StreamID) {
        guard active.remove(stream) != nil, active.isEmpty else { return }
        armIdleTimer(context)
    }

    // MARK: Idle

    /// Moves the idle deadline; one timer checks it and re-arms itself when it moved, so a busy
    /// connection schedules nothing per stream.
    private func armIdleTimer(_ context: ChannelHandlerContext, after amount: TimeAmount? = nil) {
        let wait = peerFinished ? .zero : (amount ?? settings.limits.idleTimeout)
        idleDeadline = context.eventLoop.now + wait
        if peerFinished {
            // Sooner than the check already scheduled: that one would wait for the idle timeout.
            idleTimer?.cancel()
            idleTimer = nil
        }
        if idleTimer == nil { scheduleIdleCheck(context) }
    }

    private func scheduleIdleCheck(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: idleDeadline) {
            let (handler, context) = bound.value
            handler.idleTimer = nil
            // A stream still open re-arms the timer when it finishes.
            guard handler.isOpen, handler.active.isEmpty else { return }
            guard handler.idleDeadline <= context.eventLoop.now else {
                handler.scheduleIdleCheck(context)
                return
            }
            let goAway = HTTP2Frame(
                streamID: .rootStream,
                payload: .goAway(lastStreamID: handler.highestStream, errorCode: .noError, opaqueData: nil))
            context.writeAndFlush(handler.wrapOutboundOut(goAway)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}

extension HTTP2Connection: NIOHTTP2FrameDelegate {
    /// NIO's handler answers a connection error (a bad preface, a broken frame, a flood) with a
    /// GOAWAY carrying the error and then leaves the connection open; RFC 9113 §5.4.1 ends it. It
    /// closes on the next turn of the loop, once the GOAWAY has been flushed (through TLS, whose
    /// close_notify follows it).
    func wroteFrame(_ frame: HTTP2Frame) {
        guard case .goAway(_, let code, _) = frame.payload, code != .noError, isOpen, let context else { return }
        context.eventLoop.assumeIsolated().execute { [self] in
            guard isOpen else { return }
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension HTTP2Connection: Sendable {}
