import Logging
import NIOCore
import NIOHTTP1

/// Answers HTTP requests on one connection (HTTP/1.1 now; HTTP/2 streams later use the same
/// handler behind NIO's codec): asks the responder, writes what it decided, logs one line.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: FileResponder
    private let logger: Logger
    private let logRequests: Bool
    private let scheme: String
    private var responseInFlight = false

    init(responder: FileResponder, logger: Logger, logRequests: Bool, scheme: String) {
        self.responder = responder
        self.logger = logger
        self.logRequests = logRequests
        self.scheme = scheme
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let hasBody = Self.hasBody(head)
            context.triggerUserOutboundEvent(ConnectionGuard.Event.requestHead(hasBody: hasBody), promise: nil)
            respond(context: context, head: head, keepAlive: head.isKeepAlive && !hasBody)
        case .body, .end:
            break  // devserve takes no uploads; a request with a body is answered, then the connection closes
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, keepAlive: Bool) {
        let started = NIODeadline.now()
        var response = responder.respond(to: FileResponder.Request(head: head, scheme: scheme))
        if head.version.major == 1 && head.version.minor == 0 {
            if keepAlive { response.headers.add(name: "Connection", value: "keep-alive") }
        } else if !keepAlive {
            response.headers.add(name: "Connection", value: "close")
        }
        let status = response.status
        let length = response.bodyLength
        let isHead = head.method == .HEAD
        responseInFlight = true
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: response.headers))),
            promise: nil)
        var fileHandle: NIOFileHandle?
        if !isHead {
            switch response.body {
            case .empty:
                break
            case .bytes(let buffer):
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            case .file(let slice):
                if let descriptor = slice.takeDescriptor() {
                    let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
                    fileHandle = handle
                    let region = FileRegion(
                        fileHandle: handle, readerIndex: slice.offset, endIndex: slice.offset + slice.length)
                    context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
                }
            }
        }
        if keepAlive && fileHandle == nil && !logRequests {
            // The common case needs nothing once the bytes are queued: no promise, no closure.
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            responseInFlight = false
            context.triggerUserOutboundEvent(ConnectionGuard.Event.responseComplete, promise: nil)
            return
        }
        let logRequests = self.logRequests
        let logger = self.logger
        let method = head.method.rawValue
        let uri = head.uri
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
            try? fileHandle?.close()
            self.responseInFlight = false
            if logRequests {
                let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
                let sent = isHead ? 0 : length
                logger.info(
                    "\(LogLine.request(method: method, path: uri, status: Int(status.code), bytes: sent, milliseconds: elapsed))"
                )
            }
            guard case .success = result else { return }
            if keepAlive {
                context.triggerUserOutboundEvent(ConnectionGuard.Event.responseComplete, promise: nil)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the decoder could not parse: answer once (unless a response is being written)
        // and close, since the byte stream can no longer be trusted.
        if let parserError = error as? HTTPParserError, !responseInFlight {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            var headers = HTTPHeaders()
            let body = "\(status.code) \(status.reasonPhrase)\n"
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Connection", value: "close")
            headers.add(name: "Cache-Control", value: "no-cache")
            responseInFlight = true
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            if logRequests {
                logger.info(
                    "\(LogLine.request(method: "-", path: "(unparseable request)", status: Int(status.code), bytes: body.utf8.count, milliseconds: 0))"
                )
            }
            return
        }
        context.close(promise: nil)
    }

    private static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        if let length = head.headers.first(name: "content-length"), length != "0" { return true }
        return false
    }
}

@available(*, unavailable)
extension HTTPHandler: Sendable {}
