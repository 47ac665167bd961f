import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import DevServeCore

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
            HTTP1Connection(responder: responder, logger: Logger(label: "t")))
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
}
