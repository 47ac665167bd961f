import DevServeCore
import DevServeWatcher
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
}
