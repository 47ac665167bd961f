import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#endif

enum ResourceLimits {
    /// Lifts the soft open-file limit to the hard one, so thousands of connections fit.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// Runs a handler on SIGINT / SIGTERM instead of dying mid-write.
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// Opens URLs in the desktop's browser. Spawns the opener with posix_spawn rather than
/// Foundation's Process: Foundation alone would add several megabytes to every run's memory.
enum BrowserOpener {
    /// Opens `url` with the desktop's opener found on PATH (xdg-open, else sensible-browser);
    /// a warning where there is none.
    static func open(_ url: String, logger: Logger) {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init)
        let opener = ["xdg-open", "sensible-browser"].lazy.flatMap { name in folders.map { $0 + "/" + name } }
            .first { access($0, X_OK) == 0 }
        guard let opener else {
            logger.warning("--open: no xdg-open on this machine; open \(url) in your browser.")
            return
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(opener), strdup(url)]
        defer { for argument in arguments { free(argument) } }
        var pid = pid_t()
        let argv = arguments + [nil]
        let status = posix_spawn(&pid, opener, &actions, nil, argv, environ)
        guard status == 0 else {
            let reason = String(cString: strerror(status))
            logger.warning("--open: could not start \(opener) (\(reason)); open \(url) in your browser.")
            return
        }
        // Reap it when it exits, so no zombie lingers while serving.
        let child = pid
        DispatchQueue.global().async { _ = waitpid(child, nil, 0) }
    }
}
