import DevServeHTTP
import NIOCore
import Synchronization

/// Small files kept in memory, so a hot page costs a few stat(2)s instead of realpath, open,
/// fstat, read and close.
///
/// An entry is served only when a fresh stat of the same path shows the same device, inode, size,
/// modification and change times as when it was read, so edited bytes are never served stale
/// (to the file system's timestamp granularity). Where the file is may change without any of
/// those moving (a parent folder renamed and replaced by a symlink), so the responder also checks,
/// on every hit, that no component of the path below the root is a symlink (`FileResponder`).
final class FileCache: Sendable {
    /// A class, so a lookup hands out one reference instead of copying (and retaining) each field.
    final class Entry: Sendable {
        let status: POSIX.FileStatus
        let bytes: ByteBuffer
        let contentType: String
        let validators: Validators
        let lastModifiedText: String
        /// Every fixed header of a plain 200 answer with these bytes.
        let okHeaders: HeaderBlock
        let isHTML: Bool

        init(
            status: POSIX.FileStatus, bytes: ByteBuffer, contentType: String, validators: Validators,
            lastModifiedText: String, okHeaders: HeaderBlock
        ) {
            self.status = status
            self.bytes = bytes
            self.contentType = contentType
            self.validators = validators
            self.lastModifiedText = lastModifiedText
            self.okHeaders = okHeaders
            self.isHTML = MediaType.isHTML(contentType)
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())
    let maximumFileBytes: Int
    let budgetBytes: Int

    init(maximumFileBytes: Int, budgetBytes: Int) {
        self.maximumFileBytes = maximumFileBytes
        self.budgetBytes = budgetBytes
    }

    /// The entry for `path` if it still describes the file there.
    func lookup(_ path: String, current: POSIX.FileStatus) -> Entry? {
        guard let entry = state.withLock({ $0.entries[path] }) else { return nil }
        return entry.status == current ? entry : nil
    }

    func store(_ path: String, _ entry: Entry) {
        let size = entry.bytes.readableBytes
        guard size <= maximumFileBytes, budgetBytes > 0 else { return }
        state.withLock { state in
            if let old = state.entries.removeValue(forKey: path) { state.bytes -= old.bytes.readableBytes }
            // Over budget: drop entries until there is room (arbitrary order; cheap and bounded).
            while state.bytes + size > budgetBytes, let victim = state.entries.first {
                state.entries.removeValue(forKey: victim.key)
                state.bytes -= victim.value.bytes.readableBytes
            }
            state.entries[path] = entry
            state.bytes += size
        }
    }
}
