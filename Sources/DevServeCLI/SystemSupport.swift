import Dispatch
import Foundation
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

enum BrowserOpener {
    /// Opens `url` with the desktop's opener found on PATH (xdg-open, else sensible-browser);
    /// a warning where there is none.
    static func open(_ url: String, logger: Logger) {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init)
        let opener = ["xdg-open", "sensible-browser"].lazy.flatMap { name in folders.map { $0 + "/" + name } }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let opener else {
            logger.warning("--open: no xdg-open on this machine; open \(url) in your browser.")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: opener)
        process.arguments = [url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            logger.warning("--open: could not start \(opener) (\(error)); open \(url) in your browser.")
        }
    }
}
