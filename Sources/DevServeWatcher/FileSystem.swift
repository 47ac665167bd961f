import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The file-system reads the watcher makes: folder listings, `lstat` stamps for polling, and
/// content digests. Plain POSIX so a tree of thousands of folders is walked without Foundation.
enum FileSystem {
    struct Entry: Sendable, Equatable {
        var name: String
        var isFolder: Bool
    }

    /// What polling compares between two scans.
    struct Stamp: Sendable, Equatable {
        var isFolder: Bool
        var size: Int64
        var modified: Int64
        var changed: Int64
        var inode: UInt64

        init(_ raw: stat) {
            isFolder = (raw.st_mode & S_IFMT) == S_IFDIR
            size = Int64(raw.st_size)
            modified = Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec)
            changed = Int64(raw.st_ctim.tv_sec) * 1_000_000_000 + Int64(raw.st_ctim.tv_nsec)
            inode = UInt64(raw.st_ino)
        }
    }

    /// A file's size and FNV-1a 64 hash.
    struct Digest: Sendable, Equatable {
        var size: Int
        var hash: UInt64
    }

    /// The names in `folder` (without `.` and `..`), or errno.
    static func entries(of folder: String) -> Result<[Entry], Errno> {
        guard let directory = opendir(folder) else { return .failure(Errno(errno)) }
        defer { closedir(directory) }
        var entries: [Entry] = []
        while let raw = readdir(directory) {
            guard let name = name(of: raw) else { continue }
            let type = Int(raw.pointee.d_type)
            let isFolder: Bool
            if type == Int(DT_DIR) {
                isFolder = true
            } else if type == Int(DT_UNKNOWN) {
                // Some file systems (XFS without ftype, some network ones) do not fill d_type.
                isFolder = stamp(folder + "/" + name)?.isFolder ?? false
            } else {
                isFolder = false
            }
            entries.append(Entry(name: name, isFolder: isFolder))
        }
        return .success(entries)
    }

    /// The names in `folder` with their `lstat`, for polling: `fstatat` on the open folder, so no
    /// path is built or resolved per entry. Entries that vanish meanwhile are left out.
    static func stamps(of folder: String) -> Result<[(name: String, stamp: Stamp)], Errno> {
        guard let directory = opendir(folder) else { return .failure(Errno(errno)) }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        var stamps: [(name: String, stamp: Stamp)] = []
        while let raw = readdir(directory) {
            guard let name = name(of: raw) else { continue }
            var info = stat()
            guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            stamps.append((name, Stamp(info)))
        }
        return .success(stamps)
    }

    /// The entry's name; nil for `.` and `..`.
    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String? {
        let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
            tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                String(cString: $0)
            }
        }
        return name == "." || name == ".." ? nil : name
    }

    /// The `lstat` of `path`: a symbolic link is stamped as itself, never followed.
    static func stamp(_ path: String) -> Stamp? {
        var raw = stat()
        guard lstat(path, &raw) == 0 else { return nil }
        return Stamp(raw)
    }

    /// True when `path` is a folder itself (not a link to one).
    static func isFolder(_ path: String) -> Bool {
        stamp(path)?.isFolder ?? false
    }

    /// The digest of bytes in memory (a file the server read whole).
    static func digest(of bytes: [UInt8]) -> Digest {
        var hasher = FNV1a64()
        bytes.withUnsafeBytes { hasher.combine($0) }
        return Digest(size: bytes.count, hash: hasher.value)
    }

    /// The digest of a regular file of at most `limit` bytes; nil for anything else, a file that
    /// cannot be read, or one that is larger (whose saves are then always reported). With
    /// `expecting`, nil too unless the file is that version before and after it is read.
    static func digest(ofFileAt path: String, limit: Int, expecting: Watcher.FileIdentity? = nil) -> Digest? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) <= limit else {
            return nil
        }
        if let expecting, Watcher.FileIdentity(info) != expecting { return nil }
        guard let digest = digest(ofOpenFile: descriptor, limit: limit) else { return nil }
        if let expecting {
            guard fstat(descriptor, &info) == 0, Watcher.FileIdentity(info) == expecting else { return nil }
        }
        return digest
    }

    private static func digest(ofOpenFile descriptor: Int32, limit: Int) -> Digest? {
        var hasher = FNV1a64()
        var size = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let read = systemCall("read") {
                buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            }
            guard case .success(let count) = read else { return nil }
            if count == 0 { break }
            size += count
            guard size <= limit else { return nil }
            buffer.withUnsafeBytes { hasher.combine(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return Digest(size: size, hash: hasher.value)
    }
}

extension Watcher.FileIdentity {
    init(_ raw: stat) {
        self.init(
            device: UInt64(raw.st_dev), inode: UInt64(raw.st_ino), size: Int(raw.st_size),
            modifiedNanoseconds: Int(raw.st_mtim.tv_sec) * 1_000_000_000 + Int(raw.st_mtim.tv_nsec),
            changedNanoseconds: Int(raw.st_ctim.tv_sec) * 1_000_000_000 + Int(raw.st_ctim.tv_nsec))
    }
}

/// FNV-1a, 64 bits: tiny, no dependency, and plenty to tell one save of a file from the next.
struct FNV1a64: Sendable {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        value = hash
    }
}
