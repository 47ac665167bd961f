import NIOCore
import Synchronization

/// Caps open connections across every listening socket. At the cap the listener stops accepting
/// (new connections wait in the kernel's backlog) and looks again every 50 ms, as NIO's own
/// accept backoff does after EMFILE, so a flood cannot exhaust descriptors or memory.
final class ConnectionLimiter: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel
    typealias OutboundIn = Never

    /// Open connections, shared by the limiters of every listener.
    final class Counter: Sendable {
        let open = Atomic<Int>(0)
        let maximum: Int
        init(maximum: Int) { self.maximum = maximum }
        var isFull: Bool { open.load(ordering: .relaxed) >= maximum }
    }

    private let counter: Counter
    private var pendingRead = false
    private var retry: Scheduled<Void>?

    init(counter: Counter) {
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        counter.open.add(1, ordering: .relaxed)
        let counter = self.counter
        child.closeFuture.whenComplete { _ in counter.open.subtract(1, ordering: .relaxed) }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard counter.isFull else {
            context.read()
            return
        }
        guard !pendingRead else { return }
        pendingRead = true
        scheduleRetry(context)
    }

    private func scheduleRetry(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        retry = context.eventLoop.scheduleTask(in: .milliseconds(50)) {
            let (handler, context) = bound.value
            handler.retry = nil
            if handler.counter.isFull {
                handler.scheduleRetry(context)
            } else {
                handler.pendingRead = false
                context.read()
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        retry?.cancel()
        retry = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ConnectionLimiter: Sendable {}
