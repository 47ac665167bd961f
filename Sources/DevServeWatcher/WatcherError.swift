/// Why a watcher cannot be made, as one sentence that says what to do.
public enum WatcherError: Error, Equatable, CustomStringConvertible {
    case noFolders
    case folderMissing(String)
    case notAFolder(String)
    case anotherWatcherRunning

    public var description: String {
        switch self {
        case .noFolders:
            return "The watcher was given no folder to watch: pass the served folder, and any --watch folders."
        case .folderMissing(let path):
            return "The folder '\(path)' to watch does not exist: create it, or pass an existing folder to --watch."
        case .notAFolder(let path):
            return "'\(path)' is a file, not a folder: pass the folder that contains it to --watch instead."
        case .anotherWatcherRunning:
            return "A watcher is already running in this process (libinotifytools allows one): "
                + "stop it before making another, or watch every folder with that one."
        }
    }
}
