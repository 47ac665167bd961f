import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

@testable import DevServeServer
@testable import DevServeSite

/// NIO's HTTP/2 handler and HTTP2Connection installed as a TLS connection installs them, fed raw
/// bytes as a client sends them: how connection errors and stream errors end.
@Suite struct HTTP2WireTests {
    final class Wire {
        let tree: TempTree
        let channel: EmbeddedChannel

        init(limits: ServerConfiguration.Limits = .init()) throws {
            tree = try TempTree()
            _ = try tree.write("a.txt", "alpha")
            let configuration = ServerConfiguration(root: try TestServer.realPath(tree.path), limits: limits)
            channel = EmbeddedChannel()
            try HTTP2Connection.install(
                on: channel.pipeline.syncOperations, responder: FileResponder(configuration: configuration),
                settings: ConnectionSettings(configuration), logger: Logger(label: "test"))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        }

        func send(_ bytes: [UInt8]) throws {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            channel.embeddedEventLoop.run()
        }

        /// Every frame the server wrote so far, as (type, flags, stream, payload).
        func frames() throws -> [(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8])] {
            var all = ByteBuffer()
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&buffer) }
            var frames: [(UInt8, UInt8, UInt32, [UInt8])] = []
            while all.readableBytes >= 9,
                let high = all.readInteger(as: UInt8.self), let low = all.readInteger(as: UInt16.self),
                let type = all.readInteger(as: UInt8.self), let flags = all.readInteger(as: UInt8.self),
                let stream = all.readInteger(as: UInt32.self),
                let payload = all.readBytes(length: Int(high) << 16 | Int(low))
            {
                frames.append((type, flags, stream & 0x7FFF_FFFF, payload))
            }
            return frames
        }
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + [UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
            + payload
    }

    /// A GET of `path` on `stream`, HPACK-coded by hand: static-table method, scheme and path
    /// prefix, :authority and :path as literals, then any extra literal fields (names as given).
    static func get(stream: UInt32, path: String, extra: [(String, String)] = []) -> [UInt8] {
        func literal(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }
        var block: [UInt8] = [0x82, 0x87]  // :method GET, :scheme https
        block += [0x01] + literal("localhost:8443")  // :authority, not indexed
        block += [0x04] + literal(path)  // :path, not indexed
        for (name, value) in extra { block += [0x00] + literal(name) + literal(value) }
        return frame(type: 0x1, flags: 0x5, stream: stream, block)  // END_STREAM | END_HEADERS
    }

    @Test func aConnectionErrorIsAnsweredWithGoAwayAndTheConnectionCloses() throws {
        let wire = try Wire()
        // DATA on stream 0 is a connection error of type PROTOCOL_ERROR (RFC 9113 §6.1).
        try wire.send(Self.preface + Self.frame(type: 0x4, stream: 0) + Self.frame(type: 0x0, stream: 0, [0x78]))
        let goAway = try wire.frames().first { $0.type == 0x7 }
        #expect(goAway.map { Array($0.payload[4..<8]) } == [0, 0, 0, 1], "GOAWAY(PROTOCOL_ERROR)")
        #expect(!wire.channel.isActive, "the connection ends after the GOAWAY, instead of idling for 60 s")
    }

    @Test func aBadPrefaceIsAnsweredWithGoAwayAndTheConnectionCloses() throws {
        let wire = try Wire()
        try wire.send(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        #expect(try wire.frames().contains { $0.type == 0x7 })
        #expect(!wire.channel.isActive)
    }

    /// A client that negotiated h2 and never sends its preface is closed after the head timeout,
    /// not kept for the idle timeout.
    @Test func aConnectionWithoutPrefaceClosesAfterTheHeadTimeout() throws {
        var limits = ServerConfiguration.Limits()
        limits.headTimeout = .seconds(1)
        limits.idleTimeout = .seconds(60)
        let wire = try Wire(limits: limits)
        wire.channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(wire.channel.isActive)
        wire.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!wire.channel.isActive, "closed after headTimeout (1 s), not idleTimeout (60 s)")
    }

    /// Once the preface has arrived, an idle connection is kept for the idle timeout.
    @Test func aConnectionWithPrefaceIsKeptForTheIdleTimeout() throws {
        var limits = ServerConfiguration.Limits()
        limits.headTimeout = .seconds(1)
        limits.idleTimeout = .seconds(5)
        let wire = try Wire(limits: limits)
        try wire.send(Self.preface + Self.frame(type: 0x4, stream: 0))
        wire.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(wire.channel.isActive)
        wire.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(!wire.channel.isActive)
    }

    /// A client that opens its window to 0 and asks for many large files holds them only until
    /// the write-stall limit: no DATA can leave, so the connection is closed.
    @Test func aZeroWindowWithManyStreamsIsClosedAfterTheStallLimit() throws {
        var limits = ServerConfiguration.Limits()
        limits.writeStallTimeout = .seconds(1)
        let wire = try Wire(limits: limits)
        _ = try wire.tree.write("big.bin", String(repeating: "b", count: 1 << 20))
        let windowZero = Self.frame(type: 0x4, stream: 0, [0x00, 0x04, 0, 0, 0, 0])  // INITIAL_WINDOW_SIZE 0
        var requests: [UInt8] = []
        for stream in stride(from: UInt32(1), through: 99, by: 2) {
            requests += Self.get(stream: stream, path: "/big.bin")
        }
        try wire.send(Self.preface + windowZero + requests)
        let headers = try wire.frames().filter { $0.type == 0x1 }
        #expect(headers.count == 50, "every stream got its HEADERS")
        wire.channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(wire.channel.isActive)
        wire.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!wire.channel.isActive, "a connection whose answers cannot leave is closed")
    }

    /// A client that shuts its side after its request gets the answer, then GOAWAY and the close.
    @Test func aHalfClosedClientGetsItsAnswerThenGoAway() throws {
        let wire = try Wire()
        try wire.send(Self.preface + Self.frame(type: 0x4, stream: 0) + Self.get(stream: 1, path: "/a.txt"))
        wire.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        wire.channel.embeddedEventLoop.run()
        let frames = try wire.frames()
        let data = frames.filter { $0.type == 0x0 && $0.stream == 1 }.flatMap(\.payload)
        #expect(String(decoding: data, as: UTF8.self) == "alpha")
        let goAway = try #require(frames.last { $0.type == 0x7 }, "a GOAWAY after the answer")
        #expect(Array(goAway.payload[4..<8]) == [0, 0, 0, 0], "GOAWAY(NO_ERROR)")
        #expect(!wire.channel.isActive, "closed at once, not after the idle timeout")
    }

    @Test func aStreamErrorResetsOnlyThatStream() throws {
        let wire = try Wire()
        // An uppercase field name is malformed (RFC 9113 §8.2.1): a stream error, not a connection one.
        try wire.send(
            Self.preface + Self.frame(type: 0x4, stream: 0)
                + Self.get(stream: 1, path: "/a.txt", extra: [("X-Upper", "1")]))
        let first = try wire.frames()
        #expect(first.contains { $0.type == 0x3 && $0.stream == 1 }, "RST_STREAM on stream 1")
        #expect(!first.contains { $0.type == 0x7 }, "no GOAWAY")
        #expect(wire.channel.isActive)

        try wire.send(Self.get(stream: 3, path: "/a.txt"))
        let second = try wire.frames()
        #expect(second.contains { $0.type == 0x1 && $0.stream == 3 }, "stream 3 is answered")
        let body = second.filter { $0.type == 0x0 && $0.stream == 3 }.flatMap(\.payload)
        #expect(body == Array("alpha".utf8))
        #expect(wire.channel.isActive)
        _ = try? wire.channel.finish()
    }
}
