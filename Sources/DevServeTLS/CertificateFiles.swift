import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reading and writing the PEM files: writes go to a temporary file then rename, so a reader
/// never sees half a key, and the mode is set before any byte is written. Public for the
/// command line's `devserve trust`, which reads the CA and writes system trust anchors.
public enum CertificateFiles {
    /// PEM files are small; anything larger is not one (a CA bundle is a few hundred KiB).
    static let largestFile = 4 * 1024 * 1024

    /// The whole file, or nil when it cannot be read, is not a regular file (a device, a FIFO:
    /// `--cert /dev/zero` must not read for ever) or is larger than `largestFile`.
    public static func read(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= largestFile
        else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count <= largestFile {
            let read = systemCall("read") {
                chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            }
            guard case .success(let count) = read else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
        return nil
    }

    /// The bytes of `path`, or the reason it could not be read (a folder, a device and a file too
    /// large to be PEM count as unreadable).
    static func readOrReason(_ path: String) -> Result<[UInt8], Unreadable> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(Unreadable(.current("stat"))) }
        guard info.st_mode & S_IFMT != S_IFDIR else { return .failure(Unreadable(Errno(EISDIR))) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(Unreadable("it is not a regular file")) }
        guard Int(info.st_size) <= largestFile else {
            return .failure(Unreadable("it is larger than any PEM file (\(largestFile / 1024 / 1024) MiB)"))
        }
        guard access(path, R_OK) == 0 else { return .failure(Unreadable(.current("access"))) }
        guard let bytes = read(path) else { return .failure(Unreadable(Errno(errno == 0 ? EIO : errno))) }
        return .success(bytes)
    }

    /// Why a file could not be read, as the end of a sentence: the system's message, or ours.
    struct Unreadable: Error {
        var message: String
        init(_ message: String) { self.message = message }
        init(_ error: Errno) { self.message = error.description }
    }

    /// Runs `body` holding an exclusive lock on `folder/.lock`, so two devserve processes never
    /// make or rewrite the same files at once (the second waits, then finds them made). Where the
    /// lock file cannot be opened (a read-only folder), `body` runs without it.
    static func withLock<T>(in folder: String, _ body: () throws(TLSError) -> T) throws(TLSError) -> T {
        // Read-only and 0644: a lock file root made under sudo still opens for the user.
        let descriptor = open(Paths.join(folder, ".lock"), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        defer { if descriptor >= 0 { close(descriptor) } }  // closing releases the lock
        if descriptor >= 0 {
            _ = systemCall("flock") { flock(descriptor, LOCK_EX) }
        }
        return try body()
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and its parents (mode 0755 for new parents); when `mode` is given, sets it on
    /// `path` itself, whether new or not. mkdir(2) directly, so the reason is errno's, e.g. "Not a directory".
    static func makeFolder(_ path: String, mode: Int?, onError: (String) -> TLSError) throws(TLSError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        let components = path.split(separator: "/")
        for (index, component) in components.enumerated() {
            prefix += "/" + component
            // The last one is made with its final mode, so it is never briefly open to others.
            let created = mode_t(index == components.count - 1 ? (mode ?? 0o755) : 0o755)
            if mkdir(prefix, created) != 0, errno != EEXIST { throw onError(String(cString: strerror(errno))) }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw onError(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw onError(String(cString: strerror(ENOTDIR))) }
        if let mode, chmod(path, mode_t(mode)) != 0 {
            throw onError(String(cString: strerror(errno)))
        }
    }

    static func write(_ bytes: [UInt8], to path: String, mode: Int, onError: (String) -> TLSError) throws(TLSError) {
        if let failure = write(bytes, to: path, mode: mode) { throw onError(failure) }
    }

    /// Writes `bytes` to a temporary file beside `path` (mode set first), syncs it and renames it
    /// over `path`. Returns nil on success, else strerror's reason.
    public static func write(_ bytes: [UInt8], to path: String, mode: Int) -> String? {
        let temporary = "\(path).tmp-\(getpid())"
        // A new file, never one already there: not a leftover, and not a planted symbolic link.
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else { return String(cString: strerror(errno)) }
        var failure: String?
        if fchmod(descriptor, mode_t(mode)) != 0 { failure = String(cString: strerror(errno)) }
        var offset = 0
        while failure == nil, offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
            } else {
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        if close(descriptor) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if failure != nil { unlink(temporary) }
        return failure
    }
}
