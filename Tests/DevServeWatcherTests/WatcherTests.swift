import DevServeTestSupport
import Foundation
import Testing

@testable import DevServeWatcher

/// The watcher on real folders. Serialized: a process has one watcher at a time.
@Suite(.serialized)
struct WatcherTests {
    @Test func writeAndCloseOfAnExistingFileIsOneModified() async throws {
        let folder = try TemporaryFolder()
        try folder.write("index.html", "<h1>one</h1>")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        try folder.write("index.html", "<h1>two</h1>")
        let change = FileChange(path: folder.url("index.html"), kind: .modified)
        #expect(await watched.recorder.wait(for: change))
        #expect(watched.recorder.all == [ChangeBatch(changes: [change], full: false)])
    }

    @Test func aNewFileWrittenAndClosedIsOneCreated() async throws {
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        try watched.folder.write("new.css", "body {}")
        let change = FileChange(path: watched.path("new.css"), kind: .created)
        #expect(await watched.recorder.wait(for: change))
        #expect(watched.recorder.changes == [change])
    }

    /// A new file written slowly (a bundler writing bundle.js, `cp` of a large image) counts once,
    /// when it is closed: not when it appears empty, and then again.
    @Test func aNewFileWrittenSlowlyIsOneCreatedWhenItIsClosed() async throws {
        // A long grace, so a busy machine cannot stretch the wait below past it.
        let watched = try await WatchedFolder { $0.openCreateGrace = .seconds(30) }
        defer { watched.watcher.stop() }

        let descriptor = open(watched.path("bundle.js"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        #expect(descriptor >= 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(watched.recorder.all.isEmpty, "reported while still being written: \(watched.recorder.all)")
        _ = "export const done = true;\n".withCString { write(descriptor, $0, strlen($0)) }
        close(descriptor)
        let change = FileChange(path: watched.path("bundle.js"), kind: .created)
        #expect(await watched.recorder.wait(for: change))
        #expect(watched.recorder.changes == [change])
    }

    /// A name that appears without ever being written (a symbolic link) still counts, a moment later.
    @Test func aNewSymbolicLinkIsCreated() async throws {
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        try watched.folder.write("real.css", "body {}")
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("real.css"), kind: .created)))
        #expect(symlink("real.css", watched.path("link.css")) == 0)
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("link.css"), kind: .created)))
    }

    @Test func anAtomicSaveByRenameIsOneModifiedAndTheTemporaryFileIsNeverSeen() async throws {
        let folder = try TemporaryFolder()
        try folder.write("app.js", "let a = 1")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        try folder.write(".app.js.new-4711", "let a = 2")
        #expect(rename(folder.url(".app.js.new-4711"), folder.url("app.js")) == 0)
        let change = FileChange(path: folder.url("app.js"), kind: .modified)
        #expect(await watched.recorder.wait(for: change))
        try await watched.settle()
        #expect(!watched.recorder.changes.contains { $0.path.contains("4711") })
        #expect(watched.recorder.changes.filter { $0.path == change.path } == [change])
    }

    @Test func sedInPlaceIsOneModified() async throws {
        let folder = try TemporaryFolder()
        try folder.write("page.html", "<p>hello</p>")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        let sed = Process()
        sed.executableURL = URL(fileURLWithPath: "/usr/bin/sed")
        sed.arguments = ["-i", "s/hello/world/", folder.url("page.html")]
        try sed.run()
        sed.waitUntilExit()
        #expect(sed.terminationStatus == 0)

        let change = FileChange(path: folder.url("page.html"), kind: .modified)
        #expect(await watched.recorder.wait(for: change))
        try await watched.settle()
        let others = watched.recorder.changes.filter { !$0.path.hasSuffix("sentinel.txt") }
        #expect(others == [change], "sed's temporary file must not show")
    }

    @Test func aNewNestedFolderWithAFileWrittenAtOnceReportsTheFile() async throws {
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        try watched.folder.write("a/b/c/deep.html", "deep")
        let file = FileChange(path: watched.path("a/b/c/deep.html"), kind: .created)
        #expect(await watched.recorder.wait(for: file))
        let changes = watched.recorder.changes
        #expect(changes.filter { $0.path == file.path } == [file])
        #expect(changes.contains(FileChange(path: watched.path("a"), kind: .created)))

        // The new folders are watched too.
        try watched.folder.write("a/b/c/deep.html", "deeper")
        #expect(await watched.recorder.wait(for: FileChange(path: file.path, kind: .modified)))
    }

    @Test func deletingAFileIsDeleted() async throws {
        let folder = try TemporaryFolder()
        try folder.write("old.txt", "bye")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        #expect(unlink(folder.url("old.txt")) == 0)
        let change = FileChange(path: folder.url("old.txt"), kind: .deleted)
        #expect(await watched.recorder.wait(for: change))
        #expect(watched.recorder.changes == [change])
    }

    @Test func movingAFileOrAFolderOutOfTheTreeIsDeleted() async throws {
        let folder = try TemporaryFolder()
        let outside = try TemporaryFolder()
        try folder.write("leaving.txt", "x")
        try folder.write("gone/inner.txt", "y")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        #expect(rename(folder.url("leaving.txt"), outside.url("leaving.txt")) == 0)
        #expect(rename(folder.url("gone"), outside.url("gone")) == 0)
        let file = FileChange(path: folder.url("leaving.txt"), kind: .deleted)
        let moved = FileChange(path: folder.url("gone"), kind: .deleted)
        #expect(
            await watched.recorder.wait { batches in
                [file, moved].allSatisfy { batches.flatMap(\.changes).contains($0) }
            })

        // The folder moved away is no longer watched: changes there are not this tree's.
        try outside.write("gone/inner.txt", "changed elsewhere")
        try await watched.settle()
        #expect(!watched.recorder.changes.contains { $0.path.hasPrefix(folder.url("gone/")) })
    }

    @Test func movingAFileOrAFolderIntoTheTreeIsCreated() async throws {
        let outside = try TemporaryFolder()
        try outside.write("arriving.txt", "x")
        try outside.write("bundle/inside.js", "y")
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        #expect(rename(outside.url("arriving.txt"), watched.path("arriving.txt")) == 0)
        #expect(rename(outside.url("bundle"), watched.path("bundle")) == 0)
        let expected = [
            FileChange(path: watched.path("arriving.txt"), kind: .created),
            FileChange(path: watched.path("bundle"), kind: .created),
            FileChange(path: watched.path("bundle/inside.js"), kind: .created),
        ]
        #expect(
            await watched.recorder.wait { batches in expected.allSatisfy { batches.flatMap(\.changes).contains($0) } })
        try watched.folder.write("bundle/inside.js", "z")
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("bundle/inside.js"), kind: .modified)))
    }

    @Test func renamingAFolderInsideTheTreeMovesItsFiles() async throws {
        let folder = try TemporaryFolder()
        try folder.write("before/file.txt", "x")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        #expect(rename(folder.url("before"), folder.url("after")) == 0)
        let expected = [
            FileChange(path: folder.url("before"), kind: .deleted),
            FileChange(path: folder.url("after"), kind: .created),
            FileChange(path: folder.url("after/file.txt"), kind: .created),
        ]
        #expect(
            await watched.recorder.wait { batches in expected.allSatisfy { batches.flatMap(\.changes).contains($0) } })
        try folder.write("after/file.txt", "y")
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("after/file.txt"), kind: .modified)))
    }

    @Test func aFolderDeletedAndMadeAgainUnderTheSameNameIsWatchedAgain() async throws {
        let folder = try TemporaryFolder()
        try folder.write("dist/app.js", "1")
        let watched = try await WatchedFolder(folder: folder)
        defer { watched.watcher.stop() }

        // libinotifytools keeps the dead watch of a deleted folder under its name; the new
        // folder's watch must still be told apart (`rm -rf dist && mkdir dist` on every build).
        for round in 1...3 {
            try FileManager.default.removeItem(atPath: folder.url("dist"))
            try folder.makeFolder("dist")
            try await watched.settle("sentinel-\(round).txt")
            let mark = watched.recorder.all.count
            try folder.write("dist/app.js", "round \(round)")
            let change = FileChange(path: folder.url("dist/app.js"), kind: .created)
            let seen = await watched.recorder.wait { $0.dropFirst(mark).contains { $0.changes.contains(change) } }
            #expect(seen, "round \(round): a file in the re-made folder was missed")
        }
    }

    /// `devserve dist` while a build runs `rm -rf dist` and makes it again: the root itself comes
    /// back, is watched again, and everything reloads once (what it holds now is unknown).
    @Test(arguments: [false, true])
    func aRootDeletedAndMadeAgainIsWatchedAgain(polling: Bool) async throws {
        let folder = try TemporaryFolder()
        try folder.write("index.html", "1")
        let watched = try await WatchedFolder(folder: folder) { options in
            options.forcePolling = polling
            options.pollInterval = .milliseconds(50)
        }
        defer { watched.watcher.stop() }

        try FileManager.default.removeItem(atPath: folder.path)
        #expect(await watched.recorder.wait(for: FileChange(path: folder.path, kind: .deleted)))
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: false)
        #expect(await watched.recorder.wait { $0.contains(where: \.full) }, "no reload when the root came back")
        try folder.write("index.html", "2")
        #expect(
            await watched.recorder.wait(for: FileChange(path: folder.url("index.html"), kind: .created)),
            "a save in the root made again was missed")
    }

    @Test func ignoredNamesAreNeverReported() async throws {
        let watched = try await WatchedFolder(ignore: ["dist", "*.log"])
        defer { watched.watcher.stop() }

        for name in [
            ".git/HEAD", "node_modules/x/index.js", "page.html.swp", "4913", "notes.txt~", "dist/a.js", "debug.log",
        ] {
            try watched.folder.write(name, "ignored")
        }
        try watched.folder.write(".git/objects/ab/cdef", "deep in .git")
        try await watched.settle()
        #expect(watched.recorder.changes.map(\.path) == [watched.path("sentinel.txt")])
    }

    @Test func aSaveThatLeavesTheContentAsItWasIsDropped() async throws {
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        try watched.folder.write("same.css", "a { color: red }")
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("same.css"), kind: .created)))
        try watched.folder.write("same.css", "a { color: red }")
        try await watched.settle()
        #expect(watched.recorder.changes.filter { $0.path == watched.path("same.css") }.count == 1)

        try watched.folder.write("same.css", "a { color: blue }")
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("same.css"), kind: .modified)))
    }

    /// A file the server read by itself (too large to keep in memory) is digested by the watcher
    /// when told: its first save without edits is dropped. One that changed before the watcher
    /// could read it is not learned (the browser holds bytes nobody can read any more).
    @Test func aServedFileIsKnownSoItsFirstSaveWithoutEditsIsDropped() async throws {
        let folder = try TemporaryFolder()
        let big = String(repeating: "/* a large bundle */\n", count: 10_000)
        try folder.write("bundle.js", big)
        try folder.write("other.js", big)
        let looked = BatchRecorder()
        let watched = try await WatchedFolder(folder: folder) { options in
            options.onServedFilesForTesting = { _ in looked.record(ChangeBatch(changes: [], full: false)) }
        }
        defer { watched.watcher.stop() }

        func identity(_ path: String) throws -> Watcher.FileIdentity {
            var info = stat()
            guard stat(path, &info) == 0 else { throw POSIXError(.ENOENT) }
            return Watcher.FileIdentity(info)
        }
        var stale = try identity(folder.url("other.js"))
        stale.modifiedNanoseconds -= 1_000_000_000
        watched.watcher.noteServed(
            Watcher.ServedFile(
                path: folder.url("bundle.js"), identity: try identity(folder.url("bundle.js")), bytes: nil))
        watched.watcher.noteServed(Watcher.ServedFile(path: folder.url("other.js"), identity: stale, bytes: nil))
        #expect(await looked.wait { $0.count >= 1 }, "the watcher never looked at the served files")

        try folder.write("bundle.js", big)
        try folder.write("other.js", big)
        try await watched.settle()
        let paths = watched.recorder.changes.map(\.path)
        #expect(!paths.contains(folder.url("bundle.js")), "a save without edits of a served file was reported")
        #expect(paths.contains(folder.url("other.js")), "a version the watcher could not read was learned")

        try folder.write("bundle.js", big + "// edited\n")
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("bundle.js"), kind: .modified)))
    }

    @Test func fiveHundredFilesWrittenInABurstAreExactlyOneBatch() async throws {
        let watched = try await WatchedFolder()
        defer { watched.watcher.stop() }

        let names = (0..<500).map { "burst/file-\($0).html" }
        try watched.folder.makeFolder("burst")
        try await watched.settle()
        let before = watched.recorder.all.count
        let started = ContinuousClock.now
        for name in names {
            try watched.folder.write(name, "<p>\(name)</p>")
        }
        let writing = ContinuousClock.now - started
        let expected = Set(names.map { FileChange(path: watched.path($0), kind: .created) })
        let complete = await watched.recorder.wait { batches in
            expected.isSubset(of: Set(batches.dropFirst(before).flatMap(\.changes)))
        }
        #expect(complete)
        let burst = Array(watched.recorder.all.dropFirst(before))
        #expect(
            burst.count == 1,
            "the burst (written in \(writing)) came out as \(burst.count) batches of \(burst.map(\.changes.count))")
        #expect(burst.first?.changes.count == expected.count)
    }

    /// `mkdir dist` and a build writing 500 files into it: the files the watcher finds by listing
    /// the new folder, and those it hears of while it lists, join the batch as every other event
    /// does, so the folder and all its files are one notice. With a listing made slow (a slow
    /// disk, a busy machine; longer than a burst's quiet) and a writer at a build's steady pace,
    /// every event must count from when it was read, not from when the listing began.
    @Test(arguments: [Duration.zero, .milliseconds(300)])
    func fiveHundredFilesWrittenIntoAFolderMadeJustBeforeAreExactlyOneBatch(listingDelay: Duration) async throws {
        let grace = Duration.milliseconds(500)
        let watched = try await WatchedFolder { options in
            options.openCreateGrace = grace
            options.listingDelayForTesting = listingDelay
        }
        defer { watched.watcher.stop() }

        let names = (0..<500).map { "fresh/file-\($0).html" }
        try watched.folder.makeFolder("fresh")
        for name in names {
            try watched.folder.write(name, "<p>\(name)</p>")
            if listingDelay > .zero { usleep(1000) }
        }
        var expected = Set(names.map { FileChange(path: watched.path($0), kind: .created) })
        expected.insert(FileChange(path: watched.path("fresh"), kind: .created))
        let complete = await watched.recorder.wait(timeout: .seconds(10)) { batches in
            expected.isSubset(of: Set(batches.flatMap(\.changes)))
        }
        #expect(complete, "not every file was reported")
        // Whatever else this burst brings is recorded before a sentinel written now, and a name
        // waiting for its close is reported within the grace: past both, nothing more can come.
        try await watched.settle()
        try await Task.sleep(for: grace + Watcher.Options().maximumDelay)
        let burst = watched.recorder.all.filter { batch in
            batch.changes.contains { $0.path.hasPrefix(watched.path("fresh")) }
        }
        #expect(burst.count == 1, "the burst came out as \(burst.count) batches of \(burst.map(\.changes.count))")
        let batch = Set(burst.first?.changes ?? [])
        let holdsThemAll = batch == expected
        #expect(
            holdsThemAll, "\(expected.subtracting(batch).count) missing, \(batch.subtracting(expected).count) extra")
    }

    @Test func aQueueOverflowIsOneFullBatch() async throws {
        let text = try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)
        let queueLength = text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16_384
        guard queueLength <= 65_536 else { return }  // Too many files to write to overflow it here.
        let entered = WatchedFolder.Flag()
        let release = DispatchSemaphore(value: 0)
        let folder = try TemporaryFolder()
        try folder.makeFolder("flood")
        let watched = try await WatchedFolder(
            folder: folder,
            onBatch: { _ in
                // Hold the watcher thread in its first callback while the queue fills up.
                guard !entered.isSet else { return }
                entered.set()
                release.wait()
            })
        defer { watched.watcher.stop() }

        try watched.folder.write("trigger.txt", "x")
        let deadline = ContinuousClock.now + .seconds(3)
        while !entered.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(entered.isSet)
        // Each new file is two events (IN_CREATE, IN_CLOSE_WRITE).
        for index in 0..<(queueLength / 2 + 500) {
            let descriptor = open(watched.path("flood/\(index)"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            #expect(descriptor >= 0)
            close(descriptor)
        }
        release.signal()
        #expect(await watched.recorder.wait { $0.contains(where: \.full) })
        #expect(watched.recorder.all.filter(\.full).count == 1)

        // The watcher goes on afterwards, the flooded folder included.
        try watched.folder.write("flood/after.txt", "x")
        #expect(await watched.recorder.wait(for: FileChange(path: watched.path("flood/after.txt"), kind: .created)))
    }

    @Test func pollingSeesCreationChangeAndDeletion() async throws {
        let folder = try TemporaryFolder()
        try folder.write("polled.txt", "one")
        let watched = try await WatchedFolder(folder: folder) { options in
            options.forcePolling = true
            options.pollInterval = .milliseconds(50)
        }
        defer { watched.watcher.stop() }

        try folder.write("polled.txt", "two, longer")
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("polled.txt"), kind: .modified)))
        try folder.write("sub/new.txt", "new")
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("sub/new.txt"), kind: .created)))
        #expect(unlink(folder.url("polled.txt")) == 0)
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("polled.txt"), kind: .deleted)))
    }

    @Test func outOfWatchesWarnsOnceAndPollsWhatItCannotWatch() async throws {
        let folder = try TemporaryFolder()
        for name in ["a", "b", "c"] { try folder.write("\(name)/file.txt", name) }
        let watched = try await WatchedFolder(folder: folder) { options in
            options.watchLimitForTesting = 2
            options.pollInterval = .milliseconds(50)
        }
        defer { watched.watcher.stop() }

        let warnings = watched.logs.messages(at: .warning)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("fs.inotify.max_user_watches") == true)
        #expect(warnings.first?.contains("sudo sysctl fs.inotify.max_user_watches=524288") == true)

        // Every folder's change is seen, watched or polled.
        for name in ["a", "b", "c"] {
            try folder.write("\(name)/file.txt", "\(name) changed")
            #expect(await watched.recorder.wait(for: FileChange(path: folder.url("\(name)/file.txt"), kind: .modified)))
        }
        try folder.write("d/new.txt", "new")
        #expect(await watched.recorder.wait(for: FileChange(path: folder.url("d/new.txt"), kind: .created)))
        #expect(watched.logs.messages(at: .warning).count == 1)
    }

    @Test func stopJoinsTheThreadAndIsIdempotent() async throws {
        let watched = try await WatchedFolder()
        watched.watcher.stop()
        watched.watcher.stop()
        // The thread has ended (and closed libinotifytools), so another watcher may start.
        let again = try await WatchedFolder()
        try again.folder.write("after.txt", "x")
        #expect(await again.recorder.wait(for: FileChange(path: again.path("after.txt"), kind: .created)))
        again.watcher.stop()
        // Nothing reaches a stopped watcher's callback.
        try watched.folder.write("late.txt", "x")
        try await Task.sleep(for: .milliseconds(50))
        #expect(watched.recorder.changes.isEmpty)
    }

    @Test func oneWatcherPerProcess() async throws {
        let folder = try TemporaryFolder()
        let first = try Watcher(roots: [folder.path], ignore: IgnoreRules(globs: []), logger: LogRecorder().logger) {
            _ in
        }
        #expect(throws: WatcherError.anotherWatcherRunning) {
            _ = try Watcher(roots: [folder.path], ignore: IgnoreRules(globs: []), logger: LogRecorder().logger) { _ in }
        }
        first.stop()
        let second = try Watcher(roots: [folder.path], ignore: IgnoreRules(globs: []), logger: LogRecorder().logger) {
            _ in
        }
        second.stop()
    }

    @Test func foldersThatCannotBeWatchedAreRefusedWithASentence() throws {
        let folder = try TemporaryFolder()
        try folder.write("file.txt", "x")
        let logger = LogRecorder().logger
        #expect(throws: WatcherError.noFolders) {
            _ = try Watcher(roots: [], ignore: IgnoreRules(globs: []), logger: logger) { _ in }
        }
        #expect(throws: WatcherError.folderMissing(folder.url("missing"))) {
            _ = try Watcher(roots: [folder.url("missing")], ignore: IgnoreRules(globs: []), logger: logger) { _ in }
        }
        #expect(throws: WatcherError.notAFolder(folder.url("file.txt"))) {
            _ = try Watcher(roots: [folder.url("file.txt")], ignore: IgnoreRules(globs: []), logger: logger) { _ in }
        }
        #expect(WatcherError.folderMissing("/x").description.contains("does not exist"))
    }

    @Test func nestedRootsAreWatchedOnce() throws {
        let folder = try TemporaryFolder()
        try folder.makeFolder("sub")
        let watcher = try Watcher(
            roots: [folder.path + "/", folder.url("sub"), folder.path], ignore: IgnoreRules(globs: []),
            logger: LogRecorder().logger
        ) { _ in }
        defer { watcher.stop() }
        #expect(watcher.roots == [folder.path])
    }
}
