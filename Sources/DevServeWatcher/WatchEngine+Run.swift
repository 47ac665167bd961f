#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The watcher thread's loop: wait in poll(2) for inotify, the stop signal or the next deadline
/// (a batch falling due, a polling round); read what came; publish what is due.
extension WatchEngine {
    func run(until stop: StopSignal) {
        setUp()
        while !stop.isRequested {
            wait(until: nextDeadline, stop: stop)
            if stop.isRequested { break }
            stop.drainWakeups()
            learnServedFiles()
            // Each step reads the clock afresh: one made long by a big listing must not make the
            // next think time stood still.
            drainEvents()
            reportOpenCreates(at: clock.now)
            if needsResync { resync(at: clock.now) }
            pollIfDue(at: clock.now)
            if let deadline = coalescer.deadline, clock.now >= deadline {
                // Events still queued happened before the deadline: they belong to this batch, so
                // a watcher that fell behind a burst does not cut it in two.
                drainEvents(limit: 16_384)
                if needsResync { resync(at: clock.now) }
                publishIfDue(at: clock.now)
            }
        }
        tearDown()
    }

    private func wait(until deadline: Instant?, stop: StopSignal) {
        var descriptors = [pollfd(fd: stop.readDescriptor, events: Int16(POLLIN), revents: 0)]
        if let inotify {
            descriptors.append(pollfd(fd: inotify.descriptor, events: Int16(POLLIN), revents: 0))
        }
        var timeout: Int32 = -1
        if let deadline {
            let remaining = clock.now.duration(to: deadline)
            timeout = remaining <= .zero ? 0 : Int32(clamping: Self.milliseconds(remaining + .microseconds(999)))
        }
        _ = poll(&descriptors, nfds_t(descriptors.count), timeout)
    }
}
