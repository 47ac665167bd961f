import Foundation
import Testing

@testable import DevServeServer
@testable import DevServeSite

@Suite struct DirectoryListingTests {
    @Test func escapesNamesInTextAndLinks() {
        let names = [
            "a<b>.txt", "q\"uote.txt", "amp&.txt", "colon:x.txt", "hash#.txt", "ques?.txt", "é.txt", "sp ace.txt",
        ]
        let items = names.map { DirectoryListing.Item(name: $0, isDirectory: false, size: 1, modified: 0) }
        let html = DirectoryListing.render(path: "/dir <x>/", items: items)
        #expect(html.contains("<title>Index of /dir &lt;x&gt;/</title>"))
        #expect(html.contains(">a&lt;b&gt;.txt</a>"))
        #expect(html.contains("href=\"./a%3Cb%3E.txt\""))
        #expect(html.contains(">q&quot;uote.txt</a>"))
        #expect(html.contains("href=\"./q%22uote.txt\""))
        #expect(html.contains(">amp&amp;.txt</a>"))
        #expect(html.contains("href=\"./colon%3Ax.txt\""))
        #expect(html.contains("href=\"./hash%23.txt\""))
        #expect(html.contains("href=\"./ques%3F.txt\""))
        #expect(html.contains("href=\"./%C3%A9.txt\">é.txt</a>"))
        #expect(html.contains("href=\"./sp%20ace.txt\""))
        #expect(!html.contains("<b>"))
    }

    @Test func sortsFoldersFirstThenNamesCaseInsensitively() {
        let items = [
            DirectoryListing.Item(name: "b.txt", isDirectory: false, size: 1, modified: 0),
            DirectoryListing.Item(name: "Zed", isDirectory: true, size: 0, modified: 0),
            DirectoryListing.Item(name: "A.txt", isDirectory: false, size: 1, modified: 0),
            DirectoryListing.Item(name: "alpha", isDirectory: true, size: 0, modified: 0),
        ]
        #expect(DirectoryListing.sorted(items).map(\.name) == ["alpha", "Zed", "A.txt", "b.txt"])
        let html = DirectoryListing.render(path: "/", items: items)
        let order = ["alpha/", "Zed/", "A.txt", "b.txt"].compactMap { html.range(of: ">\($0)</a>")?.lowerBound }
        #expect(order.count == 4 && order == order.sorted())
        #expect(!html.contains("href=\"../\""), "the root has no parent link")
        #expect(DirectoryListing.render(path: "/sub/", items: []).contains("href=\"../\""))
    }

    @Test func formatsSizes() {
        #expect(DirectoryListing.formatSize(0) == "0 B")
        #expect(DirectoryListing.formatSize(1023) == "1023 B")
        #expect(DirectoryListing.formatSize(1536) == "1.5 KB")
        #expect(DirectoryListing.formatSize(5 * 1024 * 1024) == "5.0 MB")
    }
}
