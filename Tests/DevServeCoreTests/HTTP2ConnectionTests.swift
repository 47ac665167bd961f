import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

/// HTTP2Connection on an EmbeddedChannel, frames in and frames out (NIO's HTTP/2 framing and the
/// TLS below it are tested elsewhere; curl and Chromium drive the whole stack in the CLI and
/// browser suites).
@Suite struct HTTP2ConnectionTests {
    final class Fixture {
        let tree: TempTree
        let hub = ChangeHub()
        let channel: EmbeddedChannel
        let loop: EmbeddedEventLoop

        init(limits: ServerConfiguration.Limits = .init()) throws {
            tree = try TempTree()
            _ = try tree.write("index.html", "<!doctype html><html><head><title>t</title></head><body>hi</body></html>")
            _ = try tree.write("a.txt", "alpha")
            let configuration = ServerConfiguration(
                root: try TestServer.realPath(tree.path), changeHub: hub, limits: limits)
            loop = EmbeddedEventLoop()
            channel = EmbeddedChannel(
                handler: HTTP2Connection(
                    responder: FileResponder(configuration: configuration),
                    settings: ConnectionSettings(configuration), logger: Logger(label: "test")),
                loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        }

        func request(
            _ stream: Int, _ path: String, method: String = "GET", endStream: Bool = true,
            extra: [(String, String)] = []
        ) throws {
            var headers = HPACKHeaders([
                (":method", method), (":scheme", "https"), (":authority", "localhost:8443"), (":path", path),
            ])
            for (name, value) in extra { headers.add(name: name, value: value) }
            let frame = HTTP2Frame(
                streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: headers, endStream: endStream)))
            try channel.writeInbound(frame)
        }

        /// Every frame written so far.
        func written() throws -> [HTTP2Frame] {
            var frames: [HTTP2Frame] = []
            while let frame = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(frame) }
            return frames
        }
    }

    static func headers(_ frame: HTTP2Frame) -> HPACKHeaders? {
        if case .headers(let headers) = frame.payload { return headers.headers }
        return nil
    }

    static func body(_ frames: [HTTP2Frame]) -> String {
        var text = ""
        for frame in frames {
            if case .data(let data) = frame.payload, case .byteBuffer(let buffer) = data.data {
                text += String(buffer: buffer)
            }
        }
        return text
    }

    @Test func aGetIsAnsweredWithLowercaseHeadersAndTheInjectedPage() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/")
        let frames = try fixture.written()
        let head = try #require(frames.first.flatMap(Self.headers))
        #expect(head.first(name: ":status") == "200")
        #expect(head.first(name: "content-type") == "text/html; charset=utf-8")
        #expect(head.first(name: "date") != nil)
        #expect(head.contains { $0.name != $0.name.lowercased() } == false, "HTTP/2 header names are lower case")
        #expect(!head.contains(name: "connection"))
        let body = Self.body(frames)
        #expect(body.contains("<script src=\"/__devserve/client.js\""))
        #expect(head.first(name: "content-length") == String(body.utf8.count))
        guard case .data(let last) = frames.last?.payload else {
            Issue.record("the last frame is not DATA")
            return
        }
        #expect(last.endStream)
        #expect(frames.allSatisfy { $0.streamID == HTTP2StreamID(1) })
    }

    @Test func headAndErrorsAndMissingFilesAnswerLikeHTTP1() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/a.txt", method: "HEAD")
        let head = try fixture.written()
        #expect(head.count == 1, "HEAD is one HEADERS frame, no DATA: \(head)")
        #expect(Self.headers(head[0])?.first(name: "content-length") == "5")
        guard case .headers(let block) = head.first?.payload else {
            Issue.record("HEAD was not answered with HEADERS: \(head)")
            return
        }
        #expect(block.endStream, "the HEADERS frame of a HEAD answer ends the stream")
        try fixture.request(3, "/missing.txt")
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "404")
        try fixture.request(5, "/a.txt", method: "DELETE")
        let refused = try fixture.written().first.flatMap(Self.headers)
        #expect(refused?.first(name: ":status") == "405")
        #expect(refused?.first(name: "allow") == "GET, HEAD, OPTIONS")
        try fixture.request(7, "/a.txt", extra: [("range", "bytes=1-2")])
        let ranged = try fixture.written()
        #expect(ranged.first.flatMap(Self.headers)?.first(name: ":status") == "206")
        #expect(Self.body(ranged) == "lp")
    }

    /// The target rules are the HTTP/1.1 parser's: a `:path` with a raw control or non-ASCII
    /// byte is refused, as the same bytes in a request line are.
    @Test func aPathWithRawBytesIsRefusedAsOverHTTP1() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/caf\u{E9}.txt")
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "400")
        try fixture.request(3, "/a\u{1B}[31m")
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "400")
        try fixture.request(5, "/caf%C3%A9.txt")
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "404")
    }

    @Test func aForeignAuthorityIsRefused() throws {
        let fixture = try Fixture()
        var headers = HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":path", "/a.txt")])
        headers.add(name: ":authority", value: "evil.example")
        try fixture.channel.writeInbound(
            HTTP2Frame(streamID: 1, payload: .headers(.init(headers: headers, endStream: true))))
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "403")
    }

    @Test func aRequestWithABodyIsAnsweredThenReleased() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/a.txt", method: "GET", endStream: false, extra: [("content-length", "100")])
        let frames = try fixture.written()
        #expect(frames.first.flatMap(Self.headers)?.first(name: ":status") == "200")
        guard case .rstStream(let code) = frames.last?.payload else {
            Issue.record("no RST_STREAM after the answer: \(frames)")
            return
        }
        #expect(code == .noError)
    }

    @Test func waitingPollsShareTheConnectionAndAResetStreamIsForgotten() throws {
        let fixture = try Fixture()
        let boot = fixture.hub.boot
        for stream in stride(from: 1, through: 19, by: 2) {
            try fixture.request(stream, "/__devserve/poll?boot=\(boot)&since=0")
        }
        #expect(try fixture.written().isEmpty, "up to date: the polls wait")
        #expect(fixture.hub.waiting == 10)
        try fixture.channel.writeInbound(HTTP2Frame(streamID: 3, payload: .rstStream(.cancel)))
        #expect(fixture.hub.waiting == 9, "the browser's reset forgets that poll at once")
        _ = fixture.hub.publish([.init(path: "/a.txt", kind: "modified")])
        fixture.loop.run()
        let frames = try fixture.written()
        let answered = Set(frames.compactMap { Self.headers($0) != nil ? $0.streamID : nil })
        #expect(answered.count == 9)
        #expect(!answered.contains(HTTP2StreamID(3)))
        #expect(Self.body(frames).components(separatedBy: "\"/a.txt\"").count - 1 == 9)
    }

    @Test func anAbsolutePathCannotNameAnotherHost() throws {
        let fixture = try Fixture()
        try fixture.request(1, "https://evil.example/a.txt")
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "400")
    }

    @Test func requestBodyBytesAreGivenBackToTheConnectionWindow() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/a.txt", endStream: false)
        _ = try fixture.written()
        let body = ByteBuffer(repeating: 0x61, count: 1000)
        try fixture.channel.writeInbound(
            HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
        try fixture.channel.writeInbound(
            HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(body), paddingBytes: 9))))
        fixture.channel.pipeline.fireChannelReadComplete()
        let increments = try fixture.written().compactMap { frame -> Int? in
            guard frame.streamID == .rootStream, case .windowUpdate(let increment) = frame.payload else { return nil }
            return increment
        }
        #expect(increments == [1000, 1010])
    }

    @Test func aStreamNIOClosesItselfForgetsItsPoll() throws {
        let fixture = try Fixture()
        try fixture.request(1, "/__devserve/poll?boot=\(fixture.hub.boot)&since=0")
        #expect(fixture.hub.waiting == 1)
        fixture.channel.pipeline.fireUserInboundEventTriggered(
            StreamClosedEvent(streamID: 1, reason: .protocolError))
        #expect(fixture.hub.waiting == 0)
    }

    /// GOAWAY comes 60 s after the last stream ended, also when a later stream moved that back.
    @Test(arguments: [nil, 30] as [Int64?])
    func anIdleConnectionSaysGoAwayAndCloses(secondStreamAfter: Int64?) throws {
        var limits = ServerConfiguration.Limits()
        limits.idleTimeout = .seconds(60)
        let fixture = try Fixture(limits: limits)
        try fixture.request(1, "/a.txt")
        var lastStream = HTTP2StreamID(1)
        if let secondStreamAfter {
            fixture.loop.advanceTime(by: .seconds(secondStreamAfter))
            try fixture.request(3, "/a.txt")
            lastStream = HTTP2StreamID(3)
        }
        _ = try fixture.written()
        fixture.loop.advanceTime(by: .seconds(59))
        #expect(try fixture.written().isEmpty)
        #expect(fixture.channel.isActive)
        fixture.loop.advanceTime(by: .seconds(1))
        let frames = try fixture.written()
        guard case .goAway(let last, let code, _) = frames.first?.payload else {
            Issue.record("no GOAWAY 60 s after the last stream: \(frames)")
            return
        }
        #expect(last == lastStream)
        #expect(code == .noError)
        #expect(!fixture.channel.isActive)
    }

    @Test func aWaitingPollKeepsTheConnectionFromIdling() throws {
        var limits = ServerConfiguration.Limits()
        limits.idleTimeout = .seconds(10)
        let fixture = try Fixture(limits: limits)
        try fixture.request(1, "/__devserve/poll?boot=\(fixture.hub.boot)&since=0")
        fixture.loop.advanceTime(by: .seconds(24))  // past the idle timeout, under the 25 s poll timeout
        #expect(fixture.channel.isActive)
        #expect(try fixture.written().isEmpty)
        fixture.loop.advanceTime(by: .seconds(1))  // the poll times out: 204
        #expect(try fixture.written().first.flatMap(Self.headers)?.first(name: ":status") == "204")
        #expect(fixture.channel.isActive)
    }
}
