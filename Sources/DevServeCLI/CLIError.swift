/// Errors the command line reports as one sentence naming the problem and the fix.
public enum CLIError: Error, Equatable, CustomStringConvertible {
    case rootMissing(String)
    case rootIsFile(String)
    case rootIsALoop(String)
    case rootUnreadable(String, reason: String)
    case unknownHost(String)
    case noSignalPipe(reason: String)
    indirect case watchFolder(String, problem: CLIError)

    public var description: String {
        switch self {
        case .rootMissing(let path):
            return "The folder '\(path)' does not exist: pass the folder to serve, for example 'devserve public'."
        case .rootIsFile(let path):
            return "'\(path)' is a file, not a folder: pass the folder that contains it instead."
        case .rootIsALoop(let path):
            return "'\(path)' is a loop of symbolic links: point it at a real folder, or serve another one."
        case .rootUnreadable(let path, let reason):
            return "The folder '\(path)' cannot be read (\(reason)): fix its permissions or serve another folder."
        case .watchFolder(let folder, let problem):
            let why: String
            switch problem {
            case .rootMissing: why = "does not exist"
            case .rootIsFile: why = "is a file, not a folder"
            case .rootIsALoop: why = "is a loop of symbolic links"
            case .rootUnreadable(_, let reason): why = "cannot be read (\(reason))"
            default: why = "cannot be watched"
            }
            return "--watch '\(folder)' \(why): pass a folder whose changes should reload pages."
        case .unknownHost(let host):
            return "--host '\(host)' is not an address of this machine: use an IP address such as 127.0.0.1 or ::1, "
                + "or 'localhost'."
        case .noSignalPipe(let reason):
            return "devserve cannot set up Ctrl-C handling (\(reason)): "
                + "raise the open-file limit (ulimit -n) and start it again."
        }
    }
}
