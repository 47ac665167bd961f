#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What the watcher logs when it cannot do its best, each as sentences that say what happens
/// instead and what to do. Kept together so they read alike.
enum WatcherNotice: CustomStringConvertible {
    case cannotStartInotify(Inotify.OpenFailure, pollInterval: Duration)
    case outOfWatches(limit: Int?, pollInterval: Duration)
    case cannotWatch(folder: String, errno: Int32)
    case cannotList(folder: String, errno: Int32)
    case rootGone(folder: String, moved: Bool)
    case rootBack(folder: String)
    case readFailed(errno: Int32, pollInterval: Duration)
    case cannotStart(errno: Int32)
    case cannotStartThread(errno: Int32)

    var description: String {
        switch self {
        case .cannotStartInotify(let failure, let interval):
            return Self.describe(failure) + " devserve polls the watched folders every \(Self.describe(interval)) "
                + "instead, so changes show up later."
        case .outOfWatches(let limit, let interval):
            let current = limit.map { " is \($0)" } ?? ""
            return "Out of inotify watches (fs.inotify.max_user_watches\(current)): devserve polls the folders it "
                + "cannot watch every \(Self.describe(interval)), so changes there show up later. Raise the limit "
                + "with 'sudo sysctl fs.inotify.max_user_watches=524288' (and the line "
                + "'fs.inotify.max_user_watches=524288' in /etc/sysctl.d/90-inotify.conf to keep it), then restart "
                + "devserve."
        case .cannotWatch(let folder, let error):
            return "Cannot watch the folder '\(folder)' (\(Self.describe(errno: error))): devserve polls it instead."
        case .cannotList(let folder, let error):
            return "Cannot list the folder '\(folder)' (\(Self.describe(errno: error))): changes in it will not "
                + "reload pages until its permissions allow reading it and devserve restarts."
        case .rootGone(let folder, let moved):
            return "The watched folder '\(folder)' was \(moved ? "moved" : "deleted"): changes there reload pages "
                + "again once a folder is back at that path."
        case .rootBack(let folder):
            return "The watched folder '\(folder)' is back: changes there reload pages again."
        case .readFailed(let error, let interval):
            return "Reading inotify events failed (\(Self.describe(errno: error))): devserve polls the watched "
                + "folders every \(Self.describe(interval)) instead."
        case .cannotStart(let error):
            return "Cannot start the file watcher (\(Self.describe(errno: error))): pages will not reload on saves."
        case .cannotStartThread(let error):
            return "Cannot start the file watcher's thread (\(Self.describe(errno: error))): pages will not reload "
                + "on saves."
        }
    }

    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let count = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return count % 1000 == 0 ? "\(count / 1000) s" : "\(count) ms"
    }

    static func describe(errno error: Int32) -> String {
        guard let text = strerror(error) else { return "error \(error)" }
        return String(cString: text)
    }

    static func describe(_ failure: Inotify.OpenFailure) -> String {
        switch failure {
        case .initialize(let error) where error == EMFILE:
            return "Cannot start inotify: this user has too many inotify instances (raise "
                + "fs.inotify.max_user_instances with 'sudo sysctl fs.inotify.max_user_instances=1024')."
        case .initialize(let error):
            return "Cannot start inotify (\(describe(errno: error)))."
        case .descriptorNotFound:
            return "Cannot find libinotifytools' descriptor in /proc/self/fd."
        case .descriptorTooHigh(let descriptor):
            return "libinotifytools got descriptor \(descriptor), too high for its select(2)."
        }
    }
}
