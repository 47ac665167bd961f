import Logging
import NIOCore
import NIOHTTP1

/// Serves one HTTP/2 stream, behind NIO's `HTTP2FramePayloadToHTTP1ServerCodec`: the same
/// responder, the same responses as HTTP/1.1 — files (streamed in chunks, with HTTP/2 flow
/// control as the backpressure), listings, injected pages and long polls. Each stream is its own
/// channel, so many polls can wait on one connection; a stream reset by the browser forgets its
/// poll at once.
final class HTTP2StreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: FileResponder
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var waitingPoll: Int?
    private var done = false

    init(responder: FileResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // devserve takes no request bodies; the answer does not depend on one
        case .end:
            guard let head, !done else { return }
            self.head = nil
            respond(context, to: HTTPRequest(head: head, scheme: "https"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done = true
        if let waitingPoll { responder.configuration.changeHub?.cancel(waitingPoll) }
        waitingPoll = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(_ context: ChannelHandlerContext, to request: HTTPRequest) {
        let started = responder.configuration.logRequests ? NIODeadline.now() : .uptimeNanoseconds(0)
        switch responder.answer(request) {
        case .response(let response):
            send(context, response, for: request, started: started)
        case .waitForChanges(let since):
            guard let hub = responder.configuration.changeHub else { return }
            let (id, answer) = hub.wait(
                since: since, on: context.eventLoop, timeout: responder.configuration.limits.pollTimeout)
            waitingPoll = id
            answer.assumeIsolated().whenComplete { [self] result in
                waitingPoll = nil
                guard !done, case .success(let answer) = result else { return }
                send(context, responder.pollResponse(answer, request: request), for: request, started: started)
            }
        }
    }

    private func send(
        _ context: ChannelHandlerContext, _ response: Response, for request: HTTPRequest, started: NIODeadline
    ) {
        done = true
        var headers = HTTPHeaders()
        if let fixed = response.fixedHeaders { headers.add(contentsOf: fixed.fields) }
        headers.add(name: "date", value: responder.date.value)
        headers.add(contentsOf: response.headers)
        let head = HTTPResponseHead(version: .http2, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)

        let logLine: () -> Void = { [logger, responder] in
            guard responder.configuration.logRequests else { return }
            logger.info("\(LogLine.request(request, response: response, started: started))")
        }
        let body = request.method == .head ? ResponseBody.empty : response.body
        switch body {
        case .empty:
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            logLine()
        case .bytes(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            logLine()
        case .file(let slice):
            guard let descriptor = slice.takeDescriptor() else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let stream = FileStream(
                descriptor: descriptor, offset: slice.offset, length: slice.length, channel: context.channel,
                write: { chunk in
                    let (handler, context) = bound.value
                    return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk))))
                },
                finished: { complete in
                    let (handler, context) = bound.value
                    guard complete else {
                        // Cut short: reset the stream rather than end it with too few bytes.
                        context.close(promise: nil)
                        return
                    }
                    context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    logLine()
                })
            stream.start()
        }
    }
}

@available(*, unavailable)
extension HTTP2StreamHandler: Sendable {}
