import NIOCore

/// The TLS handler's state as a value: each event `TLSHandler` sees is a method here that moves
/// the state on and returns what the handler must do (encrypt how many pending writes, close
/// with which promise, cancel which timer). Nothing here touches a channel or OpenSSL, so the
/// rules are tested alone (`TLSHandlerStateTests`); the promise and the timer a state needs are
/// carried in that state, so none can outlive it. NIOSSLHandler's state enum is the model.
struct TLSHandlerState {
    enum Phase {
        /// The handshake runs; `flushed` of the pending writes were flushed from above meanwhile.
        case handshaking(flushed: Int)
        /// Application data flows both ways.
        case active
        /// Our close_notify is sent; waiting for the peer's, or for `timer`. `promise` is the
        /// close that started it; none after a half-close (the output is already shut).
        case closing(promise: EventLoopPromise<Void>?, timer: Scheduled<Void>?)
        /// Over for TLS: the socket closes, with `promise`, once our last ciphertext is written,
        /// or when `timer` fires for a peer that does not take it.
        case closingSocket(promise: EventLoopPromise<Void>?, timer: Scheduled<Void>?)
        case closed
    }

    private(set) var phase = Phase.handshaking(flushed: 0)
    /// While plaintext is handed up, how many pending writes the flushes from above covered:
    /// they are encrypted together when the read is done (an HTTP/2 connection flushes after
    /// each answer, and one read can carry a hundred requests). Nil when not reading.
    private(set) var flushedDuringRead: Int?

    var isActive: Bool {
        if case .active = phase { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// Writes from above are taken while the handshake runs and while data flows.
    var acceptsWrites: Bool {
        switch phase {
        case .handshaking, .active: return true
        case .closing, .closingSocket, .closed: return false
        }
    }

    /// Whether plaintext from the peer is still read (it may carry the peer's close_notify).
    var readsPlaintext: Bool {
        switch phase {
        case .active, .closing: return true
        case .handshaking, .closingSocket, .closed: return false
        }
    }

    // MARK: Reading and flushing

    /// A read from the socket starts; returns whether one was already under way (nested).
    mutating func readStarted() -> Bool {
        if flushedDuringRead != nil { return true }
        flushedDuringRead = 0
        return false
    }

    /// A read ends; for the outermost one, how many pending writes to encrypt now (the ones
    /// flushed during it), if any.
    mutating func readEnded(nested: Bool) -> Int? {
        guard !nested, let flushed = flushedDuringRead else { return nil }
        flushedDuringRead = nil
        return isActive && flushed > 0 ? flushed : nil
    }

    /// A flush from above with `pending` writes waiting: how many to encrypt now, if any.
    mutating func flushed(pending: Int) -> Int? {
        switch phase {
        case .handshaking:
            phase = .handshaking(flushed: pending)
            return nil
        case .active where flushedDuringRead != nil:
            flushedDuringRead = pending
            return nil
        case .active:
            return pending
        case .closing, .closingSocket, .closed:
            return nil
        }
    }

    /// `count` pending writes were encrypted: a flush counted during a read covered the writes
    /// that were first then, and these were.
    mutating func encrypted(_ count: Int) {
        if let flushed = flushedDuringRead { flushedDuringRead = max(0, flushed - count) }
    }

    /// Writes flushed during this read and not encrypted yet (a close comes before the read ends).
    var flushedDuringThisRead: Int { flushedDuringRead ?? 0 }

    /// The handshake completed: data flows, and the writes flushed meanwhile go now.
    mutating func handshakeCompleted() -> Int {
        guard case .handshaking(let flushed) = phase else { return 0 }
        phase = .active
        return flushed
    }

    // MARK: Closing

    /// What a close from above (`close(mode:promise:)`) asks the handler to do.
    enum CloseAction {
        /// Pass the close down as it is (the input, or TLS not up or over); fail held writes
        /// first when `failWrites`.
        case passDown(failWrites: Bool)
        /// A close is under way already: complete this one's promise with it.
        case cascade(from: EventLoopPromise<Void>)
        /// Nothing is left to wait for but a peer that need not answer (after a half-close):
        /// close the socket now.
        case closeSocketNow
        /// The output is already shut: succeed the promise.
        case succeed
        /// The close under way will complete this promise (kept in the state).
        case wait
        /// Encrypt what is pending, send close_notify, then shut the socket's output.
        case halfClose
        /// Encrypt what is pending, send close_notify, and wait for the peer's (or the timer).
        case fullClose
    }

    mutating func close(mode: CloseMode, promise: EventLoopPromise<Void>?) -> CloseAction {
        switch (phase, mode) {
        case (_, .input):
            return .passDown(failWrites: false)
        case (.handshaking, _), (.closed, _):
            phase = .closed
            return .passDown(failWrites: true)
        case (.closingSocket, _):
            // Its promise completes when the socket closes (channelInactive).
            return .passDown(failWrites: true)
        case (.closing(let started?, _), .all):
            return promise == nil ? .wait : .cascade(from: started)
        case (.closing(nil, nil), .all):
            phase = .closed
            return .closeSocketNow
        case (.closing(nil, let timer?), .all):
            phase = .closing(promise: promise, timer: timer)
            return .wait
        case (.closing, .output):
            return .succeed
        case (.active, .output):
            return .halfClose
        case (.active, .all):
            return .fullClose
        }
    }

    /// close_notify is being sent for a close from above (`promise`) or a half-close (nil);
    /// `timer`, when given, bounds the wait for the peer's.
    mutating func closeNotifySent(promise: EventLoopPromise<Void>?, timer: Scheduled<Void>?) {
        phase = .closing(promise: promise, timer: timer)
    }

    /// The wait for the peer is over (its close_notify came, or the timer fired): the socket is
    /// to close, with the promise returned, once the last ciphertext is out. Nil when not closing.
    mutating func closingFinished(
        socketTimer: Scheduled<Void>?
    ) -> (promise: EventLoopPromise<Void>?, timer: Scheduled<Void>?)? {
        guard case .closing(let promise, let timer) = phase else { return nil }
        phase = .closingSocket(promise: promise, timer: socketTimer)
        return (promise, timer)
    }

    /// The socket's close is to be asked for now (our last ciphertext is out, or its timer
    /// fired): the promise to close it with, and the timer to cancel. Nil when already asked.
    mutating func socketCloseDue() -> (promise: EventLoopPromise<Void>?, timer: Scheduled<Void>?)? {
        guard case .closingSocket(let promise, let timer) = phase else { return nil }
        phase = .closed
        return (promise, timer)
    }

    /// The channel went away, or a protocol error closes it: closed, and the phase it was in is
    /// returned, so what it held is failed, succeeded or cancelled. Nil when already closed.
    mutating func closedNow() -> Phase? {
        if case .closed = phase { return nil }
        let previous = phase
        phase = .closed
        return previous
    }

    /// Whether a protocol error still has a connection to fail (TLS is not over yet).
    var mayFail: Bool {
        switch phase {
        case .handshaking, .active, .closing: return true
        case .closingSocket, .closed: return false
        }
    }
}
