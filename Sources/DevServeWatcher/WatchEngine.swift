import DevServeSystem
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Everything the watcher thread knows, used from that thread only: the folders it tracks (by
/// inotify watch or by polling), the coalescer and the content digests.
///
/// Why it tracks the names in each folder: inotify says IN_MOVED_TO both for a new file moved in
/// and for an editor's save by rename over an existing file; only knowing what was there tells
/// `created` from `modified`. The same listing is what a polled folder is compared against.
final class WatchEngine {
    /// What the engine is made from; crosses from the caller's thread to the watcher thread.
    struct Configuration: Sendable {
        var roots: [String]
        var ignore: IgnoreRules
        var options: Watcher.Options
        var logger: Logger
        var onBatch: @Sendable (ChangeBatch) -> Void
        var served: ServedFiles
    }

    struct Folder {
        /// Index into `roots`.
        var root: Int
        /// The inotify watch, or nil when the folder is polled.
        var watch: Int32?
        /// Name to is-a-folder, for names not ignored.
        var entries: [String: Bool] = [:]
        /// Polled folders only: each entry's lstat at the last scan.
        var stamps: [String: FileSystem.Stamp] = [:]
    }

    typealias Instant = ContinuousClock.Instant

    let configuration: Configuration
    var roots: [String] { configuration.roots }
    var logger: Logger { configuration.logger }
    let clock = ContinuousClock()

    var inotify: Inotify?
    var folders: [String: Folder] = [:]
    var folderByWatch: [Int32: String] = [:]
    var polledFolders: Set<String> = []
    /// Roots deleted or moved away, checked every poll interval: a build that runs `rm -rf dist`
    /// and makes it again gets its watches back (and one reload for everything).
    var lostRoots: Set<String> = []
    var nextPoll: Instant?
    /// Files created and still open for writing: reported when closed (IN_CLOSE_WRITE), so a page
    /// does not reload onto a half-written file and then again; one never closed after writing (a
    /// symbolic or hard link) is reported `Options.openCreateGrace` after it appeared.
    var openCreates: [String: Instant] = [:]
    var coalescer: Coalescer<Instant>
    var hashes = ContentHashes()
    /// Folders forgotten since the last batch, whose files' digests go with the batch.
    var forgottenFolders: Set<String> = []
    var needsResync = false
    var watchCount = 0
    var warnedOutOfWatches = false

    init(_ configuration: Configuration) {
        self.configuration = configuration
        let options = configuration.options
        self.coalescer = Coalescer(
            quiet: options.quiet, maximumDelay: options.maximumDelay, burstLimit: options.burstLimit,
            burstQuiet: options.burstQuiet)
    }

    // MARK: Setting up

    /// Opens inotify (unless polling is forced) and tracks every root. Events that happen
    /// meanwhile wait in the kernel's queue.
    func setUp() {
        let started = clock.now
        if !configuration.options.forcePolling {
            switch Inotify.open() {
            case .success(let inotify):
                self.inotify = inotify
            case .failure(let failure):
                let interval = configuration.options.pollInterval
                logger.warning("\(WatcherNotice.cannotStartInotify(failure, pollInterval: interval))")
            }
        }
        for (index, root) in roots.enumerated() {
            addTree(root, root: index, report: false)
        }
        schedulePolling(after: clock.now)
        logger.debug(
            "Watching folders for live reload",
            metadata: [
                "watcher.folders": "\(folders.count)",
                "watcher.polled": "\(polledFolders.count)",
                "watcher.setup_ms": "\(Self.milliseconds(clock.now - started))",
            ])
        configuration.options.onReadyForTesting?()
    }

    /// Closes inotify; the engine is not used after this.
    func tearDown() {
        inotify?.close()
        inotify = nil
    }

    /// Tracks `path` and every folder below it that is not ignored: watches each folder first,
    /// then lists it, so a file created meanwhile is seen by the listing or by its event (both is
    /// fine: the coalescer merges them). With `report`, everything found is `created`, as of when
    /// the listing found it: it joins the open batch like any event, and listing a big folder
    /// does not make the batch look quiet for as long as the listing took.
    func addTree(_ path: String, root: Int, report: Bool) {
        var stack = [path]
        while let folder = stack.popLast() {
            guard folders[folder] == nil else { continue }
            var record = Folder(root: root)
            var polled = false
            if inotify != nil {
                switch watch(folder) {
                case .success(let watch):
                    if let other = folderByWatch[watch], other != folder {
                        // The kernel answers with the watch the folder already has. Still there
                        // under the other name (a bind mount): tracked there already. Gone from
                        // there: it was moved here without a watched parent to say so.
                        if FileSystem.isFolder(other) { continue }
                        forget(other, unwatch: false)
                    }
                    record.watch = watch
                    folderByWatch[watch] = folder
                case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
                    continue
                case .failure(let error) where error.code == ENOSPC:
                    warnOutOfWatches(folder)
                    polled = true
                case .failure(let error):
                    logger.warning("\(WatcherNotice.cannotWatch(folder: folder, errno: error.code))")
                    polled = true
                }
            } else {
                polled = true
            }
            if report, let delay = configuration.options.listingDelayForTesting {
                Self.pause(delay)
            }
            switch FileSystem.entries(of: folder) {
            case .success(let entries):
                let found = clock.now
                for entry in entries {
                    let child = Paths.join(folder, entry.name)
                    guard !isIgnored(child, root: root) else { continue }
                    record.entries[entry.name] = entry.isFolder
                    if polled, let stamp = FileSystem.stamp(child) { record.stamps[entry.name] = stamp }
                    if report { coalescer.record(.created, child, at: found) }
                    if entry.isFolder { stack.append(child) }
                }
            case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
                if let watch = record.watch {
                    folderByWatch[watch] = nil
                    inotify?.unwatch(watch)
                }
                continue
            case .failure(let error):
                logger.warning("\(WatcherNotice.cannotList(folder: folder, errno: error.code))")
            }
            folders[folder] = record
            if polled { polledFolders.insert(folder) }
        }
        if nextPoll == nil && !polledFolders.isEmpty { schedulePolling(after: clock.now) }
    }

    private func watch(_ folder: String) -> Result<Int32, Errno> {
        guard let inotify else { return .failure(Errno(ENOSYS)) }
        if let limit = configuration.options.watchLimitForTesting, watchCount >= limit {
            return .failure(Errno(ENOSPC))
        }
        let result = inotify.watch(folder: folder)
        if case .success = result { watchCount += 1 }
        return result
    }

    private func warnOutOfWatches(_ folder: String) {
        guard !warnedOutOfWatches else { return }
        warnedOutOfWatches = true
        let notice = WatcherNotice.outOfWatches(
            limit: inotify?.maximumUserWatches(), pollInterval: configuration.options.pollInterval)
        logger.warning("\(notice)", metadata: ["watcher.folder": "\(folder)"])
    }

    /// Stops tracking `path` and the folders below it. `unwatch` removes live inotify watches (a
    /// folder moved away); watches the kernel already dropped (a deleted folder) are just
    /// forgotten.
    func forget(_ path: String, unwatch: Bool) {
        guard let record = folders.removeValue(forKey: path) else { return }
        polledFolders.remove(path)
        let below = path + "/"
        for pending in openCreates.keys where pending.hasPrefix(below) { openCreates[pending] = nil }
        forgottenFolders.insert(path)
        if let watch = record.watch {
            folderByWatch[watch] = nil
            if unwatch { inotify?.unwatch(watch) }
        }
        for (name, isFolder) in record.entries where isFolder {
            forget(Paths.join(path, name), unwatch: unwatch)
        }
    }

    func isRoot(_ path: String) -> Bool {
        roots.contains(path)
    }

    func isIgnored(_ path: String, root: Int) -> Bool {
        let base = roots[root]
        let relative = base == "/" ? path.dropFirst() : path.dropFirst(base.count + 1)
        return configuration.ignore.isIgnored(String(relative))
    }

    // MARK: Publishing

    /// Publishes the open batch if it is due: the coalescer's net changes, less the saves whose
    /// content did not change. Nothing is published when nothing is left.
    func publishIfDue(at now: Instant) {
        guard let batch = coalescer.takeIfDue(at: now) else { return }
        // A file served before a save is known before the save is judged.
        learnServedFiles()
        hashes.forget(folders: forgottenFolders)
        forgottenFolders.removeAll()
        let filtered = hashes.filter(batch)
        guard filtered.full || !filtered.changes.isEmpty else { return }
        configuration.onBatch(filtered)
    }

    /// When the thread must wake next: the batch's deadline, the next poll, or the first open
    /// creation's grace running out.
    var nextDeadline: Instant? {
        let graceEnd = openCreates.values.min().map { $0.advanced(by: configuration.options.openCreateGrace) }
        return [coalescer.deadline, nextPoll, graceEnd].compactMap { $0 }.min()
    }

    /// Reports the creations whose grace ran out without a close after writing.
    func reportOpenCreates(at now: Instant) {
        for (path, created) in openCreates where created.advanced(by: configuration.options.openCreateGrace) <= now {
            openCreates[path] = nil
            coalescer.record(.created, path, at: now)
        }
    }

    func schedulePolling(after now: Instant) {
        let idle = polledFolders.isEmpty && lostRoots.isEmpty
        nextPoll = idle ? nil : now.advanced(by: configuration.options.pollInterval)
    }

    /// A root that went away: reported as deleted, forgotten, and looked for again at each poll.
    func lose(root folder: String, moved: Bool, at now: Instant) {
        logger.warning("\(WatcherNotice.rootGone(folder: folder, moved: moved))")
        coalescer.record(.deleted, folder, at: now)
        forget(folder, unwatch: moved)
        lostRoots.insert(folder)
        if nextPoll == nil { schedulePolling(after: now) }
    }

    /// Watches the lost roots that are folders again, and asks every page to reload: what they
    /// hold now is unknown.
    func findLostRoots(at now: Instant) {
        for folder in lostRoots.sorted() where FileSystem.isFolder(folder) {
            guard let index = roots.firstIndex(of: folder) else { continue }
            lostRoots.remove(folder)
            addTree(folder, root: index, report: false)
            coalescer.recordOverflow(at: now)
            logger.info("\(WatcherNotice.rootBack(folder: folder))")
        }
    }

    // MARK: Helpers

    /// Sleeps the watcher thread (tests only).
    static func pause(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Used on the watcher thread only.
@available(*, unavailable)
extension WatchEngine: Sendable {}
