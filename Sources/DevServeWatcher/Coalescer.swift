/// Gathers changes into batches: a batch is due `quiet` after its last change, but no later than
/// `maximumDelay` after its first, so a file written without pause still gets through.
///
/// A burst (a `git checkout`, a build) is one batch even where writing it takes longer than
/// `maximumDelay` (creating 500 files takes ~250 ms on a slow disk): while a batch keeps gaining
/// new paths (`burstPaths` or more since its deadline was last set), the deadline moves on by
/// `maximumDelay`, up to `burstLimit` after the first event. A writer that keeps saving the same
/// few files (a log) gains no new paths and is published every `maximumDelay`. A batch holding
/// `burstPaths` paths or more settles for `burstQuiet` rather than `quiet`: a build or a checkout
/// on a busy machine stalls for more than 20 ms now and then (its writer is not scheduled, a disk
/// flushes), and that must not cut it in two; a save of a few files still settles in `quiet`.
///
/// A value type that is told the time, so tests drive it with any instants they like. Per path it
/// keeps the net effect of what happened within the batch:
///
/// | before \ then | created  | modified | deleted  |
/// |---------------|----------|----------|----------|
/// | (nothing)     | created  | modified | deleted  |
/// | created       | created  | created  | (none)   |
/// | modified      | modified | modified | deleted  |
/// | deleted       | modified | modified | deleted  |
struct Coalescer<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// New paths within one `maximumDelay` that make a batch a burst.
    static var burstPaths: Int { 8 }

    var quiet: Duration
    var maximumDelay: Duration
    var burstLimit: Duration
    var burstQuiet: Duration

    /// Paths in the order they first changed; a path whose changes cancelled out keeps its slot
    /// with no kind.
    private var order: [String] = []
    private var kinds: [String: Slot] = [:]
    private var full = false
    private var first: Instant?
    private var last: Instant?
    /// `maximumDelay` after the first event, moved on while the batch is a burst.
    private var latest: Instant?
    private var pathsWhenLatestWasSet = 0

    init(quiet: Duration, maximumDelay: Duration, burstLimit: Duration? = nil, burstQuiet: Duration? = nil) {
        self.quiet = quiet
        self.maximumDelay = maximumDelay
        self.burstLimit = max(burstLimit ?? maximumDelay, maximumDelay)
        self.burstQuiet = min(max(burstQuiet ?? quiet, quiet), maximumDelay)
    }

    /// True while no batch is open.
    var isIdle: Bool { first == nil }

    /// When the open batch is due; nil while none is open.
    var deadline: Instant? {
        guard let last, let latest else { return nil }
        return min(last.advanced(by: settling), latest)
    }

    /// How long the open batch waits for quiet: longer once it is a burst.
    private var settling: Duration { order.count >= Self.burstPaths ? burstQuiet : quiet }

    mutating func record(_ kind: FileChange.Kind, _ path: String, at now: Instant) {
        touch(now)
        guard let slot = kinds[path] else {
            kinds[path] = Slot(kind: kind)
            order.append(path)
            return
        }
        guard let before = slot.kind else {
            kinds[path] = Slot(kind: kind)
            return
        }
        switch (before, kind) {
        case (.created, .deleted):
            kinds[path] = Slot(kind: nil)
        case (.created, _):
            break
        case (.modified, .deleted):
            kinds[path] = Slot(kind: .deleted)
        case (.modified, _):
            break
        case (.deleted, .deleted):
            break
        case (.deleted, _):
            kinds[path] = Slot(kind: .modified)
        }
    }

    /// The kernel dropped events: the batch says so and the pages reload.
    mutating func recordOverflow(at now: Instant) {
        touch(now)
        full = true
    }

    /// The open batch if it is due at `now`, and a fresh start; nil if none is due. A batch whose
    /// changes all cancelled out (created then deleted) comes back empty: callers publish nothing.
    mutating func takeIfDue(at now: Instant) -> ChangeBatch? {
        guard let deadline, now >= deadline else { return nil }
        if let first, let last, let latest, now < last.advanced(by: settling),
            order.count - pathsWhenLatestWasSet >= Self.burstPaths,
            latest.advanced(by: maximumDelay) <= first.advanced(by: burstLimit)
        {
            self.latest = latest.advanced(by: maximumDelay)
            pathsWhenLatestWasSet = order.count
            return nil
        }
        return takeNow()
    }

    /// The open batch whether or not it is due (for stopping); nil when none is open.
    mutating func takeNow() -> ChangeBatch? {
        guard first != nil else { return nil }
        var changes: [FileChange] = []
        changes.reserveCapacity(kinds.count)
        for path in order {
            if let kind = kinds[path]?.kind { changes.append(FileChange(path: path, kind: kind)) }
        }
        let batch = ChangeBatch(changes: changes, full: full)
        order.removeAll(keepingCapacity: order.count <= 1024)
        kinds.removeAll(keepingCapacity: kinds.count <= 1024)
        full = false
        first = nil
        last = nil
        latest = nil
        pathsWhenLatestWasSet = 0
        return batch
    }

    private struct Slot: Sendable {
        var kind: FileChange.Kind?
    }

    private mutating func touch(_ now: Instant) {
        if first == nil {
            first = now
            latest = now.advanced(by: maximumDelay)
        }
        last = now
    }
}
