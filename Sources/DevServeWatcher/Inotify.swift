internal import CInotifyTools
import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The only code that calls libinotifytools. The library keeps its state in globals and is not
/// thread-safe: an instance lives on the watcher thread and is used from nowhere else, and the
/// `Watcher` makes sure there is one per process.
///
/// What the library does not give, and how this file makes up for it:
/// - `inotifytools_watch_file` answers 1 or 0, not the watch descriptor, and after a watched
///   folder is deleted its entry stays in the library's name index (removing it fails, since the
///   kernel already dropped the watch), so `inotifytools_wd_from_filename` answers the dead
///   descriptor once a folder of the same name is watched again (`rm -rf dist && mkdir dist`).
///   The descriptor is therefore read back from the kernel: `inotify_add_watch` on the library's
///   descriptor with the same mask returns the existing watch and changes nothing.
/// - `inotifytools_next_events` waits in whole seconds with select(2), and the descriptor is not
///   exported; it is found in /proc/self/fd (the inotify descriptor that appears during
///   `inotifytools_initialize`), so the watcher thread waits with poll(2) for events, its stop
///   signal and its deadlines together, and only then reads without blocking (timeout 0).
///   `inotifytools_next_event(0)`, by contrast, would block for ever.
/// - select(2) cannot watch a descriptor at or above FD_SETSIZE (the fortified FD_SET aborts),
///   so such a descriptor is refused and the watcher polls instead.
/// - `inotifytools_initialize` opens the descriptor without close-on-exec; it is set here so
///   child processes (`--open` starting a browser) do not inherit it.
final class Inotify {
    struct Event: Sendable, Equatable {
        var watch: Int32
        var mask: UInt32
        var cookie: UInt32
        var name: String

        func has<Flag: BinaryInteger>(_ flag: Flag) -> Bool { mask & UInt32(truncatingIfNeeded: flag) != 0 }
    }

    enum OpenFailure: Error, Equatable {
        /// inotify_init failed (errno), typically EMFILE: fs.inotify.max_user_instances reached.
        case initialize(Int32)
        /// The library's descriptor could not be told apart in /proc/self/fd.
        case descriptorNotFound
        /// The descriptor is too high for the library's select(2).
        case descriptorTooHigh(Int32)
    }

    /// The library's inotify descriptor, for poll(2) only; reads go through the library.
    let descriptor: Int32
    private let mask = cinotifytools_folder_mask()
    private var isOpen = true

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Initialises the library. Call once per process at a time, on the watcher thread.
    static func open() -> Result<Inotify, OpenFailure> {
        let before = inotifyDescriptors()
        guard inotifytools_initialize() != 0 else {
            return .failure(.initialize(inotifytools_error()))
        }
        let appeared = inotifyDescriptors().subtracting(before)
        guard appeared.count == 1, let descriptor = appeared.first else {
            inotifytools_cleanup()
            return .failure(.descriptorNotFound)
        }
        guard descriptor < cinotifytools_fd_setsize() else {
            inotifytools_cleanup()
            return .failure(.descriptorTooHigh(descriptor))
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return .success(Inotify(descriptor: descriptor))
    }

    /// Watches one folder (not its subfolders); the watch descriptor, or errno (ENOSPC when the
    /// user's watches are used up, ENOENT when the folder is gone, EACCES...).
    func watch(folder: String) -> Result<Int32, Errno> {
        precondition(isOpen, "Inotify used after close()")
        guard inotifytools_watch_file(folder, Int32(bitPattern: mask)) != 0 else {
            let error = inotifytools_error()
            return .failure(Errno(error == 0 ? EIO : error))
        }
        let watch = inotify_add_watch(descriptor, folder, mask)
        guard watch >= 0 else { return .failure(Errno(errno)) }
        return .success(watch)
    }

    /// Removes a watch that is still live (a folder moved out of the tree). Not for watches the
    /// kernel already dropped (IN_IGNORED): the library would print an error for those.
    func unwatch(_ watch: Int32) {
        guard isOpen else { return }
        _ = inotifytools_remove_watch_by_wd(watch)
    }

    /// The next event already read or readable, without waiting; nil when there is none. `error`
    /// is set when reading failed.
    func nextEvent() -> (event: Event?, error: Int32) {
        guard isOpen else { return (nil, 0) }
        guard let raw = inotifytools_next_events(0, 1) else {
            return (nil, inotifytools_error())
        }
        let name = String(cString: cinotifytools_event_name(raw))
        return (Event(watch: raw.pointee.wd, mask: raw.pointee.mask, cookie: raw.pointee.cookie, name: name), 0)
    }

    /// fs.inotify.max_user_watches, for the warning when it runs out.
    func maximumUserWatches() -> Int {
        Int(inotifytools_get_max_user_watches())
    }

    /// Closes the descriptor and frees the library's state, so another watcher may start later.
    func close() {
        guard isOpen else { return }
        isOpen = false
        inotifytools_cleanup()
    }

    /// The descriptors of this process that are inotify instances.
    private static func inotifyDescriptors() -> Set<Int32> {
        var found: Set<Int32> = []
        guard let directory = opendir("/proc/self/fd") else { return found }
        defer { closedir(directory) }
        var target = [CChar](repeating: 0, count: 64)
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(cString: $0)
                }
            }
            guard let descriptor = Int32(name) else { continue }
            let count = target.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return -1 }
                return readlink("/proc/self/fd/\(descriptor)", base, buffer.count - 1)
            }
            guard count > 0 else { continue }
            let link = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == "anon_inode:inotify" { found.insert(descriptor) }
        }
        return found
    }
}

/// Used on the watcher thread only.
@available(*, unavailable)
extension Inotify: Sendable {}
