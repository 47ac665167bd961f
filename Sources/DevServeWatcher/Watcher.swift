import DevServeSystem
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Watches folders recursively and hands over batches of finished changes.
///
/// One dedicated thread makes every libinotifytools call (the library keeps global state and is
/// not thread-safe), so there is at most one watcher per process: making a second one while the
/// first has not stopped throws `WatcherError.anotherWatcherRunning`. `start()` returns at once;
/// the folders are watched from the watcher thread, so serving never waits for a big tree.
/// `onBatch` is called on the watcher thread, one batch at a time: hand the batch on rather than
/// do slow work there.
public final class Watcher: Sendable {
    public struct Options: Sendable {
        /// A batch is published after this long without events...
        public var quiet: Duration = .milliseconds(20)
        /// ...but at most this long after its first event...
        public var maximumDelay: Duration = .milliseconds(200)
        /// ...unless it is a burst still gaining new paths (a checkout, a build, on a disk too slow
        /// to write it within `maximumDelay`): then at most this long after its first event.
        public var burstLimit: Duration = .seconds(5)
        /// A batch of 8 paths or more (a build, a checkout) is published after this long without
        /// events instead of `quiet`, so a writer that stalls for a moment on a busy machine is
        /// still one notice.
        public var burstQuiet: Duration = .milliseconds(100)
        /// Poll every folder instead of using inotify (network mounts, WSL's /mnt drives).
        public var forcePolling = false
        /// How often polled folders are scanned.
        public var pollInterval: Duration = .milliseconds(500)
        /// A new file counts when it is closed after writing; one never closed that way (a link)
        /// counts this long after it appeared.
        public var openCreateGrace: Duration = .seconds(1)
        /// Tests: the kernel pretends to run out of watches (ENOSPC) after this many.
        var watchLimitForTesting: Int?
        /// Tests: each listing of a folder that has just appeared takes this much longer (a slow
        /// disk, a busy machine).
        var listingDelayForTesting: Duration?
        /// Tests: called on the watcher thread with how many served files it has just looked at.
        var onServedFilesForTesting: (@Sendable (Int) -> Void)?
        /// Tests: called on the watcher thread once every root is watched or polled.
        var onReadyForTesting: (@Sendable () -> Void)?

        public init() {}
    }

    /// The folders watched: absolute, without trailing slash, folders inside another one left
    /// out. Changes are reported under these spellings.
    public let roots: [String]

    private enum State {
        case ready
        case running(WatcherThread, StopSignal)
        case stopped
    }

    private enum StopAction {
        case release
        case join(WatcherThread, StopSignal)
        case nothing
    }

    /// Whether this process has a watcher that has not finished stopping.
    private static let claimed = Mutex(false)

    private let configuration: WatchEngine.Configuration
    private let state = Mutex(State.ready)
    private let served = ServedFiles()

    public init(
        roots: [String], ignore: IgnoreRules, options: Options = .init(), logger: Logger,
        onBatch: @escaping @Sendable (ChangeBatch) -> Void
    ) throws(WatcherError) {
        guard !roots.isEmpty else { throw .noFolders }
        var folders: [String] = []
        for root in roots {
            let path = Paths.normalized(Paths.absolute(root, cwd: Paths.currentDirectory()))
            var info = stat()
            guard stat(path, &info) == 0 else { throw .folderMissing(path) }
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .notAFolder(path) }
            folders.append(path)
        }
        let distinct = folders.enumerated().filter { index, path in
            !folders.enumerated().contains { other, outer in
                (outer == path && other < index) || (outer != path && Paths.contains(outer, path))
            }
        }.map(\.element)
        let claimedNow = Self.claimed.withLock { claimed in
            guard !claimed else { return false }
            claimed = true
            return true
        }
        guard claimedNow else { throw .anotherWatcherRunning }
        self.roots = distinct
        self.configuration = WatchEngine.Configuration(
            roots: distinct, ignore: ignore, options: options, logger: logger, onBatch: onBatch, served: served)
    }

    /// Tells the watcher a browser was given this version of a file, so a save that leaves it as
    /// it was is dropped from the first one on. Cheap and safe from any thread (the server's event
    /// loops): the digest is taken on the watcher thread, at most once per version, from the
    /// bytes when given, else by reading the file if it is still the version served. Files larger
    /// than 32 MiB are not digested (their saves are always reported).
    public func noteServed(_ file: ServedFile) {
        guard file.identity.size <= ContentHashes.maximumFileSize else { return }
        served.add(file)
    }

    deinit {
        stop()
    }

    /// Starts the watcher thread and returns at once. Calling it again, or after `stop()`, does
    /// nothing.
    public func start() {
        state.withLock { state in
            guard case .ready = state else { return }
            let logger = configuration.logger
            let signal: StopSignal
            switch StopSignal.make() {
            case .success(let made):
                signal = made
            case .failure(let error):
                logger.error("\(WatcherNotice.cannotStart(errno: error.code))")
                state = .stopped
                Self.release()
                return
            }
            let configuration = self.configuration
            switch WatcherThread.start({
                WatchEngine(configuration).run(until: signal)
                Watcher.release()
            }) {
            case .success(let thread):
                state = .running(thread, signal)
                served.attach(signal)
            case .failure(let error):
                logger.error("\(WatcherNotice.cannotStartThread(errno: error.code))")
                state = .stopped
                Self.release()
            }
        }
    }

    /// Stops watching and waits for the watcher thread to end; a batch not yet published is
    /// dropped. Idempotent. Called from `onBatch` (on the watcher thread) it does not wait: the
    /// thread ends once the callback returns.
    public func stop() {
        let action = state.withLock { state -> StopAction in
            switch state {
            case .ready:
                state = .stopped
                return .release
            case .running(let thread, let signal):
                state = .stopped
                served.attach(nil)
                return .join(thread, signal)
            case .stopped:
                return .nothing
            }
        }
        switch action {
        case .release:
            Self.release()
        case .join(let thread, let signal):
            signal.request()
            if thread.isCurrent {
                thread.detach()
            } else {
                thread.join()
            }
        case .nothing:
            break
        }
    }

    private static func release() {
        claimed.withLock { $0 = false }
    }

}
