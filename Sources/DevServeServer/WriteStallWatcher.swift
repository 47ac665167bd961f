import NIOCore

/// Closes an HTTP/2 connection whose answers stop leaving: a client that keeps its flow-control
/// window at 0 (or stops reading) would otherwise hold its socket and the files of its open
/// streams for as long as it likes, since the idle timeout does not run while a stream is open.
/// Progress, not completion, is the test: a write that completes (a chunk passed on by NIO's
/// HTTP/2 handler) restarts the clock, so a slow reader that keeps reading is never cut.
///
/// It sits between NIO's HTTP/2 handler and `HTTP2Connection`, so it sees the DATA frames flow
/// control holds back. Only writes that carry a promise are watched, which costs nothing per
/// small answer: the connection gives one to every chunk of a file body (`FileStream`), the only
/// answers that hold a file and keep a stream open; an answer from memory is queued whole, its
/// stream ends at once, and the idle timeout then ends a connection whose client never takes it.
/// (HTTP/1.1 checks the same in its own timer, with no handler in the way of every write.)
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
        guard let promise else {
            context.write(data, promise: nil)
            return
        }
        if unfinished == 0 {
            lastProgress = context.eventLoop.now
            if timer == nil { schedule(context, at: lastProgress + limit) }
        }
        unfinished += 1
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
