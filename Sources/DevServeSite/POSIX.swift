import DevServeSystem
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file-system calls devserve makes, each returning errno on failure instead of throwing, so
/// the responder decides what each errno means for the client where it makes the call.
enum POSIX {
    struct FileStatus: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int
        var modifiedNanoseconds: Int
        var changedNanoseconds: Int
        var isDirectory: Bool
        var isRegular: Bool
        var isSymbolicLink: Bool

        /// What tells one version of the file from the next.
        var version: PrivateKeyPEM.Scans.Version {
            .init(
                device: device, inode: inode, size: size, modifiedNanoseconds: modifiedNanoseconds,
                changedNanoseconds: changedNanoseconds)
        }

        init(_ raw: stat) {
            device = UInt64(raw.st_dev)
            inode = UInt64(raw.st_ino)
            size = Int(raw.st_size)
            #if canImport(Darwin)
                modifiedNanoseconds = Int(raw.st_mtimespec.tv_sec) * 1_000_000_000 + Int(raw.st_mtimespec.tv_nsec)
                changedNanoseconds = Int(raw.st_ctimespec.tv_sec) * 1_000_000_000 + Int(raw.st_ctimespec.tv_nsec)
            #else
                modifiedNanoseconds = Int(raw.st_mtim.tv_sec) * 1_000_000_000 + Int(raw.st_mtim.tv_nsec)
                changedNanoseconds = Int(raw.st_ctim.tv_sec) * 1_000_000_000 + Int(raw.st_ctim.tv_nsec)
            #endif
            isDirectory = (raw.st_mode & S_IFMT) == S_IFDIR
            isRegular = (raw.st_mode & S_IFMT) == S_IFREG
            isSymbolicLink = (raw.st_mode & S_IFMT) == S_IFLNK
        }
    }

    static func stat(_ path: String) -> Result<FileStatus, Errno> {
        var raw = Glibc.stat()
        guard systemStat(path, &raw) == 0 else { return .failure(Errno(errno)) }
        return .success(FileStatus(raw))
    }

    /// The status of the link itself, not of what it points to; `path` is NUL-terminated.
    static func lstat(_ path: [CChar]) -> Result<FileStatus, Errno> {
        var raw = Glibc.stat()
        guard systemLstat(path, &raw) == 0 else { return .failure(Errno(errno)) }
        return .success(FileStatus(raw))
    }

    /// The status of the link itself, not of what it points to.
    static func lstat(_ path: String) -> Result<FileStatus, Errno> {
        var raw = Glibc.stat()
        guard systemLstat(path, &raw) == 0 else { return .failure(Errno(errno)) }
        return .success(FileStatus(raw))
    }

    static func fstat(_ descriptor: CInt) -> Result<FileStatus, Errno> {
        var raw = Glibc.stat()
        guard Glibc.fstat(descriptor, &raw) == 0 else { return .failure(Errno(errno)) }
        return .success(FileStatus(raw))
    }

    static func openForReading(_ path: String) -> Result<CInt, Errno> {
        let descriptor = path.withCString { Glibc.open($0, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
        guard descriptor >= 0 else { return .failure(Errno(errno)) }
        return .success(descriptor)
    }

    static func realPath(_ path: String) -> Result<String, Errno> {
        guard let resolved = Glibc.realpath(path, nil) else { return .failure(Errno(errno)) }
        defer { free(resolved) }
        return .success(String(cString: resolved))
    }

    /// The path a descriptor refers to now, through /proc (Linux) — the file actually opened — as
    /// raw bytes: a name that is not UTF-8 must not be folded into another.
    static func pathOfDescriptor(_ descriptor: CInt) -> Result<[UInt8], Errno> {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        #if os(Linux)
            let count = readlink("/proc/self/fd/\(descriptor)", &buffer, Int(PATH_MAX))
            guard count > 0 else { return .failure(Errno(errno)) }
            return .success(buffer[0..<count].map { UInt8(bitPattern: $0) })
        #else
            guard fcntl(descriptor, F_GETPATH, &buffer) == 0 else { return .failure(Errno(errno)) }
            return .success(buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) })
        #endif
    }

    /// Reads up to `count` bytes from the start of the file into a fresh array (small files only).
    static func read(_ descriptor: CInt, count: Int) -> Result<[UInt8], Errno> {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        reading: while filled < count {
            let read = systemCall("pread") {
                bytes.withUnsafeMutableBytes { buffer in
                    pread(descriptor, buffer.baseAddress.map { $0 + filled }, count - filled, off_t(filled))
                }
            }
            switch read {
            case .failure(let error): return .failure(error)
            case .success(0): break reading  // end of file: the file shrank
            case .success(let got): filled += got
            }
        }
        if filled < count { bytes.removeSubrange(filled...) }
        return .success(bytes)
    }

    /// Reads up to `count` bytes at `offset` into the end of `buffer`; returns how many (0 at EOF).
    static func read(_ descriptor: CInt, offset: Int, count: Int, into buffer: inout ByteBuffer) -> Result<Int, Errno> {
        while true {
            var failure: CInt = 0
            let result = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                let got = pread(descriptor, pointer.baseAddress, count, off_t(offset))
                if got < 0 { failure = errno }
                return max(0, got)
            }
            if failure == EINTR { continue }
            if failure != 0 { return .failure(Errno(failure)) }
            return .success(result)
        }
    }

    static func close(_ descriptor: CInt) {
        _ = Glibc.close(descriptor)
    }

    struct DirectoryEntry: Sendable {
        var name: String
        var isDirectory: Bool
        var size: Int
        var modifiedNanoseconds: Int
    }

    /// The entries of a folder (not `.` and `..`), each stat'ed through symlinks; entries whose
    /// names are not valid UTF-8 are skipped, since no URL could name them.
    static func listDirectory(_ path: String) -> Result<[DirectoryEntry], Errno> {
        guard let directory = opendir(path) else { return .failure(Errno(errno)) }
        defer { closedir(directory) }
        var entries: [DirectoryEntry] = []
        while let entry = readdir(directory) {
            let name: String? = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = raw.prefix(while: { $0 != 0 })
                return String(validating: bytes, as: UTF8.self)
            }
            guard let name, name != ".", name != ".." else { continue }
            switch stat(path + "/" + name) {
            case .success(let status):
                entries.append(
                    DirectoryEntry(
                        name: name, isDirectory: status.isDirectory, size: status.size,
                        modifiedNanoseconds: status.modifiedNanoseconds))
            case .failure:
                continue  // a dangling symlink or a file removed meanwhile: not listed
            }
        }
        return .success(entries)
    }
}

// `withCString` hands over a native String's own NUL-terminated bytes; passing the String
// straight to a C function would copy it into a fresh array on every call.
private func systemStat(_ path: String, _ buffer: inout stat) -> CInt {
    path.withCString { stat($0, &buffer) }
}

private func systemLstat(_ path: String, _ buffer: inout stat) -> CInt {
    path.withCString { lstat($0, &buffer) }
}

private func systemLstat(_ path: [CChar], _ buffer: inout stat) -> CInt {
    lstat(path, &buffer)
}
