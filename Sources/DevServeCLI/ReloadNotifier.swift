import DevServeLiveReload
import DevServeServer
import DevServeSite
import DevServeWatcher
import Logging

/// Turns the watcher's batches into change-hub notices and says so in the log: a file under
/// the root becomes its URL path (decoded, as the client compares them); a change in a
/// `--watch` folder outside the root has no URL, so it reloads every page.
struct ReloadNotifier: Sendable {
    let root: String
    let hub: ChangeHub
    let logger: Logger

    func deliver(_ batch: ChangeBatch) {
        var changes: [ChangeHub.Change] = []
        var full = batch.full
        for change in batch.changes {
            if let path = urlPath(change.path) {
                changes.append(ChangeHub.Change(path: path, kind: change.kind.rawValue))
            } else {
                full = true
            }
        }
        let (_, told) = hub.publish(changes, full: full)
        logger.info("\(Self.describe(changes, full: full)) → \(told) waiting client\(told == 1 ? "" : "s") told")
    }

    /// `/css/site.css` for `ROOT/css/site.css`; nil outside the root.
    func urlPath(_ absolute: String) -> String? {
        let prefix = root == "/" ? "/" : root + "/"
        guard absolute.utf8.starts(with: prefix.utf8) else { return nil }
        return "/" + String(decoding: absolute.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
    }

    /// `reload: /css/site.css (modified), /app.js (created)`, shortened past five files.
    static func describe(_ changes: [ChangeHub.Change], full: Bool) -> String {
        if changes.isEmpty { return full ? "reload: everything" : "reload: nothing" }
        let shown = changes.prefix(5).map { "\(LogLine.escape($0.path)) (\($0.kind))" }.joined(separator: ", ")
        let more = changes.count > 5 ? " and \(changes.count - 5) more" : ""
        return "reload: " + shown + more + (full ? ", everything" : "")
    }
}

extension ReloadNotifier {
    /// The watcher of the plan's folders, publishing to `hub`; not started yet.
    static func makeWatcher(plan: LaunchPlan, hub: ChangeHub, logger: Logger) throws -> Watcher {
        let notifier = ReloadNotifier(root: plan.configuration.root, hub: hub, logger: logger)
        var options = Watcher.Options()
        options.forcePolling = plan.forcePolling
        return try Watcher(
            roots: plan.watchRoots, ignore: IgnoreRules(globs: plan.ignoreGlobs), options: options, logger: logger,
            onBatch: { notifier.deliver($0) })
    }

    /// The server's `onFileRead`: each file version a browser is given, told to the watcher.
    static func telling(_ watcher: Watcher) -> @Sendable (ServerConfiguration.FileRead) -> Void {
        { read in
            let identity = Watcher.FileIdentity(
                device: read.device, inode: read.inode, size: read.size,
                modifiedNanoseconds: read.modifiedNanoseconds, changedNanoseconds: read.changedNanoseconds)
            watcher.noteServed(Watcher.ServedFile(path: read.path, identity: identity, bytes: read.bytes))
        }
    }
}
