import NIOCore
import Synchronization

/// The versioned log of changes that live reload serves, and the long polls waiting on it.
///
/// Each published batch gets the next version. A poll that is behind gets every change since
/// its version at once; a poll that is current waits (a promise and one scheduled timeout on its
/// own event loop — no task or thread per waiter) until the next batch or its timeout. The log
/// keeps at most `capacity` changes; a poll from before the oldest kept version, or from before
/// a `full` batch (watcher overflow, SIGHUP), is told `full` so the page reloads.
public final class ChangeHub: Sendable {
    public struct Change: Sendable, Equatable {
        /// The URL path, `/css/site.css`.
        public var path: String
        /// `created`, `modified` or `deleted`.
        public var kind: String

        public init(path: String, kind: String) {
            self.path = path
            self.kind = kind
        }
    }

    /// What a poll is told.
    public enum Answer: Sendable, Equatable {
        /// Changes after the poll's version, up to `version`.
        case changes(version: Int, changes: [Change], full: Bool)
        /// Nothing happened before the timeout (or the hub closed).
        case nothingNew
    }

    /// This process's boot id: a poll from another boot was served by an earlier process.
    public let boot: String
    public let capacity: Int

    private struct Waiter {
        var since: Int
        var promise: EventLoopPromise<Answer>
        var timeout: Scheduled<Void>?
    }

    private struct State {
        var version = 0
        /// (version, change), oldest first.
        var log: [(version: Int, change: Change)] = []
        /// Versions up to this one are no longer (all) in the log.
        var forgottenThrough = 0
        /// The newest version published as `full`.
        var lastFull = 0
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        var closed = false

        func answer(since: Int) -> Answer {
            let changes = log.filter { $0.version > since }.map(\.change)
            return .changes(version: version, changes: changes, full: since < forgottenThrough || lastFull > since)
        }
    }

    private let state = Mutex(State())

    public init(boot: String = ChangeHub.makeBootID(), capacity: Int = 4096) {
        self.boot = boot
        self.capacity = capacity
    }

    public var version: Int { state.withLock { $0.version } }
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Publishes one batch; returns its version and how many waiting polls were told.
    @discardableResult
    public func publish(_ changes: [Change], full: Bool = false) -> (version: Int, told: Int) {
        let (version, toldWaiters) = state.withLock { state -> (Int, [(Waiter, Answer)]) in
            state.version += 1
            let version = state.version
            for change in changes { state.log.append((version, change)) }
            if state.log.count > capacity {
                let dropped = state.log.count - capacity
                state.forgottenThrough = max(state.forgottenThrough, state.log[dropped - 1].version)
                state.log.removeFirst(dropped)
            }
            if full { state.lastFull = version }
            let told = state.waiters.values.map { ($0, state.answer(since: $0.since)) }
            state.waiters.removeAll()
            return (version, told)
        }
        for (waiter, answer) in toldWaiters {
            waiter.timeout?.cancel()
            waiter.promise.succeed(answer)
        }
        return (version, toldWaiters.count)
    }

    /// The answer for a poll at `since` if there is one now (the hub moved on), else nil.
    public func answerNow(since: Int) -> Answer? {
        state.withLock { state in state.version > since ? state.answer(since: since) : nil }
    }

    /// Waits for the next batch after `since`, or `timeout`. Returns an id for `cancel` and the
    /// future answer, completed on `eventLoop`.
    public func wait(
        since: Int, on eventLoop: any EventLoop, timeout: TimeAmount
    ) -> (
        id: Int, answer: EventLoopFuture<Answer>
    ) {
        let promise = eventLoop.makePromise(of: Answer.self)
        let outcome = state.withLock { state -> (id: Int, immediate: Answer?) in
            if state.closed { return (-1, .nothingNew) }
            if state.version > since { return (-1, state.answer(since: since)) }
            let id = state.nextWaiter
            state.nextWaiter += 1
            state.waiters[id] = Waiter(since: since, promise: promise, timeout: nil)
            return (id, nil)
        }
        if let immediate = outcome.immediate {
            promise.succeed(immediate)
            return (outcome.id, promise.futureResult)
        }
        let id = outcome.id
        let timeout = eventLoop.scheduleTask(in: timeout) { [self] in
            if let waiter = remove(id) { waiter.promise.succeed(.nothingNew) }
        }
        let stillWaiting = state.withLock { state -> Bool in
            guard state.waiters[id] != nil else { return false }
            state.waiters[id]?.timeout = timeout
            return true
        }
        if !stillWaiting { timeout.cancel() }
        return (id, promise.futureResult)
    }

    /// Forgets a waiter whose client went away; its future fails.
    public func cancel(_ id: Int) {
        guard let waiter = remove(id) else { return }
        waiter.timeout?.cancel()
        waiter.promise.fail(ChannelError.ioOnClosedChannel)
    }

    /// Answers every waiting poll with `nothingNew` and refuses new waits (shutdown).
    public func close() {
        let waiters = state.withLock { state -> [Waiter] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            waiter.timeout?.cancel()
            waiter.promise.succeed(.nothingNew)
        }
    }

    private func remove(_ id: Int) -> Waiter? {
        state.withLock { $0.waiters.removeValue(forKey: id) }
    }

    /// A short random id, different for every process.
    public static func makeBootID() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36)
    }
}
