import DevServeTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import DevServeWatcher

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder for one test, removed when the test is done with it.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/devserve-watcher-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw POSIXError(.ENOENT) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func url(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` with open/write/close, making the folders above it if needed.
    func write(_ relative: String, _ text: String) throws {
        try Self.write(atPath: url(relative), text)
    }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: url(relative), withIntermediateDirectories: true)
    }

    /// Writes with open/write/close, as an editor does; makes missing folders first.
    static func write(atPath path: String, _ text: String) throws {
        var descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 && errno == ENOENT {
            let folder = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw POSIXError(.EIO) }
    }
}

/// Collects what the watcher publishes, and waits (with a deadline) for what a test expects.
final class BatchRecorder: Sendable {
    private let batches = Mutex<[ChangeBatch]>([])

    func record(_ batch: ChangeBatch) {
        batches.withLock { $0.append(batch) }
    }

    var all: [ChangeBatch] { batches.withLock { $0 } }

    /// Every change published so far, in order.
    var changes: [FileChange] { all.flatMap(\.changes) }

    /// Polls until `condition` holds on the batches so far, for at most `timeout`.
    @discardableResult
    func wait(timeout: Duration = .seconds(3), until condition: ([ChangeBatch]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if batches.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return batches.withLock { condition($0) }
    }

    /// Waits until `change` has been published.
    @discardableResult
    func wait(for change: FileChange, timeout: Duration = .seconds(3)) async -> Bool {
        await wait(timeout: timeout) { $0.contains { $0.changes.contains(change) } }
    }
}

/// A running watcher on a temporary folder, ready (every folder watched) when made.
struct WatchedFolder {
    let folder: TemporaryFolder
    let recorder: BatchRecorder
    let logs: LogRecorder
    let watcher: Watcher

    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    init(
        folder: TemporaryFolder? = nil, ignore: [String] = [], configure: (inout Watcher.Options) -> Void = { _ in },
        onBatch: (@Sendable (ChangeBatch) -> Void)? = nil
    ) async throws {
        let folder = try folder ?? TemporaryFolder()
        let recorder = BatchRecorder()
        let logs = LogRecorder()
        let ready = Flag()
        var options = Watcher.Options()
        configure(&options)
        options.onReadyForTesting = { ready.set() }
        let watcher = try Watcher(
            roots: [folder.path], ignore: IgnoreRules(globs: ignore), options: options, logger: logs.logger,
            onBatch: { batch in
                onBatch?(batch)
                recorder.record(batch)
            })
        self.folder = folder
        self.recorder = recorder
        self.logs = logs
        self.watcher = watcher
        watcher.start()
        let deadline = ContinuousClock.now + .seconds(3)
        while !ready.isSet && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(ready.isSet, "the watcher did not finish setting up within 3 s")
    }

    func path(_ relative: String) -> String { folder.url(relative) }

    /// Writes a sentinel file and waits for it: everything done before it has been published by
    /// then, so a test can check that something was *not* reported without sleeping.
    func settle(_ name: String = "sentinel.txt") async throws {
        try folder.write(name, UUID().uuidString)
        let path = path(name)
        let seen = await recorder.wait { $0.contains { $0.changes.contains { $0.path == path } } }
        #expect(seen, "the sentinel \(name) was not reported")
    }
}
