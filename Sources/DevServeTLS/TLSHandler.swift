import NIOCore
import NIOTLS

/// TLS on one channel, as a handler: ciphertext below it, plaintext above it. It drives an
/// `OpenSSLConnection` (which knows nothing of NIO) and keeps the protocol state here:
/// - until the handshake completes, writes from above are held (and flushed when it does);
///   completion fires `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)`, so NIO's ALPN and
///   HTTP/2 helpers work behind it;
/// - after every OpenSSL call the ciphertext it produced is written out at once, so the memory
///   BIO never grows: the channel's own outbound buffer, and so its writability, carries the load;
/// - closing sends close_notify and waits (at most `shutdownTimeout`) for the peer's; the peer's
///   close_notify is answered with ours; an EOF without one is reported as `TLSError.uncleanShutdown`.
/// Modelled on how swift-nio-ssl's NIOSSLHandler is structured; written for OpenSSL's API.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// How long a close waits for the peer's close_notify before closing the socket anyway.
    public static let shutdownTimeout: TimeAmount = .seconds(3)
    /// Small writes are joined into one record of at most this size (one TLS record's payload).
    static let recordSize = 16 * 1024

    private let connection: OpenSSLConnection
    /// Handshake, flush points and closing, with the promises and timers they hold.
    private var tls = TLSHandlerState()
    /// Plaintext written from above and not yet encrypted.
    private var pendingWrites = CircularBuffer<(buffer: ByteBuffer, promise: EventLoopPromise<Void>?)>()
    /// Small plaintext writes joined into one record (reused: cleared, never reallocated).
    private var records = ByteBuffer()
    /// The last ciphertext buffer handed to the channel, and the last plaintext buffer handed up:
    /// reused when nothing holds them any more, so a request and its answer allocate nothing here.
    private var ciphertext = ByteBuffer()
    private var plaintext = ByteBuffer()
    /// Reused buffers larger than this are dropped instead of kept for the connection's life.
    static let keptBufferBytes = 64 * 1024

    init(connection: OpenSSLConnection) {
        self.connection = connection
    }

    /// The protocol version and cipher agreed, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256" (for logs and tests).
    public var negotiated: String { "\(connection.negotiatedVersion) \(connection.negotiatedCipher)" }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { handshakeStep(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
    }

    public func channelActive(context: ChannelHandlerContext) {
        handshakeStep(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let previous = tls.closedNow()
        failPendingWrites(ChannelError.ioOnClosedChannel)
        switch previous {
        case .active?:
            // The peer went away without close_notify: whatever it sent may be cut short.
            context.fireErrorCaught(TLSError.uncleanShutdown)
        case .closing(let promise, let timer)?, .closingSocket(let promise, let timer)?:
            // The socket is closed: the close that was waiting for it is done.
            timer?.cancel()
            promise?.succeed(())
        case .handshaking?, .closed?, nil:
            break
        }
        context.fireChannelInactive()
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ciphertext = unwrapInboundIn(data)
        ciphertext.withUnsafeReadableBytes { connection.feed($0) }
        let nested = tls.readStarted()
        if case .handshaking = tls.phase {
            handshakeStep(context)
        } else if tls.readsPlaintext {
            readPlaintext(context)
        }
        // What the handlers above flushed while this read was handed up leaves in one write.
        if let count = tls.readEnded(nested: nested) { encryptPendingWrites(context, count: count) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        writeCiphertext(context, promise: nil, flush: true)
        context.fireChannelReadComplete()
    }

    private func handshakeStep(_ context: ChannelHandlerContext) {
        guard case .handshaking = tls.phase else { return }
        switch connection.handshake() {
        case .incomplete:
            writeCiphertext(context, promise: nil, flush: true)
        case .complete:
            let flushed = tls.handshakeCompleted()
            writeCiphertext(context, promise: nil, flush: true)
            context.fireUserInboundEventTriggered(
                TLSUserEvent.handshakeCompleted(negotiatedProtocol: connection.negotiatedProtocol))
            if flushed > 0 { encryptPendingWrites(context, count: flushed) }
            // Application data may have come in the same read as the client's Finished.
            readPlaintext(context)
        case .failed(let errors):
            fail(context, TLSError.handshakeFailed(errors: errors))
        case .closed:
            fail(context, TLSError.handshakeFailed(errors: ["the peer closed the connection during the handshake"]))
        }
    }

    private func readPlaintext(_ context: ChannelHandlerContext) {
        while true {
            guard tls.readsPlaintext else { return }
            // Reused when the handler above let go of the last one (it usually has).
            plaintext.clear()
            var result = OpenSSLConnection.Result.complete
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.recordSize) { pointer in
                let (outcome, count) = connection.read(into: pointer)
                result = outcome
                return count
            }
            switch result {
            case .complete:
                context.fireChannelRead(wrapInboundOut(plaintext))
                if !connection.mayRead {
                    writeCiphertext(context, promise: nil, flush: true)
                    return
                }
            case .incomplete:
                // Reading may also have produced ciphertext (a key update, a session ticket).
                writeCiphertext(context, promise: nil, flush: true)
                return
            case .closed:
                peerSentCloseNotify(context)
                return
            case .failed(let errors):
                fail(context, TLSError.connectionFailed(errors: errors))
                return
            }
        }
    }

    private func peerSentCloseNotify(_ context: ChannelHandlerContext) {
        if case .closing = tls.phase {
            finishClosing(context)
        } else {
            // Answers flushed earlier in this read (the request came with the close_notify) go
            // first; then ours, and close once it is out.
            let flushed = tls.flushedDuringThisRead
            if flushed > 0 { encryptPendingWrites(context, count: flushed) }
            guard tls.isActive else { return }  // encrypting failed, and closed
            _ = connection.shutdown()
            tls.closeNotifySent(promise: nil, timer: nil)
            finishClosing(context)
        }
    }

    // MARK: Writing

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if tls.acceptsWrites {
            pendingWrites.append((unwrapOutboundIn(data), promise))
        } else {
            promise?.fail(ChannelError.outputClosed)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if let count = tls.flushed(pending: pendingWrites.count) { encryptPendingWrites(context, count: count) }
    }

    /// Encrypts the first `count` pending writes (small ones joined into records) and writes the
    /// ciphertext with one promise that completes all of theirs.
    private func encryptPendingWrites(_ context: ChannelHandlerContext, count: Int) {
        var remaining = min(count, pendingWrites.count)
        guard remaining > 0 else { return }
        tls.encrypted(remaining)
        var first: EventLoopPromise<Void>?
        var others: [EventLoopPromise<Void>] = []
        var held: ByteBuffer?
        var failed: [String]?

        func encrypt(_ buffer: ByteBuffer) {
            guard failed == nil else { return }
            if case .failed(let errors) = buffer.withUnsafeReadableBytes({ connection.write($0) }) { failed = errors }
        }
        // The small writes being joined: one `held` buffer (not copied while it is alone), or
        // `records`, never both.
        func encryptJoined() {
            if let pending = held { encrypt(pending) }
            held = nil
            guard records.readableBytes > 0 else { return }
            encrypt(records)
            records.clear()
        }
        while remaining > 0 {
            remaining -= 1
            let (buffer, promise) = pendingWrites.removeFirst()
            if let promise {
                if first == nil { first = promise } else { others.append(promise) }
            }
            guard buffer.readableBytes < Self.recordSize else {
                encryptJoined()
                encrypt(buffer)
                continue
            }
            if (held?.readableBytes ?? records.readableBytes) + buffer.readableBytes > Self.recordSize {
                encryptJoined()
            }
            if held == nil && records.readableBytes == 0 {
                held = buffer
                continue
            }
            if let pending = held { records.writeImmutableBuffer(pending) }
            held = nil
            records.writeImmutableBuffer(buffer)
        }
        encryptJoined()

        if let failed {
            first?.fail(TLSError.connectionFailed(errors: failed))
            for promise in others { promise.fail(TLSError.connectionFailed(errors: failed)) }
            fail(context, TLSError.connectionFailed(errors: failed))
            return
        }
        var combined = first
        if let first, !others.isEmpty {
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.cascade(to: first)
            for each in others { promise.futureResult.cascade(to: each) }
            combined = promise
        }
        writeCiphertext(context, promise: combined, flush: true)
    }

    /// Moves the ciphertext OpenSSL produced to the channel. With nothing to send, a promise still
    /// goes down as an empty write, so it completes in order with the writes before it.
    private func writeCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?, flush: Bool) {
        let pending = connection.pendingCiphertext
        if pending > 0 {
            // The last buffer is reused once the socket has let go of it (usually at once).
            ciphertext.clear()
            ciphertext.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) {
                connection.takeCiphertext(into: $0)
            }
            context.write(wrapOutboundOut(ciphertext), promise: promise)
            if ciphertext.capacity > Self.keptBufferBytes { ciphertext = ByteBuffer() }
        } else if let promise {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        } else {
            return
        }
        if flush { context.flush() }
    }

    private func failPendingWrites(_ error: any Error) {
        let writes = pendingWrites
        pendingWrites.removeAll()
        for (_, promise) in writes { promise?.fail(error) }
    }

    // MARK: Closing

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch tls.close(mode: mode, promise: promise) {
        case .passDown(let failWrites):
            if failWrites { failPendingWrites(ChannelError.ioOnClosedChannel) }
            context.close(mode: mode, promise: promise)
        case .cascade(let started):
            started.futureResult.cascade(to: promise)
        case .closeSocketNow:
            context.close(promise: promise)
        case .succeed:
            promise?.succeed(())
        case .wait:
            break
        case .halfClose:
            // close_notify, then the socket's output once it is written.
            encryptPendingWrites(context, count: pendingWrites.count)
            guard tls.isActive else {
                promise?.fail(ChannelError.alreadyClosed)
                return
            }
            _ = connection.shutdown()
            tls.closeNotifySent(promise: nil, timer: nil)
            let written = context.eventLoop.makePromise(of: Void.self)
            writeCiphertext(context, promise: written, flush: true)
            written.futureResult.assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: promise)
            }
        case .fullClose:
            encryptPendingWrites(context, count: pendingWrites.count)
            guard tls.isActive else {
                context.close(promise: promise)
                return
            }
            switch connection.shutdown() {
            case .complete:
                tls.closeNotifySent(promise: promise, timer: nil)
                finishClosing(context)
            case .incomplete, .closed, .failed:
                // Closing before the write: a flush that closes the socket at once (a reset
                // peer) then finds the close under way, not an open connection.
                tls.closeNotifySent(promise: promise, timer: nil)
                writeCiphertext(context, promise: nil, flush: true)
                guard case .closing = tls.phase else { return }
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let timer = context.eventLoop.scheduleTask(in: Self.shutdownTimeout) {
                    let (handler, context) = bound.value
                    handler.finishClosing(context)
                }
                tls.closeNotifySent(promise: promise, timer: timer)
            }
        }
    }

    /// Closes the socket once the last ciphertext (our close_notify) is written, or after
    /// `shutdownTimeout` when a peer that stopped reading never takes it.
    private func finishClosing(_ context: ChannelHandlerContext) {
        guard case .closing = tls.phase else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let socketTimer = context.eventLoop.scheduleTask(in: Self.shutdownTimeout) {
            let (handler, context) = bound.value
            handler.closeSocket(context)
        }
        let waited = tls.closingFinished(socketTimer: socketTimer)
        waited?.timer?.cancel()
        let written = context.eventLoop.makePromise(of: Void.self)
        writeCiphertext(context, promise: written, flush: true)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in closeSocket(context) }
    }

    private func closeSocket(_ context: ChannelHandlerContext) {
        guard let due = tls.socketCloseDue() else { return }
        due.timer?.cancel()
        context.close(promise: due.promise)
    }

    /// A protocol error: send the alert OpenSSL prepared, report, close.
    private func fail(_ context: ChannelHandlerContext, _ error: TLSError) {
        guard tls.mayFail, let previous = tls.closedNow() else { return }
        var promise: EventLoopPromise<Void>?
        if case .closing(let waiting, let timer) = previous {
            timer?.cancel()
            promise = waiting
        }
        failPendingWrites(error)
        writeCiphertext(context, promise: nil, flush: true)
        context.fireErrorCaught(error)
        context.close(promise: promise)
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
