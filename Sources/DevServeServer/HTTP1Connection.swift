import DevServeHTTP
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// Serves HTTP/1.1 on one connection, straight from the bytes: request heads are parsed in place
/// (`HTTP1Parser`), answered in order (pipelined requests included), and written with one flush
/// per read. It also enforces the connection's limits:
/// - a head larger than `maximumHeadBytes` gets 431;
/// - a client has `headTimeout` to send a whole head once it connects or starts one (slowloris),
///   then gets 408;
/// - an idle keep-alive connection closes after `idleTimeout`;
/// - a client that stops reading stops being read (backpressure on writability), and one that
///   takes nothing of what waits for it for `writeStallTimeout` is closed: a file body, bytes
///   over the channel's high-water mark, or the last answer before a close. A slow reader that
///   keeps reading is not: each sendfile region, streamed chunk or slice of a large in-memory
///   body written, and each time the channel drains to writable again, is progress.
/// A request that announces a body is answered, then the connection is half-closed and drained
/// briefly, so the answer is not lost to a reset. A client that half-closes (`nc -N`, a script
/// that shuts its side after the request) gets every answer it asked for, then the close.
///
/// One scheduled task per connection checks the deadline and re-arms itself, never further
/// ahead than `headTimeout`: per request only a deadline value changes.
final class HTTP1Connection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// What the connection runs over.
    enum Transport {
        /// A plain socket: file bodies go out with sendfile, corked.
        case plain
        /// Behind the TLS handler: file bodies are read and written in chunks (`FileStream`).
        case tls
        /// Plain HTTP that arrived on the HTTPS port: every request is redirected to https.
        case redirectToTLS
    }

    private let responder: any Responder
    private let settings: ConnectionSettings
    private let logger: Logger
    private let logRequests: Bool
    private let transport: Transport
    private let scheme: String
    private let limits: ConnectionLimits

    private typealias State = HTTP1Timer.Phase

    private var state = State.open
    /// The client shut its side (a FIN): nothing more will arrive, so once what it asked for is
    /// answered the connection closes.
    private var peerFinished = false
    /// Bytes received and not yet consumed as heads.
    private var pending: ByteBuffer?
    /// Bytes of `pending` already scanned without finding the end of a head.
    private var scanned = 0
    /// Responses (files) whose bytes are still being written; the connection is not idle.
    private var writesInFlight = 0
    /// When the client last took part of what waits for it (or the wait began): while it waits
    /// (`isWaitingOnClient`), no progress for `writeStallTimeout` closes the connection.
    private var lastWriteProgress = NIODeadline.distantPast
    /// What the kernel said the peer had acknowledged at the last stall check.
    private var lastBytesAcked: UInt64 = 0
    /// The channel's writability, as its change events last said (read per request, so kept
    /// here rather than asked of the channel each time).
    private var isWritable = true
    /// A socket read held back until the client reads what we wrote.
    private var heldRead = false
    /// The hub's id for this connection's waiting long poll, if one waits.
    private var waitingPoll: LaterAnswer?
    /// A file body is going out in chunks; later responses wait so bytes do not interleave.
    private var streaming = false
    /// The connection ends once the streaming body is out (the value: drain first).
    private var finishAfterStream: Bool?

    /// Files going out by sendfile, with the offset each must reach. A file cut shorter meanwhile
    /// would never finish: sendfile keeps returning 0 and NIO keeps retrying, so the timer checks
    /// them every `sentFileCheck` and closes the connection (the Content-Length cannot be met).
    private var sentFiles: [(handle: NIOFileHandle, end: Int)] = []
    static let sentFileCheck: TimeAmount = .seconds(1)
    /// A file body goes to sendfile in regions of this size (see `write`): each one written is
    /// progress (and between them, what the kernel says the peer took: `checkWriteProgress`).
    static let sentRegionBytes = 1 << 20

    private var deadline = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?
    private var timerFiresAt = NIODeadline.distantFuture

    static let drainTime: TimeAmount = .seconds(2)
    /// In-memory bodies larger than this go out in slices of this size, each marking progress
    /// when written (a smaller body is one write without a promise).
    static let progressSliceBytes = 256 * 1024
    /// Behind TLS, bodies up to this size are written in the head's buffer (one TLS record).
    static let joinedBodyBytes = 12 * 1024
    /// A head buffer grown past this (a joined body) is not kept for the next response.
    static let keptHeadBytes = 16 * 1024
    private var head = ByteBuffer()

    init(responder: any Responder, settings: ConnectionSettings, logger: Logger, transport: Transport = .plain) {
        self.responder = responder
        self.settings = settings
        self.logger = logger
        self.logRequests = settings.logRequests
        self.transport = transport
        self.scheme = transport == .tls ? "https" : "http"
        self.limits = settings.limits
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if context.channel.isActive { arm(context, after: limits.headTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, after: limits.headTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        waitingPoll?.cancel()
        waitingPoll = nil
        timer?.cancel()
        timer = nil
        pending = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state = .closed
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .some(.inputClosed) = event as? ChannelEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        peerFinished = true
        switch state {
        case .open where waitingPoll != nil:
            // Browsers never half-close: a FIN under a waiting long poll is a tab that went away,
            // forgotten at once (what was answered before it is still written, then the close).
            waitingPoll?.cancel()
            waitingPoll = nil
            finishConnection(context, drain: false)
        case .open:
            processPending(context)  // answers what is complete, then finishes
        case .draining(outputShut: true):
            // Nothing left to drain: the client has sent all it will.
            state = .closed
            context.close(promise: nil)
        case .draining(outputShut: false):
            state = .closing  // the answer's writes close the connection when they are out
        case .closing, .closed:
            break
        }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = state else { return }  // closing or draining: discard
        var incoming = unwrapInboundIn(data)
        if var buffer = pending, buffer.readableBytes > 0 {
            pending = nil  // one owner, so the append does not copy the buffer
            buffer.writeBuffer(&incoming)
            pending = buffer
        } else {
            // The first byte of a new head: the head timeout runs from here.
            pending = incoming
            scanned = 0
            arm(context, after: limits.headTimeout)
        }
        processPending(context)
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure: while the client does not read our answers, do not read its requests;
        // while an answer is still going out (a streamed file, a waiting poll), read no more than
        // one head's worth ahead.
        if isWritable && !isAheadOfAnswers {
            context.read()
        } else {
            heldRead = true
        }
    }

    private var isAheadOfAnswers: Bool {
        (streaming || waitingPoll != nil) && (pending?.readableBytes ?? 0) > limits.maximumHeadBytes
    }

    /// Resumes reading held back by `read`, once neither reason holds.
    private func resumeReading(_ context: ChannelHandlerContext) {
        guard heldRead, isWritable, !isAheadOfAnswers else { return }
        heldRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        // Either way the write-stall window starts again: the channel just went over its
        // high-water mark (bytes now wait for the client), or the client took enough of them.
        lastWriteProgress = .now()
        if !isWritable, timerFiresAt > lastWriteProgress + limits.writeStallTimeout {
            timer?.cancel()
            schedule(context, at: lastWriteProgress + limits.writeStallTimeout)
        }
        if isWritable {
            processPending(context)  // which resumes held reads while open
            // Draining reads (and discards) what the client still sends, so a read held while the
            // answer was going out must resume too.
            if case .draining = state { resumeReading(context) }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Answers every complete head in `pending`, in order, then flushes once.
    private func processPending(_ context: ChannelHandlerContext) {
        var wrote = false
        defer {
            if case .open = state {
                if wrote { context.flush() }
                resumeReading(context)
            }
        }
        while case .open = state, waitingPoll == nil, !streaming, isWritable, var buffer = pending,
            buffer.readableBytes > 0
        {
            let outcome = buffer.withUnsafeReadableBytes { bytes in
                HTTP1Parser.parse(bytes, from: scanned, scheme: scheme)
            }
            switch consume outcome {
            case .incomplete(let scannedBytes):
                if buffer.readableBytes > limits.maximumHeadBytes {
                    refuse(context, .requestHeaderFieldsTooLarge, "the request head is larger than 16 KiB")
                    return
                }
                scanned = scannedBytes
                // The rest of a head that will never arrive is dropped with the connection.
                if peerFinished, waitingPoll == nil, !streaming { finishConnection(context, drain: false) }
                return
            case .invalid(let status, let reason):
                refuse(context, HTTPResponseStatus(statusCode: status), reason)
                return
            case .complete(let request, let length):
                guard length <= limits.maximumHeadBytes else {
                    refuse(context, .requestHeaderFieldsTooLarge, "the request head is larger than 16 KiB")
                    return
                }
                buffer.moveReaderIndex(forwardBy: length)
                pending = buffer.readableBytes > 0 ? buffer : nil
                scanned = 0
                respond(context, to: request)
                wrote = true
            }
        }
        if case .open = state, peerFinished, waitingPoll == nil, !streaming, pending == nil {
            finishConnection(context, drain: false)  // every request answered: close once written
        }
        if case .open = state, waitingPoll == nil, !streaming {
            // Idle until the next byte arrives; a partial head already left has its head timeout.
            arm(context, after: pending == nil ? limits.idleTimeout : limits.headTimeout)
        }
    }

    // MARK: Writing

    private func respond(_ context: ChannelHandlerContext, to request: HTTPRequest) {
        let started = logRequests ? NIODeadline.now() : .uptimeNanoseconds(0)
        if transport == .redirectToTLS {
            let port = context.channel.localAddress?.port ?? 443
            send(context, responder.redirectToHTTPS(request, port: port), for: request, started: started)
            return
        }
        switch responder.answer(request, on: context.eventLoop) {
        case .response(let response):
            send(context, response, for: request, started: started)
        case .later(let later):
            // A long poll: nothing else on this connection is read or timed out until it is
            // answered; if the client goes away first, it is cancelled (channelInactive).
            waitingPoll = later
            later.response.assumeIsolated().whenComplete { [self] result in
                waitingPoll = nil
                guard case .open = state, case .success(let response) = result else { return }
                send(context, response, for: request, started: started)
                context.flush()
                processPending(context)
            }
        }
    }

    private func send(
        _ context: ChannelHandlerContext, _ answer: Response, for request: HTTPRequest, started: NIODeadline
    ) {
        let response = answer.sent(for: request)
        let keepAlive = request.keepAlive && !request.hasBody
        let connection: String? =
            keepAlive ? (request.isHTTP1_0 ? "keep-alive" : nil) : (request.isHTTP1_0 ? nil : "close")
        var logLine: ((Int?) -> Void)?
        if logRequests {
            logLine = { [logger] sent in
                logger.info("\(LogLine.request(request, response: response, started: started, sent: sent))")
            }
        }
        write(context, response, connection: connection, done: logLine)
        guard case .open = state else { return }  // a body that failed at once has closed the connection
        if !keepAlive {
            if streaming {
                finishAfterStream = request.hasBody
            } else {
                finishConnection(context, drain: request.hasBody)
            }
        }
    }

    /// Queues a response's bytes; `done` runs once they are handed to the socket (file bodies)
    /// or queued (the rest), with the body bytes sent when a file body was cut short, else nil.
    private func write(
        _ context: ChannelHandlerContext, _ response: Response, connection: String?,
        done: ((_ sentWhenCut: Int?) -> Void)?
    ) {
        // The head buffer of the last response is reused once the layers below let go of it
        // (for a small answer, by the time the flush returns).
        head.clear()
        response.writeHTTP1Head(into: &head, date: settings.date.headerLine, connection: connection)
        var body = response.body
        if transport == .tls, case .bytes(let bytes) = body, bytes.readableBytes <= Self.joinedBodyBytes {
            // Through TLS, one buffer becomes one record without being copied again below.
            head.writeImmutableBuffer(bytes)
            body = .empty
        }
        context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        if head.capacity > Self.keptHeadBytes { head = ByteBuffer() }
        switch body {
        case .empty:
            done?(nil)
        case .bytes(var buffer):
            // A large body in slices, each marking progress as it leaves (no copy: slices share
            // the buffer's storage).
            while buffer.readableBytes > Self.progressSliceBytes,
                let part = buffer.readSlice(length: Self.progressSliceBytes)
            {
                context.write(wrapOutboundOut(.byteBuffer(part))).assumeIsolated().whenSuccess { [self] in
                    lastWriteProgress = .now()
                }
            }
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            done?(nil)
        case .file(let slice):
            guard let descriptor = slice.takeDescriptor() else {
                done?(0)
                return
            }
            guard transport == .plain else {
                stream(context, slice: slice, descriptor: descriptor, done: done)
                return
            }
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
            // Cork while a file goes out, as nginx's tcp_nopush does: the head and the file leave in
            // full segments, and the last partial one when the cork comes off.
            if writesInFlight == 0 {
                setCork(context, true)
                lastWriteProgress = .now()
            }
            writesInFlight += 1
            sentFiles.append((handle, slice.offset + slice.length))
            if timerFiresAt > .now() + Self.sentFileCheck {
                timer?.cancel()
                schedule(context, at: .now() + Self.sentFileCheck)
            }
            // In regions of `sentRegionBytes`, each completing as it leaves: a slow download shows
            // progress (one region of a whole file completes only at its end).
            let end = slice.offset + slice.length
            var start = slice.offset
            var sent = 0  // the regions written whole, for the log of a download cut short
            while end - start > Self.sentRegionBytes {
                let part = FileRegion(fileHandle: handle, readerIndex: start, endIndex: start + Self.sentRegionBytes)
                context.write(wrapOutboundOut(.fileRegion(part))).assumeIsolated().whenSuccess { [self] in
                    sent += Self.sentRegionBytes
                    lastWriteProgress = .now()
                }
                start += Self.sentRegionBytes
            }
            let region = FileRegion(fileHandle: handle, readerIndex: start, endIndex: end)
            context.write(wrapOutboundOut(.fileRegion(region))).assumeIsolated().whenComplete { [self] result in
                sentFiles.removeAll { $0.handle === handle }
                try? handle.close()
                writesInFlight -= 1
                if writesInFlight == 0 { setCork(context, false) }
                if case .success = result { done?(nil) } else { done?(sent) }
            }
        }
    }

    /// Sends a file body in chunks (no sendfile through TLS); nothing else is answered meanwhile.
    private func stream(
        _ context: ChannelHandlerContext, slice: FileSlice, descriptor: CInt, done: ((Int?) -> Void)?
    ) {
        streaming = true
        if writesInFlight == 0 { lastWriteProgress = .now() }
        writesInFlight += 1
        if timerFiresAt > lastWriteProgress + limits.writeStallTimeout {
            timer?.cancel()
            schedule(context, at: lastWriteProgress + limits.writeStallTimeout)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        FileStream(
            descriptor: descriptor, offset: slice.offset, length: slice.length, channel: context.channel,
            write: { chunk in
                let (handler, context) = bound.value
                let written = context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(chunk)))
                written.assumeIsolated().whenSuccess { handler.lastWriteProgress = .now() }
                return written
            },
            finished: { complete, sent in
                let (handler, context) = bound.value
                handler.streaming = false
                handler.writesInFlight -= 1
                done?(complete ? nil : sent)
                guard complete else {
                    // Fewer bytes than Content-Length promised: only closing tells the client.
                    handler.state = .closed
                    context.close(promise: nil)
                    return
                }
                if let drain = handler.finishAfterStream {
                    handler.finishAfterStream = nil
                    handler.finishConnection(context, drain: drain)
                } else {
                    handler.processPending(context)
                }
            }
        ).start()
    }

    /// With bytes waiting for the client: closes a connection whose client took nothing for
    /// `writeStallTimeout` (it stopped reading; it would hold its socket, memory and files for
    /// ever), else checks again then.
    ///
    /// No write completing is not enough to tell: the kernel's send buffer (up to 4 MB on
    /// loopback) lets a writer go on only once a third of it is free, which a slow reader can
    /// take longer than the limit to free. So the kernel is asked too: if the peer acknowledged
    /// more bytes than at the last check (`tcpi_bytes_acked`), the client is reading.
    private func checkWriteProgress(_ context: ChannelHandlerContext) {
        let stalledAt = lastWriteProgress + limits.writeStallTimeout
        guard stalledAt <= .now() else {
            schedule(context, at: stalledAt)
            return
        }
        guard let socket = context.channel as? any SocketOptionProvider else { return closeStalled(context) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let info: EventLoopFuture<KernelTCPInfo> = socket.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO))
        info.whenComplete { result in
            let (handler, context) = bound.value
            handler.decideStall(context, result)
        }
    }

    /// The kernel's answer: more acknowledged than last time is progress, anything else a stall.
    private func decideStall(_ context: ChannelHandlerContext, _ result: Result<KernelTCPInfo, any Error>) {
        if case .closed = state { return }
        guard case .success(let info) = result, info.bytesAcked > lastBytesAcked else { return closeStalled(context) }
        lastBytesAcked = info.bytesAcked
        lastWriteProgress = .now()
        timer?.cancel()
        schedule(context, at: lastWriteProgress + limits.writeStallTimeout)
    }

    private func closeStalled(_ context: ChannelHandlerContext) {
        state = .closed
        context.close(promise: nil)
    }

    /// The file is now shorter than the offset its response must reach.
    private static func wasCutShort(_ file: (handle: NIOFileHandle, end: Int)) -> Bool {
        var info = stat()
        let status = try? file.handle.withUnsafeFileDescriptor { fstat($0, &info) }
        guard status == 0 else { return false }
        return Int(info.st_size) < file.end
    }

    private func setCork(_ context: ChannelHandlerContext, _ on: Bool) {
        let cork = ChannelOptions.Types.SocketOption(level: .init(IPPROTO_TCP), name: .init(TCP_CORK))
        try? context.channel.syncOptions?.setOption(cork, value: on ? 1 : 0)
    }

    /// Answers a request that could not be read, then closes.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ reason: String) {
        let response = responder.protocolErrorResponse(status, reason)
        write(context, response, connection: "close") { [self] _ in
            if logRequests {
                let line = LogLine.request(
                    method: "-", path: "(unreadable request: \(reason))", status: Int(status.code),
                    bytes: response.bodyLength, milliseconds: 0)
                logger.info("\(line)")
            }
        }
        finishConnection(context, drain: true)
    }

    /// Flushes what is queued and closes once it is written; with `drain`, shuts the output first
    /// and discards what the client still sends for a moment, so the answer is not lost to a
    /// reset from unread input.
    private func finishConnection(_ context: ChannelHandlerContext, drain: Bool) {
        state = drain && !peerFinished ? .draining(outputShut: false) : .closing
        pending = nil
        // Until the last flush completes, what is queued waits for the client: a client that
        // takes none of it for `writeStallTimeout` is closed (timerFired).
        lastWriteProgress = max(lastWriteProgress, .now())
        timer?.cancel()
        schedule(context, at: lastWriteProgress + limits.writeStallTimeout)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer()))).assumeIsolated().whenComplete { [self] _ in
            guard case .draining = state else {
                context.close(promise: nil)
                return
            }
            state = .draining(outputShut: true)
            context.close(mode: .output, promise: nil)
            arm(context, after: Self.drainTime)
        }
    }

    // MARK: Timeouts

    private func arm(_ context: ChannelHandlerContext, after amount: TimeAmount) {
        deadline = .now() + amount
        if let timer {
            // A later deadline is picked up when the pending check runs; an earlier one cannot wait.
            guard deadline < timerFiresAt else { return }
            timer.cancel()
        }
        schedule(context, at: deadline)
    }

    private func schedule(_ context: ChannelHandlerContext, at when: NIODeadline) {
        let fireAt = min(when, .now() + (sentFiles.isEmpty ? limits.headTimeout : Self.sentFileCheck))
        timerFiresAt = fireAt
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: fireAt) {
            let (handler, context) = bound.value
            handler.timerFired(context)
        }
    }

    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        timerFiresAt = .distantFuture
        let facts = HTTP1Timer.Facts(
            phase: state, fileCutShort: sentFiles.contains(where: Self.wasCutShort),
            waitingOnClient: writesInFlight > 0 || !isWritable, pollWaiting: waitingPoll != nil, deadline: deadline,
            partialHead: (pending?.readableBytes ?? 0) > 0, now: .now())
        switch HTTP1Timer.fired(facts) {
        case .none:
            return
        case .close:
            state = .closed
            context.close(promise: nil)
        case .checkWriteProgress:
            checkWriteProgress(context)
        case .wait(let until):
            schedule(context, at: until)
        case .extendIdle:
            arm(context, after: limits.idleTimeout)
        case .refuseRequestTimeout:
            refuse(context, .requestTimeout, "the request head did not arrive in time")
        }
    }
}

@available(*, unavailable)
extension HTTP1Connection: Sendable {}

/// Linux's `struct tcp_info` read as words, for `tcpi_bytes_acked` (byte 120, Linux 4.1 and
/// later): Glibc's declaration of the struct ends before it. What the kernel does not fill
/// stays zero, which reads as "nothing acknowledged": no progress, as without the check.
struct KernelTCPInfo: Sendable {
    var words:
        (
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64
        )

    /// `tcpi_bytes_acked`: bytes of ours the peer has acknowledged on this connection.
    var bytesAcked: UInt64 { words.15 }
}
