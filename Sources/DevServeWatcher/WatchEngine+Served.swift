import DevServeSystem

/// Files a browser was given: their digests are learned, so the first save that leaves one as it
/// was is dropped like every later one.
///
/// Why only ever filling in a digest that is missing: one that is known came from the last
/// change the watcher saw, or from an earlier serve, and is what the browsers hold; a report read
/// late must not replace it with an older version. And a missing one means no browser of this
/// process was given an earlier version, so whatever one was given is what they all hold, even
/// when a change to the file is still on its way (it is then judged against that).
extension WatchEngine {
    func learnServedFiles() {
        let files = configuration.served.take()
        guard !files.isEmpty else { return }
        for file in files {
            learn(file)
        }
        configuration.options.onServedFilesForTesting?(files.count)
    }

    private func learn(_ file: Watcher.ServedFile) {
        guard !hashes.knows(file.path), isWatched(file.path) else { return }
        if let bytes = file.bytes {
            hashes.learn(FileSystem.digest(of: bytes), for: file.path)
        } else if let digest = FileSystem.digest(
            ofFileAt: file.path, limit: ContentHashes.maximumFileSize, expecting: file.identity)
        {
            // Read here, so only while it is still the version served (changed since, the browser
            // holds bytes nobody can read any more: its next save is reported).
            hashes.learn(digest, for: file.path)
        }
    }

    /// True for a path under a root that is not ignored there.
    private func isWatched(_ path: String) -> Bool {
        guard let root = roots.firstIndex(where: { Paths.contains($0, path) }) else { return false }
        return !isIgnored(path, root: root)
    }
}
