// Two EmbeddedChannels back to back, each with a TLSHandler and a recorder behind it, and a pump
// that carries ciphertext between them: the TLS code runs for real (OpenSSL on both ends), with
// no sockets, no threads and no clocks but the embedded loop's.
import Foundation
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

@testable import DevServeTLS

/// A local CA, a leaf for localhost signed by it, and the server context loaded from the leaf's files.
struct TLSFixture: Sendable {
    let serverContext: TLSServerContext
    let caPEM: [UInt8]

    /// Made once for the whole suite: key generation is the slow part, and the context is immutable.
    static let shared = Result { try TLSFixture.make() }

    static func make() throws -> TLSFixture {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let certificate = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            _ = try ca.ensureLeaf(certPath: certificate, keyPath: key, names: [], ipAddresses: [])
            return TLSFixture(
                serverContext: try TLSServerContext(certificatePath: certificate, keyPath: key),
                caPEM: ca.certificatePEM)
        }
    }
}

/// Sits behind a TLSHandler and keeps what came up: plaintext, user events, errors, inactivity.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Every plaintext byte read, in order.
    var received = ByteBuffer()
    var reads = 0
    /// Reads that arrived before any `handshakeCompleted` event.
    var readsBeforeHandshake = 0
    var events: [TLSUserEvent] = []
    var errors: [any Error] = []
    var inactive = false

    var tlsErrors: [TLSError] { errors.compactMap { $0 as? TLSError } }
    var text: String { String(buffer: received) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        reads += 1
        if events.isEmpty { readsBeforeHandshake += 1 }
        received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent { events.append(event) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        context.fireChannelInactive()
    }
}

/// The front of a pipeline, standing in for the socket. EmbeddedChannel treats every close as a
/// full close; a socket channel shuts only its output on `close(mode: .output)` and stays active.
/// With `halfClosable` this does the same (later writes fail with `outputClosed`). `forceClose()`
/// closes the channel from below the TLS handler, for teardown.
final class Wire: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var halfClosable = false
    private(set) var outputClosed = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !outputClosed else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if halfClosable, mode == .output {
            outputClosed = true
            promise?.succeed(())
            return
        }
        context.close(mode: mode, promise: promise)
    }

    /// Closes the socket itself, as the kernel would after a reset.
    func forceClose() { context?.close(promise: nil) }
}

/// Answers each read as an HTTP/2 connection does: `answers` writes, each flushed at once, then
/// one write left unflushed; with `closeAfter`, then closes. The read goes on up the pipeline.
final class Answerer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answers: Int
    private let closeAfter: Bool
    private(set) var outcomes: [Outcome] = []
    private(set) var unflushed: Outcome?

    init(answers: Int, closeAfter: Bool = false) {
        self.answers = answers
        self.closeAfter = closeAfter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        for index in 0..<answers {
            let promise = context.eventLoop.makePromise(of: Void.self)
            outcomes.append(Outcome(promise.futureResult))
            context.write(wrapOutboundOut(ByteBuffer(string: "answer \(index);")), promise: promise)
            context.flush()
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        unflushed = Outcome(promise.futureResult)
        context.write(wrapOutboundOut(ByteBuffer(string: "not flushed")), promise: promise)
        if closeAfter { context.close(promise: nil) }
        context.fireChannelRead(data)
    }
}

/// On `handshakeCompleted`, writes and flushes "preface;", then writes "later" without a flush.
final class PrefaceWriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var prefaceWritten: Outcome?
    private(set) var laterWritten: Outcome?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let preface = context.eventLoop.makePromise(of: Void.self)
            prefaceWritten = Outcome(preface.futureResult)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "preface;")), promise: preface)
            let later = context.eventLoop.makePromise(of: Void.self)
            laterWritten = Outcome(later.futureResult)
            context.write(wrapOutboundOut(ByteBuffer(string: "later")), promise: later)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// A socket whose send buffer is full (the peer stopped reading): while `stalled`, writes are
/// held; closing fails them, as closing a socket does.
final class StalledSocket: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var stalled = false
    private var held: [EventLoopPromise<Void>?] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard stalled else { return context.write(data, promise: promise) }
        held.append(promise)
    }

    func flush(context: ChannelHandlerContext) {
        if !stalled { context.flush() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        let promises = held
        held.removeAll()
        for each in promises { each?.fail(ChannelError.ioOnClosedChannel) }
        context.close(mode: mode, promise: promise)
    }
}

/// The result of a future, once it has one (read on the embedded loop's thread).
final class Outcome {
    private(set) var result: Result<Void, any Error>?

    init(_ future: EventLoopFuture<Void>) {
        future.assumeIsolated().whenComplete { self.result = $0 }
    }

    var isPending: Bool { result == nil }
    var succeeded: Bool {
        if case .success = result { return true }
        return false
    }
    var error: (any Error)? {
        if case .failure(let error) = result { return error }
        return nil
    }
}

/// A client and a server channel on one embedded loop, each TLSHandler → Recorder.
final class TLSPair {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let server: EmbeddedChannel
    let clientTLS: TLSHandler
    let serverTLS: TLSHandler
    let clientRecorder = Recorder()
    let serverRecorder = Recorder()
    let clientWire = Wire()
    let serverWire = Wire()
    /// Set by `finish` when a channel would not close through its TLS handler.
    private(set) var forcedClose: [String] = []

    /// `clientContext` defaults to one that trusts the fixture's CA and checks the name localhost.
    init(alpn: [String] = ["h2", "http/1.1"], clientContext: OpenSSLClientContext? = nil) throws {
        let fixture = try TLSFixture.shared.get()
        let context = try clientContext ?? OpenSSLClientContext(trusting: fixture.caPEM, hostName: "localhost")
        clientTLS = TLSHandler(connection: try OpenSSLConnection(client: context, alpn: alpn))
        serverTLS = try fixture.serverContext.makeHandler()
        client = EmbeddedChannel(loop: loop)
        server = EmbeddedChannel(loop: loop)
        try client.pipeline.syncOperations.addHandlers([clientWire, clientTLS, clientRecorder])
        try server.pipeline.syncOperations.addHandlers([serverWire, serverTLS, serverRecorder])
    }

    /// Makes both channels active (server first, as a listener accepts before the client speaks).
    /// Nothing crosses until `pump`.
    func connect() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 443)
        server.connect(to: address, promise: nil)
        client.connect(to: address, promise: nil)
    }

    /// Connects and pumps until both sides are quiet.
    func handshake() throws {
        try connect()
        try pump()
    }

    /// Moves every flushed outbound buffer of each channel into the other's inbound, in rounds,
    /// until a round moves nothing. Bytes for a channel that is no longer active are dropped, as
    /// the network would. `chunk` splits each buffer into reads of at most that many bytes;
    /// `coalesce` joins everything a channel sent in a round into one read.
    /// Returns how many ciphertext bytes crossed.
    @discardableResult
    func pump(chunk: Int = .max, coalesce: Bool = false) throws -> Int {
        var total = 0
        for _ in 0..<10_000 {
            loop.run()
            let fromClient = try deliver(from: client, to: server, chunk: chunk, coalesce: coalesce)
            let fromServer = try deliver(from: server, to: client, chunk: chunk, coalesce: coalesce)
            total += fromClient.bytes + fromServer.bytes
            if fromClient.buffers == 0 && fromServer.buffers == 0 { return total }
        }
        Issue.record("the two channels were still talking after 10,000 rounds")
        return total
    }

    private func deliver(
        from source: EmbeddedChannel, to destination: EmbeddedChannel, chunk: Int, coalesce: Bool
    ) throws -> (buffers: Int, bytes: Int) {
        var sent: [ByteBuffer] = []
        while let buffer = try source.readOutbound(as: ByteBuffer.self) { sent.append(buffer) }
        let bytes = sent.reduce(0) { $0 + $1.readableBytes }
        if coalesce, sent.count > 1 {
            var joined = ByteBuffer()
            for var buffer in sent { joined.writeBuffer(&buffer) }
            sent = [joined]
        }
        for var buffer in sent {
            while destination.isActive, let piece = buffer.readSlice(length: min(chunk, buffer.readableBytes)),
                piece.readableBytes > 0
            {
                try destination.writeInbound(piece)
            }
        }
        return (sent.count, bytes)
    }

    /// Everything `channel` has flushed and not yet handed over, joined.
    func drainOutbound(_ channel: EmbeddedChannel) throws -> ByteBuffer {
        var all = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&buffer) }
        return all
    }

    /// Writes `bytes` from above the TLS handler of `channel` (without flushing).
    func write(_ bytes: ByteBuffer, on channel: EmbeddedChannel) -> Outcome {
        let promise = loop.makePromise(of: Void.self)
        channel.pipeline.syncOperations.write(NIOAny(bytes), promise: promise)
        return Outcome(promise.futureResult)
    }

    func write(_ text: String, on channel: EmbeddedChannel) -> Outcome {
        write(ByteBuffer(string: text), on: channel)
    }

    func flush(_ channel: EmbeddedChannel) {
        channel.pipeline.syncOperations.flush()
    }

    func close(_ channel: EmbeddedChannel, mode: CloseMode = .all) -> Outcome {
        let promise = loop.makePromise(of: Void.self)
        channel.pipeline.syncOperations.close(mode: mode, promise: promise)
        return Outcome(promise.futureResult)
    }

    /// Ends both channels whatever state the test left them in, so that no promise, timer or open
    /// EmbeddedChannel is left behind (each of those traps in debug builds). A channel the TLS
    /// handler would not close is closed from below and named in `forcedClose`.
    func finish() {
        client.close(promise: nil)
        server.close(promise: nil)
        loop.run()
        loop.advanceTime(by: TLSHandler.shutdownTimeout + .seconds(1))
        loop.run()
        for (name, channel, wire) in [("client", client, clientWire), ("server", server, serverWire)]
        where channel.isActive {
            forcedClose.append(name)
            wire.forceClose()
        }
        loop.run()
        try? loop.syncShutdownGracefully()
    }
}

/// A reproducible stream of pseudo-random numbers (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// `count` pseudo-random bytes from `seed`.
func randomBytes(_ count: Int, seed: UInt64) -> ByteBuffer {
    var generator = SeededGenerator(seed: seed)
    var buffer = ByteBuffer()
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
        var offset = 0
        while offset + 8 <= count {
            pointer.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < count {
            pointer[offset] = UInt8(truncatingIfNeeded: generator.next())
            offset += 1
        }
        return count
    }
    return buffer
}
