import NIOCore

/// Closes a connection whose answers stop leaving: a client that stops reading (a tiny receive
/// window, an HTTP/2 flow-control window of 0) would otherwise hold its socket and its open
/// files for as long as it likes, since the idle timeout does not run while an answer is going
/// out. Progress, not completion, is the test: a write that completes (a chunk handed to the
/// socket, or to the layer below) restarts the clock, so a slow reader that keeps reading (a
/// paused `<video>` reading in bursts) is never cut.
///
/// It sits directly in front of the connection handler (HTTP1Connection, HTTP2Connection), so it
/// sees the writes the protocol engine holds back too (HTTP/2 flow control keeps DATA frames
/// below it until the window opens). The connection's file bodies go out in pieces small enough
/// that their writes complete often (`FileStream` chunks, sendfile regions).
final class WriteStallWatcher: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let limit: TimeAmount
    /// Writes passed on whose promise has not completed yet.
    private var unfinished = 0
    /// When a write last completed, or the first of the unfinished ones was passed on.
    private var lastProgress = NIODeadline.distantPast
    private var timer: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unfinished == 0 {
            lastProgress = context.eventLoop.now
            if timer == nil { schedule(context, at: lastProgress + limit) }
        }
        unfinished += 1
        let promise = promise ?? context.eventLoop.makePromise()
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in
            unfinished -= 1
            lastProgress = context.eventLoop.now
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all {
            timer?.cancel()
            timer = nil
        }
        context.close(mode: mode, promise: promise)
    }

    private func schedule(_ context: ChannelHandlerContext, at when: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: when) {
            let (watcher, context) = bound.value
            watcher.check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        timer = nil
        guard unfinished > 0, context.channel.isActive else { return }
        let due = lastProgress + limit
        if due > context.eventLoop.now {
            schedule(context, at: due)
        } else {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension WriteStallWatcher: Sendable {}
