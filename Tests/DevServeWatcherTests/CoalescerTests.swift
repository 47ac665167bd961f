import Testing

@testable import DevServeWatcher

/// A clock the test moves by hand.
struct TestInstant: InstantProtocol {
    var offset: Duration

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

struct TestClock {
    var now = TestInstant(offset: .zero)
    mutating func advance(_ duration: Duration) { now = now.advanced(by: duration) }
}

struct CoalescerTests {
    private func makeCoalescer() -> Coalescer<TestInstant> {
        Coalescer(quiet: .milliseconds(20), maximumDelay: .milliseconds(200))
    }

    @Test func aBatchIsDueAfterTheQuietWindow() {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        #expect(coalescer.isIdle && coalescer.deadline == nil)
        coalescer.record(.modified, "/site/a.css", at: clock.now)
        #expect(coalescer.deadline == clock.now.advanced(by: .milliseconds(20)))
        clock.advance(.milliseconds(19))
        #expect(coalescer.takeIfDue(at: clock.now) == nil)
        clock.advance(.milliseconds(1))
        #expect(
            coalescer.takeIfDue(at: clock.now)
                == ChangeBatch(changes: [FileChange(path: "/site/a.css", kind: .modified)], full: false))
        #expect(coalescer.isIdle)
    }

    @Test func eachEventRestartsTheQuietWindow() {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        for index in 0..<5 {
            coalescer.record(.created, "/site/\(index).html", at: clock.now)
            clock.advance(.milliseconds(15))
            #expect(coalescer.takeIfDue(at: clock.now) == nil)
        }
        clock.advance(.milliseconds(5))
        #expect(coalescer.takeIfDue(at: clock.now)?.changes.count == 5)
    }

    @Test func aBatchIsDueAtMostTheMaximumDelayAfterItsFirstEvent() {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        let start = clock.now
        var published: [ChangeBatch] = []
        // An event every 10 ms for 500 ms: never 20 ms of quiet.
        for index in 0..<50 {
            coalescer.record(.modified, "/site/log-\(index % 3).txt", at: clock.now)
            clock.advance(.milliseconds(10))
            if let batch = coalescer.takeIfDue(at: clock.now) { published.append(batch) }
        }
        // Due at 200 ms and 400 ms, each 200 ms after its first event.
        #expect(published.count == 2)
        #expect(published.allSatisfy { $0.changes.count == 3 })
        // The third batch began at 400 ms; its last event was at 490 ms.
        #expect(coalescer.deadline == start.advanced(by: .milliseconds(510)))
    }

    @Test func aBurstOfNewPathsIsOneBatchEvenPastTheMaximumDelay() {
        var clock = TestClock()
        var coalescer = Coalescer<TestInstant>(
            quiet: .milliseconds(20), maximumDelay: .milliseconds(200), burstLimit: .seconds(5))
        var published: [ChangeBatch] = []
        // 500 new files, one every 0.5 ms: 250 ms of writing, as on a slow disk.
        for index in 0..<500 {
            coalescer.record(.created, "/site/file-\(index).html", at: clock.now)
            clock.advance(.microseconds(500))
            if let batch = coalescer.takeIfDue(at: clock.now) { published.append(batch) }
        }
        #expect(published.isEmpty)
        clock.advance(.milliseconds(20))
        if let batch = coalescer.takeIfDue(at: clock.now) { published.append(batch) }
        #expect(published.map(\.changes.count) == [500])
    }

    /// A build writing 500 files on a busy machine: its writer is not scheduled for 60 ms twice.
    /// Past `burstPaths` paths the batch waits `burstQuiet` for quiet, so the stalls do not cut it;
    /// a save of a few files still settles in `quiet`.
    @Test func aBurstThatStallsForAMomentIsStillOneBatch() {
        var clock = TestClock()
        var coalescer = Coalescer<TestInstant>(
            quiet: .milliseconds(20), maximumDelay: .milliseconds(200), burstLimit: .seconds(5),
            burstQuiet: .milliseconds(100))
        var published: [ChangeBatch] = []
        for index in 0..<500 {
            coalescer.record(.created, "/dist/file-\(index).html", at: clock.now)
            clock.advance(index == 150 || index == 300 ? .milliseconds(60) : .microseconds(200))
            if let batch = coalescer.takeIfDue(at: clock.now) { published.append(batch) }
        }
        #expect(published.isEmpty)
        let last = clock.now
        while coalescer.takeIfDue(at: clock.now).map({ published.append($0) }) == nil {
            clock.advance(.milliseconds(1))
        }
        #expect(published.map(\.changes.count) == [500])
        #expect(clock.now == last.advanced(by: .milliseconds(100)))

        coalescer.record(.modified, "/dist/file-1.html", at: clock.now)
        #expect(coalescer.deadline == clock.now.advanced(by: .milliseconds(20)))
    }

    @Test func aBurstThatNeverEndsIsCutAtTheBurstLimit() {
        var clock = TestClock()
        var coalescer = Coalescer<TestInstant>(
            quiet: .milliseconds(20), maximumDelay: .milliseconds(200), burstLimit: .seconds(1))
        var published: [(at: Duration, count: Int)] = []
        for index in 0..<600 {
            coalescer.record(.created, "/build/chunk-\(index).js", at: clock.now)
            clock.advance(.milliseconds(5))
            if let batch = coalescer.takeIfDue(at: clock.now) {
                published.append((clock.now.offset, batch.changes.count))
            }
        }
        #expect(published.map(\.at) == [.seconds(1), .seconds(2), .seconds(3)])
        #expect(published.map(\.count) == [200, 200, 200])
    }

    @Test(arguments: [
        ([FileChange.Kind.created, .modified], FileChange.Kind?.some(.created)),
        ([.created, .modified, .modified], .created),
        ([.created, .deleted], nil),
        ([.created, .deleted, .created], .created),
        ([.modified, .modified], .modified),
        ([.modified, .deleted], .deleted),
        ([.deleted, .created], .modified),
        ([.deleted, .created, .modified], .modified),
        ([.deleted, .deleted], .deleted),
        ([.modified, .created], .modified),
    ])
    func theNetEffectPerPath(kinds: [FileChange.Kind], net: FileChange.Kind?) {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        for kind in kinds {
            coalescer.record(kind, "/site/x", at: clock.now)
            clock.advance(.milliseconds(1))
        }
        let batch = coalescer.takeNow()
        #expect(batch?.changes == net.map { [FileChange(path: "/site/x", kind: $0)] } ?? [])
    }

    @Test func pathsKeepTheOrderTheyFirstChangedIn() {
        let clock = TestClock()
        var coalescer = makeCoalescer()
        coalescer.record(.modified, "/b", at: clock.now)
        coalescer.record(.created, "/a", at: clock.now)
        coalescer.record(.deleted, "/a", at: clock.now)
        coalescer.record(.created, "/c", at: clock.now)
        coalescer.record(.modified, "/b", at: clock.now)
        coalescer.record(.created, "/a", at: clock.now)
        #expect(coalescer.takeNow()?.changes.map(\.path) == ["/b", "/a", "/c"])
    }

    @Test func anOverflowMakesTheBatchFull() {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        coalescer.record(.modified, "/a", at: clock.now)
        coalescer.recordOverflow(at: clock.now)
        coalescer.recordOverflow(at: clock.now)
        clock.advance(.milliseconds(20))
        #expect(
            coalescer.takeIfDue(at: clock.now)
                == ChangeBatch(changes: [FileChange(path: "/a", kind: .modified)], full: true))
        coalescer.record(.modified, "/a", at: clock.now)
        #expect(coalescer.takeNow()?.full == false)
    }

    @Test func changesThatCancelOutLeaveAnEmptyBatch() {
        var clock = TestClock()
        var coalescer = makeCoalescer()
        coalescer.record(.created, "/tmp-file", at: clock.now)
        coalescer.record(.deleted, "/tmp-file", at: clock.now)
        clock.advance(.milliseconds(20))
        #expect(coalescer.takeIfDue(at: clock.now) == ChangeBatch(changes: [], full: false))
    }
}
