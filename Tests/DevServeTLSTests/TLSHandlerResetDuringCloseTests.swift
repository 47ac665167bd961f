import NIOCore
import NIOEmbedded
import Testing

@testable import DevServeTLS

/// The socket below TLS: once armed, a flush finds the connection reset (as a write after the
/// peer's RST does) and the channel closes at once, inside the flush.
final class ResetOnFlush: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var armed = false
    func flush(context: ChannelHandlerContext) {
        if armed { armed = false; context.close(promise: nil) } else { context.flush() }
    }
}

@Suite struct TLSHandlerResetDuringCloseTests {
    @Test func aResetWhileCloseNotifyIsFlushedCompletesTheClose() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let reset = ResetOnFlush()
        try pair.server.pipeline.syncOperations.addHandler(reset, position: .first)
        reset.armed = true
        let closing = pair.close(pair.server)
        pair.loop.run()
        print(
            "R9A inactive=\(!pair.server.isActive) result=\(String(describing: closing.result)) errors=\(pair.serverRecorder.errors)"
        )
        #expect(!pair.server.isActive)
        #expect(closing.succeeded, "close promise: \(String(describing: closing.result))")
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        // Writes after the close began must be refused.
        let late = pair.write("late", on: pair.server)
        print("R9A late=\(String(describing: late.result))")
        pair.loop.advanceTime(by: TLSHandler.shutdownTimeout + .seconds(1))
        pair.loop.run()
        print("R9A after timeout result=\(String(describing: closing.result))")
        #expect(closing.succeeded, "close promise after timeout: \(String(describing: closing.result))")
    }
}
