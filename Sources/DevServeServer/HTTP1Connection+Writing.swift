import DevServeHTTP
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// Writing answers: heads, in-memory bodies in progress slices, sendfile regions, streamed
/// files through TLS, and the write-stall check that asks the kernel.
extension HTTP1Connection {
    // MARK: Writing

    func respond(_ context: ChannelHandlerContext, to request: HTTPRequest) {
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

    func send(
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
    func write(
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
    func stream(
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
    func checkWriteProgress(_ context: ChannelHandlerContext) {
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
    func decideStall(_ context: ChannelHandlerContext, _ result: Result<KernelTCPInfo, any Error>) {
        if case .closed = state { return }
        guard case .success(let info) = result, info.bytesAcked > lastBytesAcked else { return closeStalled(context) }
        lastBytesAcked = info.bytesAcked
        lastWriteProgress = .now()
        timer?.cancel()
        schedule(context, at: lastWriteProgress + limits.writeStallTimeout)
    }

    func closeStalled(_ context: ChannelHandlerContext) {
        state = .closed
        context.close(promise: nil)
    }

    /// The file is now shorter than the offset its response must reach.
    static func wasCutShort(_ file: (handle: NIOFileHandle, end: Int)) -> Bool {
        var info = stat()
        let status = try? file.handle.withUnsafeFileDescriptor { fstat($0, &info) }
        guard status == 0 else { return false }
        return Int(info.st_size) < file.end
    }

    func setCork(_ context: ChannelHandlerContext, _ on: Bool) {
        let cork = ChannelOptions.Types.SocketOption(level: .init(IPPROTO_TCP), name: .init(TCP_CORK))
        try? context.channel.syncOptions?.setOption(cork, value: on ? 1 : 0)
    }

    /// Answers a request that could not be read, then closes.
    func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ reason: String) {
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
    func finishConnection(_ context: ChannelHandlerContext, drain: Bool) {
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
}

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
