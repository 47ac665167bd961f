import Foundation
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

@testable import DevServeTLS

/// The TLS handler between two embedded channels: handshake and ALPN, data, closing, and the ways
/// a connection goes wrong. Every test runs on one thread with the embedded loop's clock.
@Suite struct TLSHandlerTests {
    // MARK: Handshake and ALPN

    @Test(
        arguments: [
            (["h2", "http/1.1"], "h2"),
            (["http/1.1", "h2"], "h2"),
            (["http/1.1"], "http/1.1"),
            ([], nil),
            (["spdy/3"], nil),
        ] as [([String], String?)])
    func handshakeAgreesOnALPN(offered: [String], agreed: String?) throws {
        let pair = try TLSPair(alpn: offered)
        defer { pair.finish() }
        try pair.handshake()

        #expect(pair.clientRecorder.events == [.handshakeCompleted(negotiatedProtocol: agreed)])
        #expect(pair.serverRecorder.events == [.handshakeCompleted(negotiatedProtocol: agreed)])
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        #expect(pair.serverTLS.negotiated.hasPrefix("TLSv1.3 TLS_"))
        #expect(pair.clientTLS.negotiated == pair.serverTLS.negotiated)
        #expect(pair.client.isActive && pair.server.isActive)
        // Whatever was agreed (or not), the connection carries data.
        try pingPong(pair)
    }

    @Test func aTLS12ClientGetsAnECDHECipherAndALPN() throws {
        let fixture = try TLSFixture.shared.get()
        let context = try OpenSSLClientContext(trusting: fixture.caPEM, hostName: "localhost", maximumVersion: 0x0303)
        let pair = try TLSPair(alpn: ["h2", "http/1.1"], clientContext: context)
        defer { pair.finish() }
        try pair.handshake()

        #expect(pair.serverRecorder.events == [.handshakeCompleted(negotiatedProtocol: "h2")])
        #expect(pair.clientRecorder.events == [.handshakeCompleted(negotiatedProtocol: "h2")])
        #expect(pair.serverTLS.negotiated.hasPrefix("TLSv1.2 ECDHE-ECDSA-"), "\(pair.serverTLS.negotiated)")
        let cipher = pair.serverTLS.negotiated.split(separator: " ").last.map(String.init) ?? ""
        #expect(OpenSSLServerContext.tls12Ciphers.split(separator: ":").contains(Substring(cipher)))
        try pingPong(pair)
    }

    @Test func ciphertextCutIntoTinyReadsStillWorks() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.connect()
        try pair.pump(chunk: 1)
        #expect(pair.clientRecorder.events == [.handshakeCompleted(negotiatedProtocol: "h2")])
        #expect(pair.serverRecorder.events == [.handshakeCompleted(negotiatedProtocol: "h2")])

        let payload = randomBytes(100_000, seed: 7)
        let written = pair.write(payload, on: pair.client)
        pair.flush(pair.client)
        try pair.pump(chunk: 7)
        #expect(pair.serverRecorder.received == payload)
        #expect(written.succeeded)
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
    }

    // MARK: Data

    @Test func aHandlerAddedToAnActiveChannelStartsTheHandshake() throws {
        let fixture = try TLSFixture.shared.get()
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let server = EmbeddedChannel(loop: loop)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 443)
        client.connect(to: address, promise: nil)
        server.connect(to: address, promise: nil)
        let recorder = Recorder()
        // Added after the channels are active: channelActive never comes, handlerAdded starts it.
        let context = try OpenSSLClientContext(trusting: fixture.caPEM, hostName: "localhost")
        try client.pipeline.syncOperations.addHandler(
            TLSHandler(connection: try OpenSSLConnection(client: context, alpn: ["http/1.1"])))
        try server.pipeline.syncOperations.addHandlers([try fixture.serverContext.makeHandler(), recorder])
        defer {
            client.close(promise: nil)
            server.close(promise: nil)
            loop.run()
            loop.advanceTime(by: TLSHandler.shutdownTimeout)
            try? loop.syncShutdownGracefully()
        }

        var rounds = 0
        while rounds < 100 {
            var moved = false
            while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                moved = true
                try server.writeInbound(bytes)
            }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                moved = true
                try client.writeInbound(bytes)
            }
            if !moved { break }
            rounds += 1
        }
        #expect(recorder.events == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])
        #expect(recorder.errors.isEmpty, "\(recorder.errors)")
    }

    @Test func dataCrossesBothWaysByteExact() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        var everyByte = ByteBuffer()
        everyByte.writeBytes(Array(UInt8.min...UInt8.max) + Array((UInt8.min...UInt8.max).reversed()))
        let reply = randomBytes(3_000, seed: 1)
        let toServer = pair.write(everyByte, on: pair.client)
        let toClient = pair.write(reply, on: pair.server)
        pair.flush(pair.client)
        pair.flush(pair.server)
        try pair.pump()
        #expect(pair.serverRecorder.received == everyByte)
        #expect(pair.clientRecorder.received == reply)
        #expect(toServer.succeeded && toClient.succeeded)

        // And again, on the same connection.
        try pingPong(pair)
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    @Test func manySmallWritesBeforeOneFlushArriveInOrder() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        var expected = ByteBuffer()
        var outcomes: [Outcome] = []
        for index in 0..<3_000 {
            // Mostly small pieces (joined into records), an empty one, some larger than a record,
            // and some of 9 KB, two of which never fit one record.
            let piece: ByteBuffer
            switch index {
            case 0: piece = ByteBuffer()
            case let index where index % 700 == 699: piece = randomBytes(20_000 + index, seed: UInt64(index))
            case let index where index % 97 == 96 || index % 97 == 0:
                piece = randomBytes(9_000 + index, seed: UInt64(index))
            default: piece = ByteBuffer(string: "write \(index);")
            }
            expected.writeImmutableBuffer(piece)
            outcomes.append(pair.write(piece, on: pair.client))
        }
        // Nothing leaves before the flush.
        #expect(try pair.client.readOutbound(as: ByteBuffer.self) == nil)
        #expect(outcomes.allSatisfy { $0.isPending })

        pair.flush(pair.client)
        try pair.pump()
        #expect(pair.serverRecorder.received.readableBytes == expected.readableBytes)
        #expect(pair.serverRecorder.received == expected)
        #expect(outcomes.allSatisfy { $0.succeeded })
    }

    @Test func writesBeforeTheHandshakeArriveAfterIt() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.connect()
        // Both sides write at once, as a client sending its request right after connect() does.
        let request = pair.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", on: pair.client)
        pair.flush(pair.client)
        let banner = pair.write("hello from the server", on: pair.server)
        pair.flush(pair.server)
        #expect(request.isPending && banner.isPending)

        // The client's first flight is its ClientHello only: the request is held back.
        let hello = try pair.drainOutbound(pair.client)
        #expect(hello.getInteger(at: hello.readerIndex, as: UInt8.self) == 0x16)
        #expect(!String(buffer: hello).contains("GET /"))
        try pair.server.writeInbound(hello)

        // The client's Finished and its request reach the server in one read.
        try pair.pump(coalesce: true)
        #expect(pair.serverRecorder.text == "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(pair.clientRecorder.text == "hello from the server")
        #expect(pair.serverRecorder.readsBeforeHandshake == 0)
        #expect(pair.clientRecorder.readsBeforeHandshake == 0)
        #expect(request.succeeded && banner.succeeded)
    }

    @Test func aLargeWriteArrivesByteExact() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        let payload = randomBytes(5 * 1024 * 1024, seed: 5)
        let written = pair.write(payload, on: pair.server)
        #expect(written.isPending)
        pair.flush(pair.server)
        let crossed = try pair.pump()

        #expect(crossed > payload.readableBytes)
        #expect(pair.clientRecorder.received.readableBytes == payload.readableBytes)
        #expect(pair.clientRecorder.received == payload)
        #expect(pair.clientRecorder.reads >= payload.readableBytes / TLSHandler.recordSize)
        #expect(written.succeeded)
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
    }

    // MARK: close_notify

    @Test func clientCloseIsAnsweredAndBothClose() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        let closing = pair.close(pair.client)
        // close_notify is out; the client waits for the answer before closing its socket.
        #expect(closing.isPending)
        #expect(pair.client.isActive)
        let notify = try pair.drainOutbound(pair.client)
        #expect(notify.readableBytes > 0)

        try pair.server.writeInbound(notify)
        pair.loop.run()
        // The server answered with its own close_notify and closed.
        let answer = try pair.drainOutbound(pair.server)
        #expect(answer.readableBytes > 0)
        #expect(!pair.server.isActive)
        #expect(pair.serverRecorder.inactive)

        try pair.client.writeInbound(answer)
        pair.loop.run()
        #expect(!pair.client.isActive)
        #expect(closing.succeeded)
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
    }

    @Test func serverCloseWaitsForTheClientsAnswer() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        let closing = pair.close(pair.server)
        let again = pair.close(pair.server)
        #expect(closing.isPending && again.isPending)
        let notify = try pair.drainOutbound(pair.server)
        #expect(notify.readableBytes > 0)

        try pair.client.writeInbound(notify)
        pair.loop.run()
        // The client answered and closed; the server is still waiting for that answer.
        #expect(!pair.client.isActive)
        #expect(pair.server.isActive)
        let answer = try pair.drainOutbound(pair.client)
        #expect(answer.readableBytes > 0)

        try pair.server.writeInbound(answer)
        pair.loop.run()
        #expect(!pair.server.isActive)
        #expect(closing.succeeded && again.succeeded)
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
    }

    @Test func serverClosesAfterTheTimeoutWhenThePeerNeverAnswers() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        let closing = pair.close(pair.server)
        #expect(try pair.drainOutbound(pair.server).readableBytes > 0)  // close_notify, lost
        pair.loop.advanceTime(by: TLSHandler.shutdownTimeout - .milliseconds(1))
        #expect(pair.server.isActive)
        #expect(closing.isPending)
        pair.loop.advanceTime(by: .milliseconds(1))
        #expect(!pair.server.isActive)
        #expect(closing.succeeded)
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
    }

    @Test func aHalfCloseAnsweredByThePeerEndsTheConnection() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        pair.serverWire.halfClosable = true

        let half = pair.close(pair.server, mode: .output)
        // close_notify went out, then the socket's output was shut; the channel stays up to read.
        #expect(half.succeeded)
        #expect(pair.serverWire.outputClosed)
        #expect(pair.server.isActive)
        try pair.pump()
        #expect(!pair.client.isActive)
        #expect(!pair.server.isActive)
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    /// HTTP1Connection's drain: `close(mode: .output)`, then `close()` when its drain timer fires.
    /// The full close must end the channel even if the peer never answers the close_notify.
    @Test func aFullCloseAfterAHalfCloseEndsEvenIfThePeerIsSilent() throws {
        let pair = try TLSPair()
        defer {
            pair.finish()
            #expect(pair.forcedClose.isEmpty, "closed from below at teardown: \(pair.forcedClose)")
        }
        try pair.handshake()
        pair.serverWire.halfClosable = true

        let half = pair.close(pair.server, mode: .output)
        #expect(half.succeeded)
        #expect(try pair.drainOutbound(pair.server).readableBytes > 0)  // close_notify, never answered

        let full = pair.close(pair.server)
        pair.loop.advanceTime(by: TLSHandler.shutdownTimeout)
        #expect(!pair.server.isActive, "the channel is still open after close() and the shutdown timeout")
        #expect(full.succeeded, "close() never completed: \(String(describing: full.result))")
    }

    @Test func dataWrittenBeforeCloseArrivesBeforeCloseNotify() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()

        let body = randomBytes(200_000, seed: 9)
        let written = pair.write(body, on: pair.server)  // not flushed: the close sends it
        let closing = pair.close(pair.server)
        let late = pair.write("too late", on: pair.server)
        #expect((late.error as? ChannelError) == .outputClosed)

        // The last records and the close_notify reach the client in one read.
        try pair.pump(coalesce: true)
        #expect(pair.clientRecorder.received == body)
        #expect(written.succeeded && closing.succeeded)
        #expect(!pair.client.isActive && !pair.server.isActive)
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
    }

    /// An HTTP/2 connection flushes after every answer, and one read can carry a hundred
    /// requests: what is flushed while a read is handed up leaves in one socket write after it,
    /// in order, with every write's promise kept; what is written after the last flush waits.
    @Test func answersFlushedDuringOneReadLeaveInOneWrite() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let answerer = Answerer(answers: 50)
        try pair.server.pipeline.syncOperations.addHandler(answerer, position: .before(pair.serverRecorder))

        _ = pair.write("fifty requests", on: pair.client)
        pair.flush(pair.client)
        try pair.server.writeInbound(try pair.drainOutbound(pair.client))
        var writes = 0
        while let buffer = try pair.server.readOutbound(as: ByteBuffer.self) {
            writes += 1
            try pair.client.writeInbound(buffer)
        }
        #expect(writes == 1)
        #expect(pair.clientRecorder.text == (0..<50).map { "answer \($0);" }.joined())
        #expect(answerer.outcomes.count == 50 && answerer.outcomes.allSatisfy { $0.succeeded })
        #expect(answerer.unflushed?.isPending == true)

        // The unflushed write goes with the next flush, outside any read.
        pair.flush(pair.server)
        try pair.pump()
        #expect(pair.clientRecorder.text.hasSuffix("answer 49;not flushed"))
        #expect(answerer.unflushed?.succeeded == true)
    }

    /// NIO's HTTP/2 handler writes and flushes its preface when the handshake completes, inside
    /// the read that completed it, after writes held during the handshake: those go first, then
    /// the preface, and a write made after the last flush still waits for the next one.
    @Test func aFlushAtHandshakeCompletionSendsOnlyWhatWasFlushed() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        let preface = PrefaceWriter()
        try pair.server.pipeline.syncOperations.addHandler(preface, position: .before(pair.serverRecorder))
        try pair.connect()
        let held = pair.write("held;", on: pair.server)
        pair.flush(pair.server)
        try pair.pump()

        #expect(pair.serverRecorder.events.count == 1)
        #expect(pair.clientRecorder.text == "held;preface;")
        #expect(held.succeeded && preface.prefaceWritten?.succeeded == true)
        #expect(preface.laterWritten?.isPending == true)
        pair.flush(pair.server)
        try pair.pump()
        #expect(pair.clientRecorder.text == "held;preface;later")
        #expect(preface.laterWritten?.succeeded == true)
    }

    @Test func answersFlushedThenClosedDuringOneReadArriveBeforeCloseNotify() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let answerer = Answerer(answers: 3, closeAfter: true)
        try pair.server.pipeline.syncOperations.addHandler(answerer, position: .before(pair.serverRecorder))

        _ = pair.write("three requests, then goodbye", on: pair.client)
        pair.flush(pair.client)
        try pair.pump()
        #expect(pair.clientRecorder.text == "answer 0;answer 1;answer 2;not flushed")
        #expect(answerer.outcomes.allSatisfy { $0.succeeded } && answerer.unflushed?.succeeded == true)
        #expect(!pair.client.isActive && !pair.server.isActive)
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
    }

    /// TLS 1.3 lets a client close its side right after its request (Go's CloseWrite, socat at
    /// end of input): request and close_notify in one read still get the answer, then ours.
    @Test func aRequestFollowedByCloseNotifyInOneReadIsStillAnswered() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let answerer = Answerer(answers: 1)
        try pair.server.pipeline.syncOperations.addHandler(answerer, position: .before(pair.serverRecorder))
        _ = pair.write("GET / HTTP/1.0\r\n\r\n", on: pair.client)
        pair.flush(pair.client)
        _ = pair.close(pair.client)
        try pair.pump(coalesce: true)
        #expect(pair.clientRecorder.text.hasPrefix("answer 0;"), "\(pair.clientRecorder.text)")
        #expect(answerer.outcomes.count == 1 && answerer.outcomes.allSatisfy { $0.succeeded })
        #expect(!pair.server.isActive)
    }

    /// A peer that stops reading never takes our last bytes; the close still ends, within the
    /// wait for its close_notify plus the wait for our last write.
    @Test func aCloseEndsInBoundedTimeWhenThePeerStopsReading() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let socket = StalledSocket()
        try pair.server.pipeline.syncOperations.addHandler(socket, position: .first)
        socket.stalled = true
        let written = pair.write("a response the client never reads", on: pair.server)
        pair.flush(pair.server)
        let closing = pair.close(pair.server)
        pair.loop.advanceTime(by: TLSHandler.shutdownTimeout)
        #expect(pair.server.isActive, "our last bytes may still go out")
        pair.loop.advanceTime(by: TLSHandler.shutdownTimeout)
        #expect(!pair.server.isActive)
        #expect(closing.succeeded)
        #expect(written.error != nil, "the bytes never left")
    }

    @Test func closingDuringTheHandshakeFailsHeldWrites() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.connect()
        let held = pair.write("never encrypted", on: pair.client)
        pair.flush(pair.client)
        let closing = pair.close(pair.client)
        #expect(closing.succeeded)
        #expect(!pair.client.isActive)
        #expect((held.error as? ChannelError) == .ioOnClosedChannel)
        // Only the ClientHello ever left.
        let sent = try pair.drainOutbound(pair.client)
        #expect(!String(buffer: sent).contains("never encrypted"))
        #expect(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
    }

    // MARK: Truncation

    @Test(arguments: ["server", "client"])
    func eofWithoutCloseNotifyIsAnUncleanShutdown(side: String) throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.handshake()
        let (channel, recorder) =
            side == "server" ? (pair.server, pair.serverRecorder) : (pair.client, pair.clientRecorder)
        let peer = side == "server" ? pair.client : pair.server

        _ = pair.write("the first half", on: peer)
        pair.flush(peer)
        try pair.pump()
        #expect(recorder.text == "the first half")
        let unflushed = pair.write("never sent", on: channel)

        // The socket under the handler goes away without a close_notify.
        channel.pipeline.fireChannelInactive()
        pair.loop.run()
        #expect(recorder.tlsErrors == [.uncleanShutdown])
        #expect(recorder.inactive)
        #expect((unflushed.error as? ChannelError) == .ioOnClosedChannel)
    }

    // MARK: Garbage and truncated handshakes

    struct Garbage: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }
    }

    static let garbage = [
        Garbage(name: "random bytes", bytes: Array(randomBytes(1_000, seed: 3).readableBytesView)),
        Garbage(name: "an HTTP request", bytes: Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)),
        Garbage(
            name: "a handshake record of nonsense",
            bytes: [0x16, 0x03, 0x01, 0x00, 0x20] + Array(repeating: 0xAB, count: 32)),
        Garbage(name: "an alert before any hello", bytes: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
    ]

    @Test(arguments: garbage)
    func garbageFailsTheHandshake(_ garbage: Garbage) throws {
        let name = garbage.name
        let pair = try TLSPair()
        defer { pair.finish() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 443)
        pair.server.connect(to: address, promise: nil)
        let held = pair.write("held until the handshake", on: pair.server)
        pair.flush(pair.server)

        try pair.server.writeInbound(ByteBuffer(bytes: garbage.bytes))
        pair.loop.run()

        let errors = pair.serverRecorder.tlsErrors
        #expect(errors.count == 1, "\(name): \(pair.serverRecorder.errors)")
        guard case .handshakeFailed(let details)? = errors.first else {
            Issue.record("\(name): expected handshakeFailed, got \(errors)")
            return
        }
        if name == "an HTTP request" {
            #expect(details.joined().contains("http request"), "\(details)")
        }
        #expect(!pair.server.isActive)
        #expect(pair.serverRecorder.events.isEmpty)
        if case .handshakeFailed? = held.error as? TLSError {
        } else {
            Issue.record("\(name): the held write ended with \(String(describing: held.result))")
        }
        // At most an alert went out (record type 21), never plaintext.
        let sent = try pair.drainOutbound(pair.server)
        if sent.readableBytes > 0 {
            #expect(sent.getInteger(at: sent.readerIndex, as: UInt8.self) == 0x15, "\(name)")
            #expect(!String(buffer: sent).contains("held until"))
        }
    }

    @Test func truncatedClientHelloThenEOFFailsThePendingWrites() throws {
        let pair = try TLSPair()
        defer { pair.finish() }
        try pair.connect()
        let hello = try pair.drainOutbound(pair.client)
        #expect(hello.readableBytes > 100)
        let start = try #require(hello.getSlice(at: hello.readerIndex, length: 20))

        let held = pair.write("held", on: pair.server)
        pair.flush(pair.server)
        try pair.server.writeInbound(start)
        pair.loop.run()
        // The server waits for the rest: nothing sent, nothing reported.
        #expect(try pair.drainOutbound(pair.server).readableBytes == 0)
        #expect(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        #expect(held.isPending)

        pair.server.pipeline.fireChannelInactive()
        pair.loop.run()
        #expect(pair.serverRecorder.inactive)
        #expect(pair.serverRecorder.events.isEmpty)
        #expect((held.error as? ChannelError) == .ioOnClosedChannel)
        // Late bytes after the EOF are ignored.
        let rest = try #require(hello.getSlice(at: hello.readerIndex + 20, length: hello.readableBytes - 20))
        try pair.server.writeInbound(rest)
        #expect(pair.serverRecorder.events.isEmpty)
    }

    // MARK: Refused clients

    @Test func aTLS11ClientIsRefused() throws {
        let fixture = try TLSFixture.shared.get()
        // 0x0302 is TLS1_1_VERSION.
        let old = try OpenSSLClientContext(trusting: fixture.caPEM, hostName: "localhost", maximumVersion: 0x0302)
        let pair = try TLSPair(clientContext: old)
        defer { pair.finish() }
        try pair.connect()
        let early = pair.write("hello", on: pair.client)
        pair.flush(pair.client)
        try pair.pump()

        let serverError = try #require(pair.serverRecorder.tlsErrors.first)
        guard case .handshakeFailed(let details) = serverError else {
            Issue.record("server: \(serverError)")
            return
        }
        #expect(details.joined().contains("unsupported protocol"), "\(details)")
        let clientError = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(isHandshakeFailure(clientError, containing: "protocol version"), "\(clientError)")
        #expect(pair.serverRecorder.events.isEmpty && pair.clientRecorder.events.isEmpty)
        #expect(!pair.server.isActive && !pair.client.isActive)
        #expect(isHandshakeFailure(early.error, containing: ""), "\(String(describing: early.result))")
        #expect(pair.serverRecorder.received.readableBytes == 0)
    }

    @Test func aClientTrustingAnotherCARejectsTheServer() throws {
        let otherCA = try withTemporaryFolder { root in
            try CertificateAuthority.ensureLocalCA(in: root + "/other-ca").certificatePEM
        }
        let context = try OpenSSLClientContext(trusting: otherCA, hostName: "localhost")
        try expectVerificationFailure(context)
    }

    @Test func aClientExpectingAnotherNameRejectsTheServer() throws {
        let fixture = try TLSFixture.shared.get()
        let context = try OpenSSLClientContext(trusting: fixture.caPEM, hostName: "example.com")
        try expectVerificationFailure(context)
    }

    // MARK: Helpers

    /// One short message each way on a connected pair.
    private func pingPong(_ pair: TLSPair) throws {
        let clientBefore = pair.clientRecorder.received.readableBytes
        let serverBefore = pair.serverRecorder.received.readableBytes
        let ping = pair.write("ping", on: pair.client)
        let pong = pair.write("pong", on: pair.server)
        pair.flush(pair.client)
        pair.flush(pair.server)
        try pair.pump()
        #expect(pair.serverRecorder.received.getString(at: serverBefore, length: 4) == "ping")
        #expect(pair.clientRecorder.received.getString(at: clientBefore, length: 4) == "pong")
        #expect(pair.serverRecorder.received.readableBytes == serverBefore + 4)
        #expect(pair.clientRecorder.received.readableBytes == clientBefore + 4)
        #expect(ping.succeeded && pong.succeeded)
    }

    private func isHandshakeFailure(_ error: (any Error)?, containing text: String) -> Bool {
        guard case .handshakeFailed(let details)? = error as? TLSError else { return false }
        return text.isEmpty || details.joined(separator: "; ").contains(text)
    }

    /// The client refuses the server's certificate; the server hears the alert. Neither completes.
    private func expectVerificationFailure(_ context: OpenSSLClientContext) throws {
        let pair = try TLSPair(clientContext: context)
        defer { pair.finish() }
        try pair.handshake()

        let clientError = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(isHandshakeFailure(clientError, containing: "certificate verify failed"), "\(clientError)")
        let serverError = try #require(pair.serverRecorder.tlsErrors.first)
        #expect(isHandshakeFailure(serverError, containing: ""), "\(serverError)")
        #expect(pair.clientRecorder.events.isEmpty && pair.serverRecorder.events.isEmpty)
        #expect(!pair.client.isActive && !pair.server.isActive)
    }
}
