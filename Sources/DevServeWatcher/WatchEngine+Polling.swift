import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Polling, for folders inotify cannot watch (out of watches, `forcePolling` for network mounts
/// and WSL): every interval each polled folder is listed and each entry `lstat`ed, and compared
/// with the last scan. A file counts as modified when its size, modification or change time, or
/// inode differ, so an editor's save by rename is seen too.
extension WatchEngine {
    func pollIfDue(at now: Instant) {
        guard let nextPoll, now >= nextPoll else { return }
        for folder in polledFolders.sorted() where folders[folder]?.watch == nil {
            scanPolled(folder)
        }
        findLostRoots(at: now)
        schedulePolling(after: clock.now)
    }

    /// Changes count from when the listing saw them (see `addTree`).
    private func scanPolled(_ folder: String) {
        guard let record = folders[folder] else { return }
        let listing: [(name: String, stamp: FileSystem.Stamp)]
        switch FileSystem.stamps(of: folder) {
        case .success(let stamps):
            listing = stamps
        case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
            // Gone: its parent's scan or watch reports it; a root is reported here.
            if isRoot(folder) { lose(root: folder, moved: false, at: clock.now) }
            return
        case .failure:
            return
        }
        let now = clock.now
        var entries: [String: Bool] = [:]
        var stamps: [String: FileSystem.Stamp] = [:]
        var newFolders: [String] = []
        for (name, stamp) in listing {
            // Only names not seen before need the ignore rules: the others passed them already.
            let before = record.stamps[name]
            if before == nil && isIgnored(Paths.join(folder, name), root: record.root) { continue }
            entries[name] = stamp.isFolder
            stamps[name] = stamp
            if let before, before == stamp || (stamp.isFolder && before.isFolder && before.inode == stamp.inode) {
                continue
            }
            let child = Paths.join(folder, name)
            guard let before else {
                coalescer.record(.created, child, at: now)
                if stamp.isFolder { newFolders.append(child) }
                continue
            }
            if before.isFolder != stamp.isFolder || (stamp.isFolder && before.inode != stamp.inode) {
                // Replaced by something else: what was there is gone, the new one is scanned.
                forget(child, unwatch: false)
                coalescer.record(.modified, child, at: now)
                if stamp.isFolder { newFolders.append(child) }
            } else if !stamp.isFolder && before != stamp {
                coalescer.record(.modified, child, at: now)
            }
        }
        for (name, wasFolder) in record.entries where entries[name] == nil {
            let child = Paths.join(folder, name)
            coalescer.record(.deleted, child, at: now)
            // A polled folder goes with its parent; a watched one hears of it from its own watch
            // (IN_DELETE_SELF, or IN_MOVE_SELF with its watch still live).
            if wasFolder, folders[child]?.watch == nil { forget(child, unwatch: false) }
        }
        folders[folder]?.entries = entries
        folders[folder]?.stamps = stamps
        for child in newFolders {
            addTree(child, root: record.root, report: true)
        }
    }
}
