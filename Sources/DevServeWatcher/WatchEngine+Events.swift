import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// inotify events to changes. A save counts when it is finished (IN_CLOSE_WRITE, or IN_MOVED_TO
/// for editors that save by rename); names appearing and going count at once; a folder that
/// appears is watched and then listed, one that goes away is forgotten with what was below it.
extension WatchEngine {
    /// Reads and handles the events already queued, at most `limit`, so a writer faster than the
    /// watcher cannot keep it here for ever. Each event counts from when it is read, not from when
    /// the drain began: a drain made long by listing a new folder must not leave the batch looking
    /// quiet for that long, or a burst into that folder is cut in two.
    func drainEvents(limit: Int = 65_536) {
        guard let inotify else { return }
        var handled = 0
        while handled < limit {
            let (event, error) = inotify.nextEvent()
            guard let event else {
                if error != 0 && error != EINTR && error != EAGAIN {
                    failInotify(error)
                }
                return
            }
            handle(event, at: clock.now)
            handled += 1
        }
    }

    func handle(_ event: Inotify.Event, at now: Instant) {
        if event.has(IN_Q_OVERFLOW) {
            logger.debug("The inotify queue overflowed: pages are told to reload")
            coalescer.recordOverflow(at: now)
            needsResync = true
            return
        }
        guard let folder = folderByWatch[event.watch] else { return }
        if event.has(IN_IGNORED) || event.has(IN_DELETE_SELF) || event.has(IN_MOVE_SELF) {
            folderWentAway(folder, moved: event.has(IN_MOVE_SELF), at: now)
            return
        }
        guard !event.name.isEmpty, let record = folders[folder] else { return }
        let path = Paths.join(folder, event.name)
        guard !isIgnored(path, root: record.root) else { return }
        let known = record.entries[event.name]
        if event.has(IN_CREATE) || event.has(IN_MOVED_TO) {
            if known == true || folders[path] != nil {
                // A folder replaced by rename: it is gone, and the kernel dropped its watches.
                forget(path, unwatch: false)
            }
            folders[folder]?.entries[event.name] = event.has(IN_ISDIR)
            if known == nil && event.has(IN_CREATE) && !event.has(IN_ISDIR) {
                // A new file is being written: it counts once it is closed.
                openCreates[path] = now
                return
            }
            // Renamed over a file still being written: that one never counted, so this is new.
            let replacedOpen = openCreates.removeValue(forKey: path) != nil
            coalescer.record(known == nil || replacedOpen ? .created : .modified, path, at: now)
            if event.has(IN_ISDIR) {
                addTree(path, root: record.root, report: true)
            }
        } else if event.has(IN_CLOSE_WRITE) {
            if known == nil { folders[folder]?.entries[event.name] = false }
            let created = known == nil || openCreates.removeValue(forKey: path) != nil
            coalescer.record(created ? .created : .modified, path, at: now)
        } else if event.has(IN_DELETE) || event.has(IN_MOVED_FROM) {
            folders[folder]?.entries[event.name] = nil
            // Made and gone again before it was ever closed: nothing to tell.
            if openCreates.removeValue(forKey: path) != nil { return }
            if known == true || event.has(IN_ISDIR) {
                // Moved away, its watches are still live and must go; deleted, the kernel has
                // dropped them already.
                forget(path, unwatch: event.has(IN_MOVED_FROM))
            }
            coalescer.record(.deleted, path, at: now)
        }
    }

    /// The folder's own watch says it was deleted or moved, or the kernel dropped the watch. A
    /// folder still tracked here had no watched parent to tell (a root, or a folder whose parent
    /// is polled): it is reported as deleted.
    private func folderWentAway(_ folder: String, moved: Bool, at now: Instant) {
        guard folders[folder] != nil else { return }
        // Moved, yet a folder is there: its watch was already taken over by its new name.
        if moved && !isRoot(folder) && FileSystem.isFolder(folder) { return }
        if isRoot(folder) { return lose(root: folder, moved: moved, at: now) }
        coalescer.record(.deleted, folder, at: now)
        forget(folder, unwatch: moved)
    }

    /// Reading inotify failed for good: poll everything from now on rather than miss changes.
    private func failInotify(_ error: Int32) {
        logger.warning("\(WatcherNotice.readFailed(errno: error, pollInterval: configuration.options.pollInterval))")
        let watched = folders.filter { $0.value.watch != nil }
        for (path, var record) in watched {
            if let watch = record.watch { folderByWatch[watch] = nil }
            record.watch = nil
            record.stamps = Self.stamps(of: path, entries: record.entries)
            folders[path] = record
            polledFolders.insert(path)
        }
        inotify?.close()
        inotify = nil
        schedulePolling(after: clock.now)
    }

    /// After an overflow: brings the tracked folders back in line with the disk (watching folders
    /// whose creation was missed, forgetting those whose deletion was), and forgets every
    /// digest. The batch is `full`, so nothing is reported one by one.
    func resync(at now: Instant) {
        needsResync = false
        hashes.removeAll()
        for (index, root) in roots.enumerated() {
            resyncFolder(root, root: index, at: now)
        }
        if nextPoll == nil { schedulePolling(after: now) }
    }

    private func resyncFolder(_ path: String, root: Int, at now: Instant) {
        guard var record = folders[path] else {
            if FileSystem.isFolder(path) { addTree(path, root: root, report: false) }
            return
        }
        guard case .success(let listing) = FileSystem.entries(of: path) else {
            forget(path, unwatch: false)
            return
        }
        var entries: [String: Bool] = [:]
        for entry in listing {
            let child = Paths.join(path, entry.name)
            if !isIgnored(child, root: root) { entries[entry.name] = entry.isFolder }
        }
        for (name, isFolder) in record.entries where isFolder && entries[name] != true {
            forget(Paths.join(path, name), unwatch: false)
        }
        record.entries = entries
        if record.watch == nil { record.stamps = Self.stamps(of: path, entries: entries) }
        folders[path] = record
        for (name, isFolder) in entries where isFolder {
            resyncFolder(Paths.join(path, name), root: root, at: now)
        }
    }

    static func stamps(of folder: String, entries: [String: Bool]) -> [String: FileSystem.Stamp] {
        var stamps: [String: FileSystem.Stamp] = [:]
        for name in entries.keys {
            if let stamp = FileSystem.stamp(Paths.join(folder, name)) { stamps[name] = stamp }
        }
        return stamps
    }
}
