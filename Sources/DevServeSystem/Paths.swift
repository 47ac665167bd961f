#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Path strings as every module builds them: no file-system access but `currentDirectory`.
public enum Paths {
    /// `folder/name`, with exactly one slash between them.
    public static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// `path` as given when absolute, else under `cwd`.
    public static func absolute(_ path: String, cwd: String) -> String {
        path.hasPrefix("/") ? path : join(cwd, path)
    }

    /// `path` (absolute) with `.`, `..` and empty components resolved, as text: symbolic links
    /// are not followed.
    public static func normalized(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The working folder, or `.` when its path cannot be read (deleted under the process).
    public static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "." }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// True when `inner` lies below `outer` (both absolute and normalized).
    public static func contains(_ outer: String, _ inner: String) -> Bool {
        outer == "/" ? inner != "/" : inner.hasPrefix(outer + "/")
    }
}
