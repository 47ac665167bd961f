/// The content digest of each file as last published, so a save that leaves the bytes as they
/// were (an editor's save without edits, a build that rewrites the same output) is dropped.
///
/// A file's digest is known once a browser was given it (the server says so: `learn`) or once it
/// changed; a save of a file never served and never changed since start is reported (no page
/// depends on it). At most `capacity` digests are kept; past that the least recently used
/// quarter is forgotten (those files are simply reported on their next save).
struct ContentHashes {
    /// Files larger than this are not hashed: their saves are always reported.
    static let maximumFileSize = 32 * 1024 * 1024

    let capacity: Int
    private var digests: [String: (digest: FileSystem.Digest, used: UInt64)] = [:]
    private var tick: UInt64 = 0

    init(capacity: Int = 16_384) {
        precondition(capacity > 0, "ContentHashes needs room for at least one digest")
        self.capacity = capacity
    }

    var count: Int { digests.count }

    /// The batch without saves whose content is unchanged; remembers the digests of created and
    /// modified files, forgets deleted ones. `digest` reads a file (injected for tests).
    mutating func filter(
        _ batch: ChangeBatch,
        digest: (String) -> FileSystem.Digest? = {
            FileSystem.digest(ofFileAt: $0, limit: ContentHashes.maximumFileSize)
        }
    ) -> ChangeBatch {
        var kept: [FileChange] = []
        kept.reserveCapacity(batch.changes.count)
        for change in batch.changes {
            switch change.kind {
            case .deleted:
                digests[change.path] = nil
                kept.append(change)
            case .created, .modified:
                let now = digest(change.path)
                let before = digests[change.path]?.digest
                remember(now, for: change.path)
                if change.kind == .modified, let now, now == before { continue }
                kept.append(change)
            }
        }
        return ChangeBatch(changes: kept, full: batch.full)
    }

    /// Forgets every digest under these folders (folders that went away), in one pass.
    mutating func forget(folders: Set<String>) {
        guard !folders.isEmpty, !digests.isEmpty else { return }
        digests = digests.filter { entry in
            var path = Substring(entry.key)
            while let slash = path.lastIndex(of: "/") {
                path = path[..<slash]
                if folders.contains(String(path)) { return false }
            }
            return true
        }
    }

    func knows(_ path: String) -> Bool { digests[path] != nil }

    /// The digest of the version a browser was given, where none is known yet.
    mutating func learn(_ digest: FileSystem.Digest, for path: String) {
        guard digests[path] == nil else { return }
        remember(digest, for: path)
    }

    mutating func removeAll() {
        digests.removeAll()
    }

    private mutating func remember(_ digest: FileSystem.Digest?, for path: String) {
        guard let digest else {
            digests[path] = nil
            return
        }
        tick += 1
        digests[path] = (digest, tick)
        if digests.count > capacity {
            let keep = capacity - capacity / 4
            let newest = digests.sorted { $0.value.used > $1.value.used }.prefix(keep)
            digests = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
        }
    }
}
