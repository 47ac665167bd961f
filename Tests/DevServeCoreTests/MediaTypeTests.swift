import Foundation
import Testing

@testable import DevServeCore

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"),
        ("INDEX.HTM", "text/html; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "text/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("app.js.map", "application/json; charset=utf-8"),
        ("logo.svg", "image/svg+xml; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8"),
        ("photo.png", "image/png"),
        ("photo.JPG", "image/jpeg"),
        ("font.woff2", "font/woff2"),
        ("module.wasm", "application/wasm"),
        ("clip.mp4", "video/mp4"),
        ("archive.unknownext", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
        (".hidden", "application/octet-stream"),
        ("trailingdot.", "application/octet-stream"),
    ])
    func typeForName(_ name: String, _ expected: String) {
        #expect(MediaType.forFileName(name) == expected)
    }
}

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

@Suite struct LogLineTests {
    @Test func formatsARequest() {
        #expect(
            LogLine.request(method: "GET", path: "/index.html", status: 200, bytes: 1520, milliseconds: 0.34)
                == "GET /index.html 200 1520 B 0.3 ms")
    }

    @Test(arguments: [
        ("/plain", "/plain"),
        ("/a\nb", "/a\\x0Ab"),
        ("/a\r\nFAKE 200", "/a\\x0D\\x0AFAKE 200"),
        ("/\u{1B}[31mred", "/\\x1B[31mred"),
        ("/del\u{7F}", "/del\\x7F"),
        ("/c1\u{9B}", "/c1\\x9B"),
        ("/bidi\u{202E}txt", "/bidi\\u{202E}txt"),
        ("/back\\slash", "/back\\\\slash"),
        ("/é", "/é"),
    ])
    func escapesControlCharacters(_ raw: String, _ expected: String) {
        #expect(LogLine.escape(raw) == expected)
    }
}
