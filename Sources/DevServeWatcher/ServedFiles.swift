import Synchronization

extension Watcher {
    /// A file version a browser was given: where it is (its real path), what fstat(2) said of it,
    /// and its bytes when the server read them whole.
    public struct ServedFile: Sendable {
        public var path: String
        public var identity: FileIdentity
        public var bytes: [UInt8]?

        public init(path: String, identity: FileIdentity, bytes: [UInt8]?) {
            self.path = path
            self.identity = identity
            self.bytes = bytes
        }
    }

    /// What tells one version of a file from the next, short of reading it.
    public struct FileIdentity: Sendable, Equatable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int
        public var modifiedNanoseconds: Int
        public var changedNanoseconds: Int

        public init(device: UInt64, inode: UInt64, size: Int, modifiedNanoseconds: Int, changedNanoseconds: Int) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modifiedNanoseconds = modifiedNanoseconds
            self.changedNanoseconds = changedNanoseconds
        }
    }
}

/// Files served and not yet digested: filled from the server's event loops, emptied by the
/// watcher thread, which it wakes. Bounded: past `maximumCount` reports are dropped (those files
/// are simply reported on their first save), and bytes past `maximumBytes` are not kept (the
/// watcher reads the file itself, if it is still the version served).
final class ServedFiles: Sendable {
    static let maximumCount = 4096
    static let maximumBytes = 8 * 1024 * 1024

    private struct State {
        var pending: [Watcher.ServedFile] = []
        var bytes = 0
        var wake: StopSignal?
    }

    private let state = Mutex(State())

    func add(_ file: Watcher.ServedFile) {
        let wake = state.withLock { state -> StopSignal? in
            guard state.pending.count < Self.maximumCount else { return nil }
            var file = file
            if let bytes = file.bytes {
                if state.bytes + bytes.count > Self.maximumBytes {
                    file.bytes = nil
                } else {
                    state.bytes += bytes.count
                }
            }
            state.pending.append(file)
            return state.pending.count == 1 ? state.wake : nil
        }
        wake?.wake()
    }

    /// Everything pending, oldest first.
    func take() -> [Watcher.ServedFile] {
        state.withLock { state in
            defer {
                state.pending.removeAll()
                state.bytes = 0
            }
            return state.pending
        }
    }

    /// Where to ring when the first report comes in: the running watcher thread, or nil.
    func attach(_ signal: StopSignal?) {
        let wake = state.withLock { state -> StopSignal? in
            state.wake = signal
            return state.pending.isEmpty ? nil : signal
        }
        wake?.wake()
    }
}
