import DevServeLiveReload
import DevServeServer
import DevServeSite
import DevServeWatcher
import Foundation
import Logging
import Testing

@testable import DevServeCLI

@Suite struct ReloadNotifierTests {
    let hub = ChangeHub(boot: "b")

    var notifier: ReloadNotifier { ReloadNotifier(root: "/site", hub: hub, logger: Logger(label: "test")) }

    @Test func filesUnderTheRootBecomeTheirURLPaths() {
        #expect(notifier.urlPath("/site/css/site.css") == "/css/site.css")
        #expect(notifier.urlPath("/site/my page.html") == "/my page.html")
        #expect(notifier.urlPath("/sitemap/x.html") == nil, "a sibling that shares the prefix is outside")
        #expect(notifier.urlPath("/elsewhere/x.css") == nil)
        #expect(ReloadNotifier(root: "/", hub: hub, logger: Logger(label: "t")).urlPath("/a/b.js") == "/a/b.js")
    }

    @Test func aBatchIsOneNoticeAndOutsideChangesReloadEverything() {
        notifier.deliver(
            ChangeBatch(
                changes: [
                    FileChange(path: "/site/css/site.css", kind: .modified),
                    FileChange(path: "/site/new.js", kind: .created),
                ], full: false))
        #expect(
            hub.answerNow(since: 0)
                == .changes(
                    version: 1,
                    changes: [.init(path: "/css/site.css", kind: "modified"), .init(path: "/new.js", kind: "created")],
                    full: false))
        notifier.deliver(ChangeBatch(changes: [FileChange(path: "/partials/nav.html", kind: .modified)], full: false))
        #expect(hub.answerNow(since: 1) == .changes(version: 2, changes: [], full: true))
    }

    @Test func theLogLineNamesTheFiles() {
        let changes = (1...7).map { ChangeHub.Change(path: "/f\($0).css", kind: "modified") }
        #expect(
            ReloadNotifier.describe(Array(changes.prefix(2)), full: false)
                == "reload: /f1.css (modified), /f2.css (modified)")
        #expect(ReloadNotifier.describe(changes, full: false).hasSuffix("/f5.css (modified) and 2 more"))
        #expect(ReloadNotifier.describe([], full: true) == "reload: everything")
        #expect(
            ReloadNotifier.describe([.init(path: "/a\nb", kind: "deleted")], full: false)
                == "reload: /a\\x0Ab (deleted)")
    }

    /// Open a page, then save its files in the editor without an edit: no page reloads, from the
    /// first save on (the server told the watcher what each browser was given). A real edit
    /// still reaches the poll endpoint.
    @Test func aSaveOfAServedFileThatChangesNothingReachesNoPage() async throws {
        let folder = try TempFolder()
        let script = "export const answer = 42;\n"
        let page = "<script type=module src=/app.js></script><p>hello</p>"
        try folder.write("app.js", script)
        try folder.write("index.html", page)
        let server = try DevServeProcess([folder.path, "--port", "0"])
        defer { _ = try? server.stop() }
        let port = try server.waitForPort()
        // Saves a marker until the watcher (set up on its own thread after start) reports it.
        var ready = false
        for attempt in 0..<40 where !ready {
            try folder.write("marker.txt", "start \(attempt)")
            ready = (try? server.waitForOutput(containing: "reload: /marker.txt", seconds: 0.25)) != nil
        }
        #expect(ready, "the watcher never reported a change")

        #expect(try HTTP.get("/", port: port).status == 200)
        #expect(try HTTP.get("/app.js", port: port).body == script)
        let status = try HTTP.get("/__devserve/poll", port: port).body
        let boot = try #require(status.split(separator: "\"").dropFirst(3).first.map(String.init))
        let version = try #require(
            status.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })

        // The editor's save without edits, then a new file: reported once the saves before it are.
        try folder.write("app.js", script)
        try folder.write("index.html", page)
        try folder.write("after.txt", "after the saves")
        try server.waitForOutput(containing: "/after.txt (created)")
        let since = try HTTP.get("/__devserve/poll?boot=\(boot)&since=\(version)", port: port)
        #expect(since.status == 200)
        #expect(since.body.contains(#""path":"/after.txt""#))
        #expect(!since.body.contains("/app.js"), "a save that changed nothing reached the page: \(since.body)")
        #expect(!since.body.contains("/index.html"), "a save that changed nothing reached the page: \(since.body)")
        #expect(!server.output.contains("/app.js (modified)"))

        try folder.write("app.js", "export const answer = 43;\n")
        try server.waitForOutput(containing: "reload: /app.js (modified)")
        let edited = try HTTP.get("/__devserve/poll?boot=\(boot)&since=\(version)", port: port)
        #expect(edited.body.contains(#""path":"/app.js","kind":"modified""#))
    }
}
