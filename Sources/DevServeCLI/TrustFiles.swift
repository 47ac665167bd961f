import DevServeSystem
import DevServeTLS

#if canImport(Glibc)
    import Glibc
#endif

/// The file operations `devserve trust` needs beyond `CertificateFiles` (read, join, write), on
/// Glibc directly (no Foundation). Failures come back as strerror's text, for the report.
enum TrustFiles {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The folders directly inside `path`, sorted; none when it cannot be read.
    /// `path` with its links resolved, or as given when it cannot be (it does not exist): two
    /// names of one folder (`~/.mozilla/firefox` linked to `~/.config/mozilla/firefox`) are one.
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func subfolders(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." && isFolder(Paths.join(path, name)) { names.append(name) }
        }
        return names.sorted().map { Paths.join(path, $0) }
    }

    /// Creates `path` and any missing parents with `mode`. Returns nil on success, else the reason.
    static func makeFolders(_ path: String, mode: mode_t) -> String? {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0, errno != EEXIST { return String(cString: strerror(errno)) }
        }
        return isFolder(path) ? nil : String(cString: strerror(ENOTDIR))
    }
}
