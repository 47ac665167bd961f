import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

@Suite struct LiveReloadTests {
    let tag = LiveReload.scriptTag(boot: "b", version: 7)

    func inject(_ html: String) -> String {
        String(buffer: LiveReload.inject(tag, into: ByteBuffer(string: html)))
    }

    @Test func theTagCarriesBootAndVersion() {
        #expect(tag == "<script src=\"/__devserve/client.js\" data-boot=\"b\" data-version=\"7\" defer></script>")
    }

    @Test(arguments: [
        ("<html><head><title>x</title></head><body>hi</body></html>", "<title>x</title>"),
        ("<HTML><HEAD></HEAD><BODY></BODY></HTML>", "<HEAD>"),
        ("<html><Head ></Head ><body></body></html>", "<Head >"),
    ])
    func beforeTheFirstClosingHead(_ html: String, _ before: String) {
        let result = inject(html)
        let headClose = result.range(of: "</head", options: .caseInsensitive)
        let tagAt = result.range(of: tag)
        #expect(tagAt != nil && headClose != nil)
        if let tagAt, let headClose { #expect(tagAt.upperBound == headClose.lowerBound) }
        #expect(result.replacingOccurrences(of: tag, with: "") == html)
    }

    @Test func beforeBodyWithoutHeadAndAtTheEndWithNeither() {
        #expect(inject("<body><p>x</p></BODY>") == "<body><p>x</p>\(tag)</BODY>")
        #expect(inject("<p>fragment</p>") == "<p>fragment</p>\(tag)")
        #expect(inject("") == tag)
        #expect(inject("<headline></headline>") == "<headline></headline>\(tag)", "</headline> is not </head>")
        #expect(inject("<head></head><head></head>") == "<head>\(tag)</head><head></head>")
    }

    @Test func pollQueries() {
        #expect(LiveReload.PollQuery(nil) == LiveReload.PollQuery(""))
        let query = LiveReload.PollQuery("boot=abc&since=12")
        #expect(query?.boot == "abc" && query?.since == 12)
        #expect(LiveReload.PollQuery("since=x") == nil)
        #expect(LiveReload.PollQuery("since=-1") == nil)
        #expect(LiveReload.PollQuery("other=1&since=3")?.since == 3)
    }

    @Test func jsonEscapesPaths() {
        let json = LiveReload.json(
            boot: "b", version: 2, changes: [.init(path: "/a\"b\\c\n.css", kind: "deleted")], full: false)
        #expect(
            json == #"{"boot":"b","version":2,"changes":[{"path":"/a\"b\\c\n.css","kind":"deleted"}],"full":false}"#)
        #expect(
            LiveReload.json(boot: "b", version: 0, restarted: true) == #"{"boot":"b","version":0,"restarted":true}"#)
        #expect(LiveReload.quote("\u{1}") == #""\u0001""#)
    }
}
