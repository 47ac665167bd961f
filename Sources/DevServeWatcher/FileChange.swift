/// One path that changed, as the watcher publishes it.
///
/// `path` is absolute and starts with the root it was found under, spelled as that root was
/// given to `Watcher.init` (made absolute, without a trailing slash). It names a file, or a
/// folder when the folder itself appeared or went away; a folder moved out of the tree is one
/// `deleted` for the folder, since the files that were in it are not known one by one.
public struct FileChange: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable {
        case created
        case modified
        case deleted
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }
}

/// What the watcher hands over once events have settled: the net effect per path, in the order
/// the paths first changed. `full` says the watcher may have missed changes (the kernel's queue
/// overflowed): every page should reload, whatever `changes` lists.
public struct ChangeBatch: Sendable, Equatable {
    public var changes: [FileChange]
    public var full: Bool

    public init(changes: [FileChange], full: Bool) {
        self.changes = changes
        self.full = full
    }
}
