import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import DevServeServer
@testable import DevServeSite

/// HTTP1Connection on an EmbeddedChannel whose writability the test controls: a client that does
/// not read its answers stops being answered and stops being read, and both resume once it reads.
@Suite struct HTTP1BackpressureTests {
    /// Counts the read requests that reach the socket end of the pipeline.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    static func responses(_ channel: EmbeddedChannel) throws -> Int {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text.components(separatedBy: "HTTP/1.1 200 OK\r\n").count - 1
    }

    @Test func anUnwritableChannelIsNeitherAnsweredNorReadUntilItDrains() throws {
        let tree = try TempTree()
        _ = try tree.write("a.txt", "alpha")
        let responder = FileResponder(configuration: ServerConfiguration(root: try TestServer.realPath(tree.path)))
        let counter = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(
            HTTP1Connection(
                responder: responder, settings: ConnectionSettings(responder.configuration), logger: Logger(label: "t"))
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        let request = "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"

        try channel.writeInbound(ByteBuffer(string: request))
        #expect(try Self.responses(channel) == 1)

        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: request + request))
        #expect(try Self.responses(channel) == 0, "answered while the client was not reading")
        let readsBefore = counter.reads
        channel.read()
        #expect(counter.reads == readsBefore, "read more requests while the client was not reading")

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try Self.responses(channel) == 2)
        #expect(counter.reads == readsBefore + 1, "the held read did not resume")
    }

    /// A socket whose writes complete only when the test says (a client reading slowly); a
    /// half-close shuts only its output, as a socket's does.
    final class SlowSocket: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var holding = false
        private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
        private var context: ChannelHandlerContext?
        private(set) var outputClosed = false

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard holding else { return context.write(data, promise: promise) }
            held.append((data, promise))
        }

        func flush(context: ChannelHandlerContext) {
            if !holding { context.flush() }
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            if mode == .output {
                outputClosed = true
                promise?.succeed(())
                return
            }
            release()
            context.close(mode: mode, promise: promise)
        }

        /// The client reads: everything held goes out.
        func release() {
            holding = false
            let writes = held
            held.removeAll()
            for (data, promise) in writes { context?.write(data, promise: promise) }
            context?.flush()
        }
    }

    /// A request that announces a body is answered, then the connection drains what the client
    /// still sends. A read held back while the answer was going out resumes for the drain;
    /// otherwise the body stays unread and the final close resets the connection.
    @Test func aReadHeldWhileTheAnswerGoesOutResumesForTheDrain() throws {
        let tree = try TempTree()
        _ = try tree.write("a.txt", "alpha")
        let responder = FileResponder(configuration: ServerConfiguration(root: try TestServer.realPath(tree.path)))
        let socket = SlowSocket()
        let counter = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([socket, counter])
        try channel.pipeline.syncOperations.addHandler(
            HTTP1Connection(
                responder: responder, settings: ConnectionSettings(responder.configuration), logger: Logger(label: "t"))
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()

        socket.holding = true
        try channel.writeInbound(
            ByteBuffer(string: "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n"))
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        let readsBefore = counter.reads
        channel.read()
        #expect(counter.reads == readsBefore, "held while the client was not reading")

        socket.release()
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(socket.outputClosed, "answered, then half-closed to drain")
        #expect(counter.reads == readsBefore + 1, "the drain never read the rest of the body")
        #expect(try Self.responses(channel) == 1)
        _ = try? channel.finish()
    }
}
