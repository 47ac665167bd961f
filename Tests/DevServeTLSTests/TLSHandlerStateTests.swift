import NIOCore
import NIOEmbedded
import Testing

@testable import DevServeTLS

/// The TLS handler's rules on their own: what each event returns and where the state goes, with
/// no channel and no OpenSSL.
@Suite struct TLSHandlerStateTests {
    let loop = EmbeddedEventLoop()

    @Test func writesFlushedDuringTheHandshakeGoWhenItCompletes() {
        var state = TLSHandlerState()
        #expect(state.acceptsWrites)
        #expect(state.flushed(pending: 2) == nil)
        #expect(state.flushed(pending: 3) == nil, "held: the handshake runs")
        #expect(state.handshakeCompleted() == 3, "the writes flushed last, not all pending ones")
        #expect(state.isActive)
        #expect(state.flushed(pending: 4) == 4, "active: a flush encrypts at once")
    }

    @Test func flushesDuringAReadLeaveWhenTheOutermostReadEnds() {
        var state = TLSHandlerState()
        _ = state.handshakeCompleted()
        let outer = state.readStarted()
        #expect(!outer)
        #expect(state.flushed(pending: 5) == nil)
        let inner = state.readStarted()
        #expect(inner, "a read inside a read")
        #expect(state.readEnded(nested: inner) == nil)
        state.encrypted(2)  // a close encrypted the first two meanwhile
        #expect(state.flushedDuringThisRead == 3)
        #expect(state.readEnded(nested: outer) == 3)
        #expect(state.flushed(pending: 1) == 1, "not reading any more")
    }

    @Test func aFullCloseWaitsForThePeerThenClosesTheSocketOnce() {
        var state = TLSHandlerState()
        _ = state.handshakeCompleted()
        let first = loop.makePromise(of: Void.self)
        guard case .fullClose = state.close(mode: .all, promise: first) else {
            Issue.record("an open connection's close sends close_notify")
            return
        }
        let wait = loop.scheduleTask(in: .seconds(3)) {}
        state.closeNotifySent(promise: first, timer: wait)
        #expect(!state.acceptsWrites)
        #expect(state.readsPlaintext, "the peer's close_notify is still read")
        let second = loop.makePromise(of: Void.self)
        guard case .cascade(let from) = state.close(mode: .all, promise: second) else {
            Issue.record("a second close joins the first")
            return
        }
        #expect(from.futureResult === first.futureResult)
        let socketTimer = loop.scheduleTask(in: .seconds(3)) {}
        let finished = state.closingFinished(socketTimer: socketTimer)
        #expect(finished?.promise?.futureResult === first.futureResult)
        #expect(!state.mayFail, "TLS is over: an error has nothing left to fail")
        let due = state.socketCloseDue()
        #expect(due?.promise?.futureResult === first.futureResult)
        #expect(state.socketCloseDue() == nil, "the socket's close is asked for once")
        #expect(state.isClosed)
        first.succeed(())
        second.succeed(())
    }

    @Test func aHalfCloseThenAFullCloseClosesTheSocketAtOnce() {
        var state = TLSHandlerState()
        _ = state.handshakeCompleted()
        guard case .halfClose = state.close(mode: .output, promise: nil) else {
            Issue.record("an open connection's output close sends close_notify")
            return
        }
        state.closeNotifySent(promise: nil, timer: nil)
        guard case .succeed = state.close(mode: .output, promise: nil) else {
            Issue.record("the output is already shut")
            return
        }
        guard case .closeSocketNow = state.close(mode: .all, promise: nil) else {
            Issue.record("nothing to wait for but a peer that need not answer")
            return
        }
        #expect(state.isClosed)
    }

    @Test func aCloseWithoutPromiseKeepsTheNextOnesForTheEnd() {
        var state = TLSHandlerState()
        _ = state.handshakeCompleted()
        let wait = loop.scheduleTask(in: .seconds(3)) {}
        state.closeNotifySent(promise: nil, timer: wait)
        let later = loop.makePromise(of: Void.self)
        guard case .wait = state.close(mode: .all, promise: later) else {
            Issue.record("the close under way completes this one")
            return
        }
        let finished = state.closingFinished(socketTimer: nil)
        #expect(finished?.promise?.futureResult === later.futureResult)
        later.succeed(())
    }

    @Test func closingBeforeTheHandshakeOrTwiceIsPassedDown() {
        var state = TLSHandlerState()
        guard case .passDown(failWrites: true) = state.close(mode: .all, promise: nil) else {
            Issue.record("before the handshake the close goes down, held writes failed")
            return
        }
        #expect(state.isClosed)
        #expect(state.closedNow() == nil, "closed already")
        guard case .passDown(failWrites: false) = state.close(mode: .input, promise: nil) else {
            Issue.record("an input close always goes down")
            return
        }
    }

    @Test func theChannelGoingAwayReturnsWhatWasHeld() {
        var state = TLSHandlerState()
        _ = state.handshakeCompleted()
        let promise = loop.makePromise(of: Void.self)
        state.closeNotifySent(promise: promise, timer: nil)
        guard case .closing(let held?, nil)? = state.closedNow() else {
            Issue.record("the closing phase and its promise")
            return
        }
        #expect(held.futureResult === promise.futureResult)
        #expect(!state.mayFail)
        promise.succeed(())
    }
}
