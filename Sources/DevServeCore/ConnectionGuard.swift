import NIOCore

/// The first handler on every HTTP/1 connection, before the decoder: it enforces the request-head
/// size limit (431) and the two timeouts — a client has `headTimeout` to send a whole head once it
/// has connected or started one (slowloris), and an idle keep-alive connection is closed after
/// `idleTimeout`. A request being answered (a long poll, a large download) has no deadline here.
///
/// The HTTP handler tells it where a request stands through outbound user events. One scheduled
/// task per connection checks the deadline and re-arms itself: per request only a value changes.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Sent by the HTTP handler with `triggerUserOutboundEvent`.
    enum Event {
        /// A request head was decoded; `hasBody` when a body follows (the connection then closes
        /// after the response, and the body's bytes are not counted as head).
        case requestHead(hasBody: Bool)
        /// The response to the current request was written in full.
        case responseComplete
    }

    private enum State {
        case readingHead
        case idle
        case inRequest(hasBody: Bool)
        case closed
    }

    private let maximumHeadBytes: Int
    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var state = State.readingHead
    private var deadline = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?
    /// When the scheduled task fires; a deadline earlier than this needs a new task.
    private var timerFiresAt = NIODeadline.distantFuture
    /// Bytes since the end of the last head (`\r\n\r\n`), and how much of a terminator was seen.
    private var headBytes = 0
    private var terminatorMatched = 0

    init(maximumHeadBytes: Int, headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.maximumHeadBytes = maximumHeadBytes
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, after: headTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, after: headTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        switch state {
        case .idle:
            state = .readingHead
            arm(context, after: headTimeout)
            fallthrough
        case .readingHead, .inRequest(hasBody: false):
            count(buffer)
            if headBytes > maximumHeadBytes {
                refuse(context, status: "431 Request Header Fields Too Large")
                return
            }
        case .inRequest(hasBody: true), .closed:
            break
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let event = event as? Event else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch (event, state) {
        case (_, .closed):
            break
        case (.requestHead(let hasBody), _):
            state = .inRequest(hasBody: hasBody)
            deadline = .distantFuture
        case (.responseComplete, _):
            state = .idle
            arm(context, after: idleTimeout)
        }
        promise?.succeed(())
    }

    /// Counts head bytes, restarting after each `\r\n\r\n`.
    private func count(_ buffer: ByteBuffer) {
        let terminator: [UInt8] = [13, 10, 13, 10]
        buffer.withUnsafeReadableBytes { bytes in
            var matched = terminatorMatched
            var counted = headBytes
            for byte in bytes {
                counted += 1
                if byte == terminator[matched] {
                    matched += 1
                    if matched == 4 {
                        matched = 0
                        counted = 0
                    }
                } else {
                    matched = byte == 13 ? 1 : 0
                }
            }
            terminatorMatched = matched
            headBytes = counted
        }
    }

    private func arm(_ context: ChannelHandlerContext, after amount: TimeAmount) {
        deadline = .now() + amount
        if let timer {
            // A later deadline is picked up when the task fires; an earlier one cannot wait.
            guard deadline < timerFiresAt else { return }
            timer.cancel()
        }
        schedule(context, at: deadline)
    }

    /// Schedules the check for `when`, but never further ahead than `headTimeout`: then a new
    /// head deadline (now + headTimeout) is never earlier than the pending check, and a busy
    /// keep-alive connection re-arms nothing per request.
    private func schedule(_ context: ChannelHandlerContext, at when: NIODeadline) {
        let fireAt = min(when, .now() + headTimeout)
        timerFiresAt = fireAt
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: fireAt) {
            let (handler, context) = loopBound.value
            handler.timerFired(context)
        }
    }

    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        timerFiresAt = .distantFuture
        switch state {
        case .closed:
            return
        case .inRequest:
            return  // re-armed when the response completes
        case .readingHead, .idle:
            if deadline > .now() {
                schedule(context, at: deadline)
                return
            }
        }
        if case .readingHead = state, headBytes > 0 || terminatorMatched > 0 {
            refuse(context, status: "408 Request Timeout")
        } else {
            state = .closed
            context.close(promise: nil)
        }
    }

    /// Answers directly on the socket (the decoder is behind us) and closes.
    private func refuse(_ context: ChannelHandlerContext, status: String) {
        state = .closed
        let body = status + "\n"
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeString(
            "HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Cache-Control: no-cache\r\nConnection: close\r\n\r\n\(body)")
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
