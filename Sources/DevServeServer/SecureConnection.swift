import DevServeHTTP
import Logging
import NIOCore
import NIOHTTP2
import NIOTLS
import Synchronization

/// How HTTPS connections are set up. Core does not know OpenSSL: the command line hands it a
/// factory for the TLS handler (DevServeTLS), which must fire `TLSUserEvent.handshakeCompleted`.
public struct TLSSetup: Sendable {
    public var makeHandler: @Sendable () throws -> any ChannelHandler
    /// The sentence to log for a handshake failure the user can act on (a browser that does not
    /// trust the certificate), or nil to stay quiet (scanners, bad clients).
    public var explainFailure: @Sendable (any Error) -> String?
    /// Each explanation is logged once per process: a browser retries, and the log must not fill.
    let explained = Explained()

    public init(
        makeHandler: @escaping @Sendable () throws -> any ChannelHandler,
        explainFailure: @escaping @Sendable (any Error) -> String? = { _ in nil }
    ) {
        self.makeHandler = makeHandler
        self.explainFailure = explainFailure
    }

    final class Explained: Sendable {
        private let said = Mutex<Set<String>>([])

        /// True the first time `sentence` comes.
        func isNew(_ sentence: String) -> Bool {
            said.withLock { $0.insert(sentence).inserted }
        }
    }
}

/// The first handler of a connection on the HTTPS port. It looks at the first byte: a TLS
/// handshake record (0x16) gets the TLS handler, then HTTP/2 or HTTP/1.1 by ALPN; anything else
/// is plain HTTP sent to the wrong port and gets a redirect to the https URL, never a hang.
/// Until the handshake completes, `headTimeout` bounds the connection (a client that connects
/// and sends nothing, or stalls mid-handshake, is closed).
final class SecureConnectionSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let responder: any Responder
    private let settings: ConnectionSettings
    private let logger: Logger
    private let tls: TLSSetup
    private var timer: Scheduled<Void>?

    init(responder: any Responder, settings: ConnectionSettings, logger: Logger, tls: TLSSetup) {
        self.responder = responder
        self.settings = settings
        self.logger = logger
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Closes the connection unless a handshake completes in time; the timer outlives this
        // handler (it is removed at the first byte) and is cancelled by `HandshakeDeadline`.
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: settings.limits.headTimeout) {
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        do {
            let pipeline = context.pipeline.syncOperations
            if first == 0x16 {
                try pipeline.addHandler(try tls.makeHandler(), position: .last)
                try pipeline.addHandler(HandshakeDeadline(timer: timer, logger: logger, tls: tls), position: .last)
                try pipeline.addHandler(alpnHandler(for: context.channel), position: .last)
                timer = nil  // the deadline handler owns it now
            } else {
                timer?.cancel()
                timer = nil
                try pipeline.addHandler(
                    HTTP1Connection(
                        responder: responder, settings: settings, logger: logger, transport: .redirectToTLS),
                    position: .after(self))
            }
        } catch {
            timer?.cancel()
            timer = nil
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// The client shut its side before its first byte: there is nothing to answer.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// HTTP/2 when ALPN agreed `h2`; HTTP/1.1 otherwise (also for clients without ALPN).
    private func alpnHandler(for channel: any Channel) -> ApplicationProtocolNegotiationHandler {
        let responder = responder
        let settings = settings
        let logger = logger
        return ApplicationProtocolNegotiationHandler { result in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                if case .negotiated("h2") = result {
                    try HTTP2Connection.install(on: pipeline, responder: responder, settings: settings, logger: logger)
                } else {
                    try pipeline.addHandler(
                        HTTP1Connection(responder: responder, settings: settings, logger: logger, transport: .tls))
                }
            }
        }
    }
}

@available(*, unavailable)
extension SecureConnectionSniffer: Sendable {}

/// Sits behind the TLS handler until the handshake completes, then cancels the sniffer's deadline
/// and leaves. Handshake errors close the connection (only this connection).
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var timer: Scheduled<Void>?
    private let logger: Logger
    private let tls: TLSSetup

    init(timer: Scheduled<Void>?, logger: Logger, tls: TLSSetup) {
        self.timer = timer
        self.logger = logger
        self.tls = tls
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            timer?.cancel()
            timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        if case .some(.inputClosed) = event as? ChannelEvent {
            // Shut before the handshake ended: it cannot end now.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let sentence = tls.explainFailure(error), tls.explained.isNew(sentence) {
            logger.warning("\(sentence)")
        } else {
            logger.debug("TLS handshake failed: \(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HandshakeDeadline: Sendable {}
