import NIOCore
import NIOHTTP1

/// What the server asks of whatever answers requests: the site today (`FileResponder`, with live
/// reload), the backend proxy next. The connections know this and nothing else of it: they
/// parse, write, time out and close; the responder decides what each request gets.
public protocol Responder: Sendable {
    /// The answer to `request`, which arrived on `eventLoop`: now, or later.
    func answer(_ request: HTTPRequest, on eventLoop: any EventLoop) -> Answer
    /// The answer to bytes that are not a request the server can read (400, 408, 431, 505); the
    /// connection closes after it.
    func protocolErrorResponse(_ status: HTTPResponseStatus, _ reason: String) -> Response
    /// The answer to plain HTTP that arrived on the HTTPS port.
    func redirectToHTTPS(_ request: HTTPRequest, port: Int) -> Response
}

/// A responder's answer to a request.
public enum Answer {
    case response(Response)
    /// An answer that comes later (a long poll up to date: with the next change, or its
    /// timeout). The connection writes it when it completes, and cancels it if its client
    /// leaves first.
    case later(LaterAnswer)
}

/// A response still to come, completed on the event loop the request came in on and used only
/// there.
public struct LaterAnswer {
    public let response: EventLoopFuture<Response>
    private let onCancel: @Sendable () -> Void

    public init(response: EventLoopFuture<Response>, onCancel: @escaping @Sendable () -> Void) {
        self.response = response
        self.onCancel = onCancel
    }

    /// The client went away: the answer is given up and `response` fails.
    public func cancel() { onCancel() }
}

/// The limits of one HTTP connection, whatever answers its requests.
public struct ConnectionLimits: Sendable {
    /// Largest request head accepted; larger gets 431.
    public var maximumHeadBytes = 16 * 1024
    /// Time a client has to send a whole request head once it starts (or after connecting).
    public var headTimeout: TimeAmount = .seconds(10)
    /// Time an idle keep-alive connection is kept.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A connection whose answers make no progress for this long (the client stopped reading)
    /// is closed; a client that reads, however slowly, is not.
    public var writeStallTimeout: TimeAmount = .seconds(60)
    /// Open connections at most; past it the server stops accepting until one closes.
    public var maximumConnections = 4096

    public init() {}
}
