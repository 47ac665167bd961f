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

    let responder: any Responder
    let settings: ConnectionSettings
    let logger: Logger
    let logRequests: Bool
    let transport: Transport
    let scheme: String
    let limits: ConnectionLimits

    typealias State = HTTP1Timer.Phase

    var state = State.open
    /// The client shut its side (a FIN): nothing more will arrive, so once what it asked for is
    /// answered the connection closes.
    var peerFinished = false
    /// Bytes received and not yet consumed as heads.
    var pending: ByteBuffer?
    /// Bytes of `pending` already scanned without finding the end of a head.
    var scanned = 0
    /// Responses (files) whose bytes are still being written; the connection is not idle.
    var writesInFlight = 0
    /// When the client last took part of what waits for it (or the wait began): while it waits
    /// (`isWaitingOnClient`), no progress for `writeStallTimeout` closes the connection.
    var lastWriteProgress = NIODeadline.distantPast
    /// What the kernel said the peer had acknowledged at the last stall check.
    var lastBytesAcked: UInt64 = 0
    /// The channel's writability, as its change events last said (read per request, so kept
    /// here rather than asked of the channel each time).
    var isWritable = true
    /// A socket read held back until the client reads what we wrote.
    var heldRead = false
    /// The hub's id for this connection's waiting long poll, if one waits.
    var waitingPoll: LaterAnswer?
    /// A file body is going out in chunks; later responses wait so bytes do not interleave.
    var streaming = false
    /// The connection ends once the streaming body is out (the value: drain first).
    var finishAfterStream: Bool?

    /// Files going out by sendfile, with the offset each must reach. A file cut shorter meanwhile
    /// would never finish: sendfile keeps returning 0 and NIO keeps retrying, so the timer checks
    /// them every `sentFileCheck` and closes the connection (the Content-Length cannot be met).
    var sentFiles: [(handle: NIOFileHandle, end: Int)] = []
    static let sentFileCheck: TimeAmount = .seconds(1)
    /// A file body goes to sendfile in regions of this size (see `write`): each one written is
    /// progress (and between them, what the kernel says the peer took: `checkWriteProgress`).
    static let sentRegionBytes = 1 << 20

    var deadline = NIODeadline.distantFuture
    var timer: Scheduled<Void>?
    var timerFiresAt = NIODeadline.distantFuture

    static let drainTime: TimeAmount = .seconds(2)
    /// In-memory bodies larger than this go out in slices of this size, each marking progress
    /// when written (a smaller body is one write without a promise).
    static let progressSliceBytes = 256 * 1024
    /// Behind TLS, bodies up to this size are written in the head's buffer (one TLS record).
    static let joinedBodyBytes = 12 * 1024
    /// A head buffer grown past this (a joined body) is not kept for the next response.
    static let keptHeadBytes = 16 * 1024
    var head = ByteBuffer()

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

    var isAheadOfAnswers: Bool {
        (streaming || waitingPoll != nil) && (pending?.readableBytes ?? 0) > limits.maximumHeadBytes
    }

    /// Resumes reading held back by `read`, once neither reason holds.
    func resumeReading(_ context: ChannelHandlerContext) {
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
    func processPending(_ context: ChannelHandlerContext) {
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
}

@available(*, unavailable)
extension HTTP1Connection: Sendable {}
