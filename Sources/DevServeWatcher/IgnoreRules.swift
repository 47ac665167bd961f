/// Paths the watcher neither watches nor reports, given relative to their root (`css/site.css`).
///
/// A glob without `/` is tested against every component of the path, so `dist` ignores a folder
/// named dist anywhere and everything in it, and `*.log` every log file. A glob with `/` is tested
/// against the relative path and each of its parent folders (`docs/*.md`, `build/**/cache`); a
/// leading `/` only anchors it to the root, a trailing `/` is dropped. The defaults (version
/// control, packages, editors' temporary files) always apply.
public struct IgnoreRules: Sendable {
    /// Always ignored: `.git`, `node_modules`, and the temporary files of vim, emacs and JetBrains
    /// IDEs.
    public static let defaultGlobs = [
        ".git", "node_modules", "4913", "*.swp", "*.swx", "*~", ".#*", "#*#", "*.tmp", "___jb_tmp___", "___jb_old___",
    ]

    /// The globs given, besides the defaults.
    public let globs: [String]
    private let componentGlobs: [Glob]
    private let pathGlobs: [Glob]

    public init(globs: [String]) {
        self.globs = globs
        var componentGlobs: [Glob] = []
        var pathGlobs: [Glob] = []
        for raw in IgnoreRules.defaultGlobs + globs {
            var glob = Substring(raw)
            while glob.hasPrefix("./") { glob = glob.dropFirst(2) }
            while glob.hasPrefix("/") { glob = glob.dropFirst() }
            while glob.hasSuffix("/") { glob = glob.dropLast() }
            guard !glob.isEmpty else { continue }
            // "/dist" (anchored) is the root's dist only: a path glob of one component.
            if glob.contains("/") || raw.hasPrefix("/") {
                pathGlobs.append(Glob(String(glob)))
            } else {
                componentGlobs.append(Glob(String(glob)))
            }
        }
        self.componentGlobs = componentGlobs
        self.pathGlobs = pathGlobs
    }

    public func isIgnored(_ relativePath: String) -> Bool {
        let scalars = Array(relativePath.unicodeScalars)
        var start = 0
        while start < scalars.count, scalars[start] == "/" { start += 1 }
        var componentStart = start
        var index = start
        while index <= scalars.count {
            if index == scalars.count || scalars[index] == "/" {
                if index > componentStart {
                    let component = scalars[componentStart..<index]
                    if componentGlobs.contains(where: { $0.matches(component) }) { return true }
                    let prefix = scalars[start..<index]
                    if pathGlobs.contains(where: { $0.matches(prefix) }) { return true }
                }
                componentStart = index + 1
            }
            index += 1
        }
        return false
    }
}
