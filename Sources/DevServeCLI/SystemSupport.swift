import DevServeSystem
import DevServeTLS
import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The process's environment variables, read with getenv(3) (no Foundation).
enum ProcessEnvironment {
    static func value(_ key: String) -> String? {
        getenv(key).map { String(cString: $0) }
    }

    /// Those of `keys` that are set.
    static func values(_ keys: [String]) -> [String: String] {
        var environment: [String: String] = [:]
        for key in keys {
            if let value = value(key) { environment[key] = value }
        }
        return environment
    }

    /// What the local CA's folder depends on (`CertificateAuthority.defaultFolder`).
    static let caKeys = ["XDG_DATA_HOME", "HOME"]

    /// Those variables for this process. Under sudo, HOME is the invoking user's: their browsers
    /// trust their CA, so `sudo devserve --tls --port 443` must sign with it, not with root's.
    /// `keys` are read as well (the trust stores' own variables).
    static func caEnvironment(invoker: SudoInvoker?, adding keys: [String] = []) -> [String: String] {
        var environment = values(caKeys + keys)
        if let invoker { environment["HOME"] = invoker.home }
        return environment
    }
}

/// The user behind `sudo devserve …`: sudo runs devserve as root with SUDO_UID, SUDO_GID and
/// SUDO_USER set, and HOME usually at root's home.
struct SudoInvoker: Sendable, Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var home: String

    /// nil unless this process is root acting for another user.
    static func current() -> SudoInvoker? {
        guard geteuid() == 0, let uidText = ProcessEnvironment.value("SUDO_UID"), let uid = uid_t(uidText), uid != 0,
            let entry = getpwuid(uid), let directory = entry.pointee.pw_dir
        else { return nil }
        let home = String(cString: directory)
        guard home.hasPrefix("/") else { return nil }
        let gid = ProcessEnvironment.value("SUDO_GID").flatMap { gid_t($0) } ?? entry.pointee.pw_gid
        let name = ProcessEnvironment.value("SUDO_USER") ?? String(cString: entry.pointee.pw_name)
        return SudoInvoker(name: name, uid: uid, gid: gid, home: home)
    }

    /// The local CA in `folder`, made when missing, except for a sudo invoker: made by root, its
    /// key would be a root-owned file in their home that their own devserve cannot read.
    static func localCA(in folder: String, invoker: SudoInvoker?) throws(TLSError) -> LocalCA {
        let certificatePath = Paths.join(folder, "ca.pem")
        if let invoker, access(certificatePath, F_OK) != 0 {
            throw .noLocalCAUnderSudo(user: invoker.name, path: certificatePath)
        }
        return try CertificateAuthority.ensureLocalCA(in: folder)
    }

    /// Root writes the leaf in the project's `certs/`: not through a symbolic link, which a cloned
    /// project could point anywhere (`certs -> /etc`).
    func checkLeafFolder(certificatePath: String) throws(TLSError) {
        let folder = certificatePath.lastIndex(of: "/").map { String(certificatePath[..<$0]) } ?? "."
        var info = stat()
        if lstat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            throw .leafFolderIsALinkUnderSudo(path: folder)
        }
    }

    /// Gives a leaf root just made or renewed (and its certs/ folder) to the invoker, so their own
    /// runs can read and renew it; links are not followed. Failures are left to the next run's
    /// clear error.
    func takeLeaf(_ status: LeafStatus, certificatePath: String, keyPath: String) {
        guard status != .current else { return }
        var paths = [certificatePath, keyPath]
        if let slash = certificatePath.lastIndex(of: "/") {
            let folder = String(certificatePath[..<slash])
            paths += [folder, folder + "/.gitignore"]
        }
        for path in paths { _ = lchown(path, uid, gid) }
    }
}

enum ResourceLimits {
    /// Lifts the soft open-file limit to the hard one, so thousands of connections fit.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// SIGINT, SIGTERM and SIGHUP as a stream, caught from the moment `install` returns.
///
/// The handler is a plain sigaction(2) handler that writes the signal's number into a pipe, the
/// one thing a handler may safely do; a dispatch source reads the pipe. Dispatch's own signal
/// sources are not enough: they need the signal ignored first and arm later, on dispatch's
/// thread, so a SIGTERM sent just after the start-up block was printed could be dropped and
/// leave the server running for good. A byte in a pipe waits until it is read.
///
/// The first SIGINT or SIGTERM asks for a clean stop; from then on both have their default
/// action again, so a second Ctrl-C ends a stop that hangs.
enum ProcessSignals {
    static let stopSignals: [Int32] = [SIGINT, SIGTERM]

    /// Installs the handlers, once per process.
    static func install() throws(CLIError) -> AsyncStream<Int32> {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .noSignalPipe(reason: String(cString: strerror(errno))) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let reader = DispatchSource.makeReadSource(fileDescriptor: ends[0], queue: .global())
        reader.setEventHandler {
            var bytes = [UInt8](repeating: 0, count: 64)
            let count = read(ends[0], &bytes, bytes.count)
            for byte in bytes.prefix(max(count, 0)) {
                let number = Int32(byte)
                if stopSignals.contains(number) {
                    for stop in stopSignals { signal(stop, SIG_DFL) }
                }
                continuation.yield(number)
            }
        }
        signalPipeReader = reader  // dispatch does not keep a resumed source alive
        reader.resume()
        signalPipeWriteEnd = ends[1]
        for number in stopSignals + [SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = writeSignalNumber
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        return stream
    }
}

/// The pipe's write end, set once before any handler is installed and only read after.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
/// The source reading the pipe, kept for the life of the process.
nonisolated(unsafe) private var signalPipeReader: (any DispatchSourceRead)?

/// The handler: async-signal-safe, it writes one byte and keeps errno as it was.
private func writeSignalNumber(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}

/// Opens URLs in the desktop's browser. Spawns the opener with posix_spawn rather than
/// Foundation's Process: Foundation alone would add several megabytes to every run's memory.
enum BrowserOpener {
    /// Opens `url` with the desktop's opener found on PATH (xdg-open, else sensible-browser);
    /// a warning where there is none.
    static func open(_ url: String, logger: Logger) {
        let folders = ProgramRunner.searchFolders(path: ProcessEnvironment.value("PATH"))
        let opener = ["xdg-open", "sensible-browser"].lazy.compactMap { ProgramRunner.find($0, in: folders) }.first
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

/// Runs helper programs (certutil, update-ca-certificates) to completion with posix_spawn, for the
/// same reason as `BrowserOpener`: no Foundation. What they print is captured, not shown.
enum ProgramRunner {
    /// How a program ended: its exit status (128 + N when signal N killed it) and what it printed on
    /// stdout and stderr together.
    struct Finished: Sendable, Equatable {
        var status: Int32
        var output: String
    }

    /// The program could not be started at all; `reason` is strerror's.
    struct StartFailure: Error, Sendable, Equatable {
        var reason: String
    }

    /// The colon-separated `path` as folders, plus the sbin folders non-root users often lack.
    static func searchFolders(path: String?) -> [String] {
        let folders = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        return folders + ["/usr/local/sbin", "/usr/sbin", "/sbin"].filter { !folders.contains($0) }
    }

    /// The first executable `name` in `folders`; a name containing a slash is checked as it is.
    static func find(_ name: String, in folders: [String]) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        return folders.lazy.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    /// Runs `arguments[0]` (a path) with the rest as its arguments, stdin from /dev/null, and waits.
    static func run(_ arguments: [String]) throws(StartFailure) -> Finished {
        precondition(!arguments.isEmpty, "ProgramRunner.run needs at least the program's path")
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw StartFailure(reason: String(cString: strerror(errno))) }
        // Close-on-exec, so no other program inherits the ends (pipe2 needs _GNU_SOURCE in Swift).
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // dup2 clears close-on-exec on 1 and 2 only; the pipe's own ends still close at exec.
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
        let copies: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, copies + [nil], environ)
        close(ends[1])
        guard spawned == 0 else {
            close(ends[0])
            throw StartFailure(reason: String(cString: strerror(spawned)))
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count > 0 {
                output += chunk[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(ends[0])
        var status: Int32 = 0
        _ = systemCall("waitpid") { waitpid(pid, &status, 0) }
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import: low 7 bits = signal, next 8 = status.
        let signal = status & 0x7f
        return Finished(
            status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            output: String(decoding: output, as: UTF8.self))
    }
}
