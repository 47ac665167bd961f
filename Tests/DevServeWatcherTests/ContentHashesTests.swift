import Testing

@testable import DevServeWatcher

struct ContentHashesTests {
    private func digest(_ text: String) -> FileSystem.Digest {
        var hasher = FNV1a64()
        Array(text.utf8).withUnsafeBytes { hasher.combine($0) }
        return FileSystem.Digest(size: text.utf8.count, hash: hasher.value)
    }

    @Test func fnv1aMatchesItsReferenceValues() {
        #expect(digest("").hash == 0xcbf2_9ce4_8422_2325)
        #expect(digest("a").hash == 0xaf63_dc4c_8601_ec8c)
        #expect(digest("foobar").hash == 0x8594_4171_f739_67e8)
    }

    @Test func theFirstSaveIsReportedAndAnIdenticalOneIsDropped() {
        var hashes = ContentHashes()
        var content = ["/s/a.css": "red"]
        let modified = ChangeBatch(changes: [FileChange(path: "/s/a.css", kind: .modified)], full: false)
        #expect(hashes.filter(modified) { content[$0].map(digest) } == modified)
        #expect(hashes.filter(modified) { content[$0].map(digest) }.changes.isEmpty)
        content["/s/a.css"] = "blue"
        #expect(hashes.filter(modified) { content[$0].map(digest) } == modified)
    }

    @Test func createdFilesAreRememberedAndDeletedOnesForgotten() {
        var hashes = ContentHashes()
        let content = ["/s/a.js": "1"]
        let read = { (path: String) in content[path].map(digest) }
        let created = ChangeBatch(changes: [FileChange(path: "/s/a.js", kind: .created)], full: false)
        let modified = ChangeBatch(changes: [FileChange(path: "/s/a.js", kind: .modified)], full: false)
        let deleted = ChangeBatch(changes: [FileChange(path: "/s/a.js", kind: .deleted)], full: true)
        #expect(hashes.filter(created, digest: read) == created)
        #expect(hashes.filter(modified, digest: read).changes.isEmpty)
        #expect(hashes.filter(deleted, digest: read) == deleted)
        #expect(hashes.count == 0)
        #expect(hashes.filter(modified, digest: read) == modified)
    }

    @Test func forgettingAFolderForgetsWhatWasBelowIt() {
        var hashes = ContentHashes()
        let read = { (path: String) in self.digest(path) }
        let batch = ChangeBatch(
            changes: ["/s/a/1", "/s/a/b/2", "/s/ab/3", "/s/c"].map { FileChange(path: $0, kind: .created) }, full: false
        )
        _ = hashes.filter(batch, digest: read)
        hashes.forget(folders: ["/s/a"])
        #expect(hashes.count == 2)
    }

    @Test func memoryIsBounded() {
        var hashes = ContentHashes(capacity: 100)
        let read = { (path: String) in self.digest(path) }
        for index in 0..<1000 {
            _ = hashes.filter(
                ChangeBatch(changes: [FileChange(path: "/f\(index)", kind: .created)], full: false), digest: read)
        }
        #expect(hashes.count <= 100)
        // The most recent are kept.
        let recent = ChangeBatch(changes: [FileChange(path: "/f999", kind: .modified)], full: false)
        #expect(hashes.filter(recent, digest: read).changes.isEmpty)
    }

    /// What a browser was given is learned where nothing is known, and never replaces what is
    /// known: a report read late must not bring an older version back.
    @Test func aServedVersionFillsInAMissingDigestOnly() {
        var hashes = ContentHashes()
        var content = ["/s/a.css": "red", "/s/b.css": "one"]
        let read = { (path: String) in content[path].map(self.digest) }
        hashes.learn(digest("red"), for: "/s/a.css")
        let saveA = ChangeBatch(changes: [FileChange(path: "/s/a.css", kind: .modified)], full: false)
        #expect(hashes.filter(saveA, digest: read).changes.isEmpty, "the first save without edits is dropped")

        content["/s/b.css"] = "two"
        let saveB = ChangeBatch(changes: [FileChange(path: "/s/b.css", kind: .modified)], full: false)
        #expect(hashes.filter(saveB, digest: read) == saveB)
        hashes.learn(digest("one"), for: "/s/b.css")
        #expect(hashes.filter(saveB, digest: read).changes.isEmpty, "the older version served did not come back")
    }
}
