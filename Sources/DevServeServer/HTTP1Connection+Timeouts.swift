import DevServeHTTP
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// The connection's one timer: armed for the head, idle and drain deadlines, and carried out
/// as `HTTP1Timer` decides.
extension HTTP1Connection {
    // MARK: Timeouts

    func arm(_ context: ChannelHandlerContext, after amount: TimeAmount) {
        deadline = .now() + amount
        if let timer {
            // A later deadline is picked up when the pending check runs; an earlier one cannot wait.
            guard deadline < timerFiresAt else { return }
            timer.cancel()
        }
        schedule(context, at: deadline)
    }

    func schedule(_ context: ChannelHandlerContext, at when: NIODeadline) {
        let fireAt = min(when, .now() + (sentFiles.isEmpty ? limits.headTimeout : Self.sentFileCheck))
        timerFiresAt = fireAt
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: fireAt) {
            let (handler, context) = bound.value
            handler.timerFired(context)
        }
    }

    func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        timerFiresAt = .distantFuture
        let facts = HTTP1Timer.Facts(
            phase: state, fileCutShort: sentFiles.contains(where: Self.wasCutShort),
            waitingOnClient: writesInFlight > 0 || !isWritable, pollWaiting: waitingPoll != nil, deadline: deadline,
            partialHead: (pending?.readableBytes ?? 0) > 0, now: .now())
        switch HTTP1Timer.fired(facts) {
        case .none:
            return
        case .close:
            state = .closed
            context.close(promise: nil)
        case .checkWriteProgress:
            checkWriteProgress(context)
        case .wait(let until):
            schedule(context, at: until)
        case .extendIdle:
            arm(context, after: limits.idleTimeout)
        case .refuseRequestTimeout:
            refuse(context, .requestTimeout, "the request head did not arrive in time")
        }
    }
}
