import NIOCore
import Testing

@testable import DevServeServer

/// The HTTP/1.1 connection's timeout rules as a table: the facts when its timer fires, and what
/// it must do. No channel, no clock.
@Suite struct HTTP1TimerTests {
    static let now = NIODeadline.uptimeNanoseconds(10_000_000_000)
    static let later = now + .seconds(5)
    static let earlier = now - .seconds(1)

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: HTTP1Timer.Facts
        var action: HTTP1Timer.Action
        var testDescription: String { name }
    }

    static func facts(
        _ phase: HTTP1Timer.Phase, deadline: NIODeadline = earlier, cutShort: Bool = false, waiting: Bool = false,
        poll: Bool = false, partial: Bool = false
    ) -> HTTP1Timer.Facts {
        .init(
            phase: phase, fileCutShort: cutShort, waitingOnClient: waiting, pollWaiting: poll, deadline: deadline,
            partialHead: partial, now: now)
    }

    static let rows: [Row] = [
        Row(name: "idle keep-alive past its deadline closes", facts: facts(.open), action: .close),
        Row(
            name: "a half-sent head past its deadline gets 408", facts: facts(.open, partial: true),
            action: .refuseRequestTimeout),
        Row(
            name: "before the deadline it waits", facts: facts(.open, deadline: later, partial: true),
            action: .wait(until: later)),
        Row(
            name: "a download is checked for progress, not timed out",
            facts: facts(.open, waiting: true, partial: true),
            action: .checkWriteProgress),
        Row(
            name: "complete heads held back by backpressure are no 408", facts: facts(.open, waiting: true),
            action: .checkWriteProgress),
        Row(name: "a waiting long poll is not idle", facts: facts(.open, poll: true), action: .extendIdle),
        Row(
            name: "a file cut short under a download closes", facts: facts(.open, deadline: later, cutShort: true),
            action: .close),
        Row(name: "closing waits on the client's reading", facts: facts(.closing), action: .checkWriteProgress),
        Row(
            name: "draining before the output is shut waits on the client too",
            facts: facts(.draining(outputShut: false)), action: .checkWriteProgress),
        Row(name: "draining ends at its deadline", facts: facts(.draining(outputShut: true)), action: .close),
        Row(
            name: "draining goes on until then", facts: facts(.draining(outputShut: true), deadline: later),
            action: .wait(until: later)),
        Row(name: "closed does nothing", facts: facts(.closed, partial: true), action: .none),
    ]

    @Test(arguments: rows)
    func theTimerDoesWhatTheStateSays(_ row: Row) {
        #expect(HTTP1Timer.fired(row.facts) == row.action)
    }
}
