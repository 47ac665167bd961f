import NIOCore

/// What the HTTP/1.1 connection's one timer does when it fires, decided from the connection's
/// state alone: every timeout rule in one place, as a value, tested without a channel
/// (`HTTP1TimerTests`). `HTTP1Connection` gathers the facts, asks, and carries out the action.
struct HTTP1Timer {
    /// Where the connection is.
    enum Phase: Equatable {
        /// Reading heads and answering them.
        case open
        /// Answered the last request; closing once the writes are out.
        case closing
        /// Reading and discarding what the client still sends, until the deadline, once the
        /// answer is out and the output shut (`outputShut`).
        case draining(outputShut: Bool)
        case closed
    }

    /// What the connection knows when the timer fires.
    struct Facts: Equatable {
        var phase: Phase
        /// A file being sent is now shorter than its response promised.
        var fileCutShort = false
        /// Bytes wait for the client: a file going out, or the channel over its high-water mark.
        var waitingOnClient = false
        /// A long poll waits for a change.
        var pollWaiting = false
        /// The head or idle deadline (or, draining, the end of the drain).
        var deadline: NIODeadline
        /// Part of a head has arrived and its end has not.
        var partialHead = false
        var now: NIODeadline
    }

    enum Action: Equatable {
        /// Nothing: the connection is closed.
        case none
        /// Close now.
        case close
        /// Bytes wait for the client: close if it took nothing for the stall limit.
        case checkWriteProgress
        /// Not yet due: fire again at the deadline.
        case wait(until: NIODeadline)
        /// A long poll is not idle: push the idle deadline on.
        case extendIdle
        /// A head started and did not end in time: 408, then close.
        case refuseRequestTimeout
    }

    static func fired(_ facts: Facts) -> Action {
        // The file shrank under a download: the promised length can never be sent.
        if facts.fileCutShort { return .close }
        switch facts.phase {
        case .closed:
            return .none
        case .closing, .draining(outputShut: false):
            // Closing waits for the last flush: the client must keep taking what waits for it.
            return .checkWriteProgress
        case .draining(outputShut: true):
            return facts.deadline > facts.now ? .wait(until: facts.deadline) : .close
        case .open:
            break
        }
        // Answers going out are not idle as long as they progress, and complete heads held back
        // meanwhile have not timed out.
        if facts.waitingOnClient { return .checkWriteProgress }
        if facts.pollWaiting { return .extendIdle }
        if facts.deadline > facts.now { return .wait(until: facts.deadline) }
        return facts.partialHead ? .refuseRequestTimeout : .close
    }
}
