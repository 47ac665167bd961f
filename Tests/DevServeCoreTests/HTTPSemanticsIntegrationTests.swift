import Foundation
import Testing

@testable import DevServeHTTP
@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

/// README.md "What it serves", checked on the wire: a real server on a free loopback port and a
/// raw HTTP/1.1 client, asserting status lines, headers and exact bytes.
@Suite struct HTTPSemanticsIntegrationTests {
    // MARK: Methods

    @Test func getAndHeadAgreeOnEveryHeaderAndHeadHasNoBody() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<h1>home</h1>")
        try tree.write("page.html", "<p>a page</p>\n")
        try tree.write("about.html", "<p>about</p>")
        try tree.write("big.bin", bytes: patternBytes(200_000))
        try tree.write("list/one.txt", "1")
        try tree.mkdir("docs")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for target in ["/", "/page.html", "/about", "/big.bin", "/list/", "/missing.txt", "/docs"] {
                try client.request("GET", target)
                let get = try client.readResponse()
                try client.request("HEAD", target)
                let head = try client.readResponse(bodyExpected: false)
                #expect(head.status == get.status, "\(target)")
                #expect(head.headersWithoutDate == get.headersWithoutDate, "\(target)")
                #expect(head.header("content-length") == String(get.body.count), "\(target)")
                #expect(head.body.isEmpty)
            }
            // Had HEAD sent a body, these bytes would now be read as the next status line.
            try client.request("GET", "/page.html")
            let after = try client.readResponse()
            #expect(after.status == 200)
            #expect(after.text == "<p>a page</p>\n")
        }
    }

    @Test func optionsAnswers204WithAllowAndKeepsTheConnectionUsable() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for target in ["/", "/index.html", "/missing", "*"] {
                try client.request("OPTIONS", target)
                let response = try client.readResponse()
                #expect(response.status == 204, "\(target)")
                #expect(response.header("allow") == "GET, HEAD, OPTIONS", "\(target)")
                #expect(response.body.isEmpty)
                #expect(response.header("transfer-encoding") == nil)
            }
            try client.request("GET", "/")
            #expect(try client.readResponse().text == "home")
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
    func otherMethodsGet405WithAllow(method: String) async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try await TestServer.with(root: tree.path) { server in
            let response = try RawClient.get("/index.html", port: server.port, method: method)
            #expect(response.status == 405)
            #expect(response.header("allow") == "GET, HEAD, OPTIONS")
            #expect(response.header("cache-control") == "no-cache")
            #expect(!response.text.contains("home"))

            // With a body: answered, and the body is not taken for a request.
            let client = try RawClient(port: server.port)
            try client.send("\(method) / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
            let withBody = try client.readResponse()
            #expect(withBody.status == 405)
            #expect(withBody.header("allow") == "GET, HEAD, OPTIONS")
        }
    }

    // MARK: Folders

    @Test func folderIndexIsServed() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<h1>root</h1>")
        try tree.write("docs/index.html", "<h1>docs</h1>")
        try await TestServer.with(root: tree.path) { server in
            let root = try RawClient.get("/", port: server.port)
            #expect(root.status == 200)
            #expect(root.text == "<h1>root</h1>")
            #expect(root.header("content-type") == "text/html; charset=utf-8")
            let docs = try RawClient.get("/docs/", port: server.port)
            #expect(docs.status == 200)
            #expect(docs.text == "<h1>docs</h1>")
            let withQuery = try RawClient.get("/?v=1", port: server.port)
            #expect(withQuery.text == "<h1>root</h1>")
        }
    }

    @Test func folderWithoutSlashGetsARelativeRedirect() async throws {
        let tree = try TempTree()
        try tree.write("docs/index.html", "<h1>docs</h1>")
        try tree.write("guide/docs/index.html", "<h1>guide docs</h1>")
        try tree.write("my folder/index.html", "<h1>spaced</h1>")
        try await TestServer.with(root: tree.path) { server in
            let cases: [(target: String, location: String)] = [
                ("/docs", "docs/"),
                ("/docs?a=1&b=two", "docs/?a=1&b=two"),
                ("/guide/docs", "docs/"),
                ("/guide/docs?x", "docs/?x"),
                ("/my%20folder", "my%20folder/"),
            ]
            for (target, location) in cases {
                let response = try RawClient.get(target, port: server.port)
                #expect(response.status == 301, "\(target)")
                #expect(response.header("location") == location, "\(target)")
                #expect(response.header("cache-control") == "no-cache")
            }
            // Following the relative Location (resolved against the request path) lands on the index.
            #expect(try RawClient.get("/guide/docs/", port: server.port).text == "<h1>guide docs</h1>")
            #expect(try RawClient.get("/my%20folder/", port: server.port).text == "<h1>spaced</h1>")
        }
    }

    @Test func listingIsSortedFoldersFirstEscapedAndEveryLinkWorks() async throws {
        let tree = try TempTree()
        let files: [(name: String, contents: String)] = [
            ("a<b>.txt", "less-greater"),
            ("q\"uote.txt", "quote"),
            ("amp&.txt", "ampersand"),
            ("colon:x.txt", "colon"),
            ("hash#.txt", "hash"),
            ("ques?.txt", "question"),
            ("é.txt", "e-acute"),
            ("B.txt", "capital b"),
            ("it's.txt", "apostrophe"),
        ]
        for file in files { try tree.write("list/" + file.name, file.contents) }
        try tree.write("list/Zeta/inner.txt", "inner")
        try tree.mkdir("list/alpha")
        try tree.write("list/.hidden", "dot secret")
        try tree.write("list/.git/config", "git secret")
        try await TestServer.with(root: tree.path) { server in
            let response = try RawClient.get("/list/", port: server.port)
            #expect(response.status == 200)
            #expect(response.header("content-type") == "text/html; charset=utf-8")
            let html = response.text
            #expect(!html.contains("a<b>"))
            #expect(!html.contains("q\"uote"))
            #expect(!html.contains("hidden"))
            #expect(!html.contains(".git"))

            let links = Self.links(in: html).filter { $0.text != "../" }
            #expect(
                links.map(\.text) == [
                    "alpha/", "Zeta/", "a&lt;b&gt;.txt", "amp&amp;.txt", "B.txt", "colon:x.txt", "hash#.txt",
                    "it&#39;s.txt", "q&quot;uote.txt", "ques?.txt", "é.txt",
                ])
            // Each link, as a browser resolves it against /list/, returns that file's bytes.
            let expected = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.contents) })
            for link in links where !link.text.hasSuffix("/") {
                let href = Self.unescapeHTML(link.href)
                #expect(href.hasPrefix("./"), "\(href)")
                let target = "/list/" + href.dropFirst(2)
                let file = try RawClient.get(target, port: server.port)
                let name = Self.unescapeHTML(link.text)
                #expect(file.status == 200, "\(target)")
                #expect(file.text == expected[name], "\(target) should be \(name)")
            }
            for link in links where link.text.hasSuffix("/") {
                let target = "/list/" + Self.unescapeHTML(link.href).dropFirst(2)
                #expect(try RawClient.get(target, port: server.port).status == 200, "\(target)")
            }
        }
    }

    /// Browsers percent-encode non-ASCII paths, but curl, wget and scripts send raw UTF-8; the
    /// target rules accept raw bytes that decode as UTF-8 (RequestTarget.parse), so these must work.
    @Test func percentEncodedUTF8IsServedAndRawUTF8IsRefused() async throws {
        let tree = try TempTree()
        try tree.write("é.txt", "e-acute")
        try tree.write("日本/ページ.html", "<p>japanese</p>")
        try await TestServer.with(root: tree.path) { server in
            // Browsers percent-encode non-ASCII paths.
            for (target, body) in [
                ("/%C3%A9.txt", "e-acute"), ("/%E6%97%A5%E6%9C%AC/%E3%83%9A%E3%83%BC%E3%82%B8.html", "<p>japanese</p>"),
                ("/%E6%97%A5%E6%9C%AC/%E3%83%9A%E3%83%BC%E3%82%B8", "<p>japanese</p>"),
            ] {
                let response = try RawClient.get(target, port: server.port)
                #expect(response.status == 200, "\(target): \(response.statusLine)")
                #expect(response.text == body, "\(target)")
            }
            // Raw bytes >= 0x80 are not valid in an HTTP/1.1 request-target (RFC 9112); devserve's
            // parser refuses them with 400 before the responder sees the request.
            let raw = try RawClient.get("/é.txt", port: server.port)
            #expect(raw.status == 400)
        }
    }

    @Test func rootListingAndNestedListingLinkUpwards() async throws {
        let tree = try TempTree()
        try tree.write("sub/file.txt", "x")
        try await TestServer.with(root: tree.path) { server in
            let root = try RawClient.get("/", port: server.port)
            #expect(root.status == 200)
            #expect(Self.links(in: root.text).map(\.text) == ["sub/"])
            let sub = try RawClient.get("/sub/", port: server.port)
            #expect(Self.links(in: sub.text).map(\.text) == ["../", "file.txt"])
        }
    }

    // MARK: Clean URLs and SPA

    @Test func cleanURLServesTheHTMLFile() async throws {
        let tree = try TempTree()
        try tree.write("about.html", "<h1>about</h1>")
        try tree.write("blog/post.html", "<h1>post</h1>")
        try await TestServer.with(root: tree.path) { server in
            let about = try RawClient.get("/about", port: server.port)
            #expect(about.status == 200)
            #expect(about.text == "<h1>about</h1>")
            #expect(about.header("content-type") == "text/html; charset=utf-8")
            #expect(try RawClient.get("/about?ref=nav", port: server.port).text == "<h1>about</h1>")
            #expect(try RawClient.get("/blog/post", port: server.port).text == "<h1>post</h1>")
            #expect(try RawClient.get("/about.html", port: server.port).text == "<h1>about</h1>")
            #expect(try RawClient.get("/nothing", port: server.port).status == 404)
        }
    }

    @Test func spaFallbackServesIndexOnlyToHTMLNavigations() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<div id=app></div>")
        try tree.write("about.html", "<h1>about</h1>")
        let accept = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        try await TestServer.with(root: tree.path, configure: { $0.spa = true }) { server in
            let route = try RawClient.get("/app/route", port: server.port, headers: [accept])
            #expect(route.status == 200)
            #expect(route.text == "<div id=app></div>")
            #expect(route.header("content-type") == "text/html; charset=utf-8")
            #expect(try RawClient.get("/app/route", port: server.port).status == 404)
            #expect(
                try RawClient.get("/app/route", port: server.port, headers: ["Accept: application/json"]).status == 404)
            #expect(try RawClient.get("/missing.js", port: server.port, headers: [accept]).status == 404)
            #expect(try RawClient.get("/missing.js", port: server.port).status == 404)
            // Real files and clean URLs still win over the fallback.
            #expect(try RawClient.get("/about", port: server.port, headers: [accept]).text == "<h1>about</h1>")
        }
        try await TestServer.with(root: tree.path) { server in
            // Without --spa there is no fallback.
            let route = try RawClient.get("/app/route", port: server.port, headers: [accept])
            #expect(route.status == 404)
        }
    }

    // MARK: Types and lengths

    @Test func mediaTypesCarryCharsetForText() async throws {
        let tree = try TempTree()
        let cases: [(name: String, type: String)] = [
            ("page.html", "text/html; charset=utf-8"),
            ("site.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            ("logo.svg", "image/svg+xml; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("photo.png", "image/png"),
            ("font.woff2", "font/woff2"),
            ("blob.unknownext", "application/octet-stream"),
            ("noextension", "application/octet-stream"),
        ]
        for item in cases { try tree.write(item.name, "x") }
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for item in cases {
                try client.request("GET", "/" + item.name)
                let response = try client.readResponse()
                #expect(response.status == 200, "\(item.name)")
                #expect(response.header("content-type") == item.type, "\(item.name)")
                #expect(response.headers("content-type").count == 1)
                #expect(response.header("x-content-type-options") == "nosniff")
            }
        }
    }

    /// Sizes around the in-memory cache limit (128 KiB): at and below it the bytes come from
    /// memory, above it from sendfile.
    @Test func contentLengthIsExactAndBytesMatchForEverySize() async throws {
        let tree = try TempTree()
        let sizes = [0, 1, 4096, 128 * 1024 - 1, 128 * 1024, 128 * 1024 + 1, 300_000, 1_500_000]
        for size in sizes { try tree.write("file-\(size).bin", bytes: patternBytes(size, seed: UInt64(size) + 7)) }
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for _ in 0..<2 {  // the second round is served from the cache where it applies
                for size in sizes {
                    try client.request("GET", "/file-\(size).bin")
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.header("content-length") == String(size), "size \(size)")
                    #expect(response.body == patternBytes(size, seed: UInt64(size) + 7), "size \(size)")
                    try client.request("HEAD", "/file-\(size).bin")
                    let head = try client.readResponse(bodyExpected: false)
                    #expect(head.header("content-length") == String(size), "HEAD size \(size)")
                }
            }
        }
    }

    // MARK: Validators

    @Test(arguments: [100, 200_000])
    func etagAndLastModifiedGive304(size: Int) async throws {
        let tree = try TempTree()
        try tree.write("file.bin", bytes: patternBytes(size))
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/file.bin")
            let first = try client.readResponse()
            let etag = try #require(first.header("etag"))
            let lastModified = try #require(first.header("last-modified"))
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count > 2)
            #expect(HTTPDate.parse(lastModified) != nil, "\(lastModified)")
            #expect(first.header("accept-ranges") == "bytes")

            let notModified: [[String]] = [
                ["If-None-Match: \(etag)"],
                ["If-None-Match: \"nope\", \(etag), \"other\""],
                ["If-None-Match: \"nope\",\(etag)"],
                ["If-None-Match: W/\(etag)"],
                ["If-None-Match: *"],
                ["If-Modified-Since: \(lastModified)"],
                ["If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"],
            ]
            for headers in notModified {
                try client.request("GET", "/file.bin", headers: headers)
                let response = try client.readResponse()
                #expect(response.status == 304, "\(headers)")
                #expect(response.body.isEmpty)
                #expect(response.header("etag") == etag, "\(headers)")
                #expect(response.header("cache-control") == "no-cache")
                try client.request("HEAD", "/file.bin", headers: headers)
                #expect(try client.readResponse(bodyExpected: false).status == 304, "HEAD \(headers)")
            }
            let modified: [[String]] = [
                ["If-None-Match: \"nope\""],
                ["If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"],
                // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
                ["If-None-Match: \"nope\"", "If-Modified-Since: \(lastModified)"],
                ["If-Modified-Since: not a date"],
            ]
            for headers in modified {
                try client.request("GET", "/file.bin", headers: headers)
                let response = try client.readResponse()
                #expect(response.status == 200, "\(headers)")
                #expect(response.body == patternBytes(size), "\(headers)")
            }
        }
    }

    @Test(arguments: [(100, 150), (200_000, 250_000), (200_000, 1_000), (1_000, 200_000)])
    func changedFileIsServedFreshWithANewETag(sizes: (before: Int, after: Int)) async throws {
        let tree = try TempTree()
        let before = patternBytes(sizes.before, seed: 1)
        let after = patternBytes(sizes.after, seed: 2)
        try tree.write("file.bin", bytes: before)
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/file.bin")
            let first = try client.readResponse()
            #expect(first.body == before)
            let oldTag = try #require(first.header("etag"))
            try client.request("GET", "/file.bin")
            #expect(try client.readResponse().body == before)  // now cached when small

            try tree.overwriteInPlace("file.bin", after)
            try client.request("GET", "/file.bin", headers: ["If-None-Match: \(oldTag)"])
            let second = try client.readResponse()
            #expect(second.status == 200)
            #expect(second.header("content-length") == String(sizes.after))
            #expect(second.body == after)
            #expect(second.header("etag") != oldTag)
        }
    }

    /// The same size, rewritten right after a request: only the modification time (nanoseconds)
    /// differs, and the cache must notice.
    @Test func sameSizeRewriteRightAfterARequestIsNeverStale() async throws {
        let tree = try TempTree()
        try tree.write("app.js", "let v = 000;")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            var tags: Set<String> = []
            for round in 0..<30 {
                let text = "let v = " + String(format: "%03d", round) + ";"
                try tree.overwriteInPlace("app.js", text)
                try client.request("GET", "/app.js")
                let response = try client.readResponse()
                #expect(response.text == text, "round \(round)")
                try client.request("GET", "/app.js")
                #expect(try client.readResponse().text == text, "round \(round), again")
                if let tag = response.header("etag") { tags.insert(tag) }
            }
            #expect(tags.count == 30, "every version needs its own ETag")
        }
    }

    // MARK: Ranges

    @Test(arguments: [100, 200_000])
    func singleRangesGet206WithExactBytes(size: Int) async throws {
        let tree = try TempTree()
        let bytes = patternBytes(size)
        try tree.write("file.bin", bytes: bytes)
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            let cases: [(header: String, first: Int, last: Int)] = [
                ("bytes=0-9", 0, 9),
                ("bytes=-5", size - 5, size - 1),
                ("bytes=10-", 10, size - 1),
                ("bytes=\(size - 3)-\(size + 50)", size - 3, size - 1),
                ("bytes=0-0", 0, 0),
                ("bytes=-\(size + 10)", 0, size - 1),
                ("bytes=50-59", 50, 59),
            ]
            for _ in 0..<2 {  // first from disk, then (small file) from the cache
                for item in cases {
                    try client.request("GET", "/file.bin", headers: ["Range: \(item.header)"])
                    let response = try client.readResponse()
                    #expect(response.status == 206, "\(item.header)")
                    #expect(
                        response.header("content-range") == "bytes \(item.first)-\(item.last)/\(size)", "\(item.header)"
                    )
                    #expect(response.header("content-length") == String(item.last - item.first + 1), "\(item.header)")
                    #expect(Array(response.body) == Array(bytes[item.first...item.last]), "\(item.header)")
                    #expect(response.header("cache-control") == "no-cache")
                }
            }
            // HEAD with a range describes the part without sending it.
            try client.request("HEAD", "/file.bin", headers: ["Range: bytes=0-9"])
            let head = try client.readResponse(bodyExpected: false)
            #expect(head.status == 206)
            #expect(head.header("content-length") == "10")
            try client.request("GET", "/file.bin", headers: ["Range: bytes=1-2"])
            #expect(try client.readResponse().body == Array(bytes[1...2]))
        }
    }

    @Test(arguments: [100, 200_000])
    func unsatisfiableRangeGets416WithSize(size: Int) async throws {
        let tree = try TempTree()
        try tree.write("file.bin", bytes: patternBytes(size))
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for header in ["bytes=\(size)-", "bytes=\(size + 100)-\(size + 200)", "bytes=-0"] {
                try client.request("GET", "/file.bin", headers: ["Range: \(header)"])
                let response = try client.readResponse()
                #expect(response.status == 416, "\(header)")
                #expect(response.header("content-range") == "bytes */\(size)", "\(header)")
                #expect(response.header("cache-control") == "no-cache")
            }
            // The connection is still fine afterwards.
            try client.request("GET", "/file.bin", headers: ["Range: bytes=0-1"])
            #expect(try client.readResponse().status == 206)
        }
    }

    @Test func rangeOnAnEmptyFileIsUnsatisfiable() async throws {
        let tree = try TempTree()
        try tree.write("empty.txt", "")
        try await TestServer.with(root: tree.path) { server in
            let response = try RawClient.get("/empty.txt", port: server.port, headers: ["Range: bytes=0-"])
            #expect(response.status == 416)
            #expect(response.header("content-range") == "bytes */0")
        }
    }

    @Test(arguments: [100, 200_000])
    func severalOverlappingOrTooManyRangesGetTheWholeFile(size: Int) async throws {
        let tree = try TempTree()
        let bytes = patternBytes(size)
        try tree.write("file.bin", bytes: bytes)
        let nine = (0..<9).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for header in [
                "bytes=0-1,5-6", "bytes=0-5,3-8", "bytes=0-9,0-9", "bytes=" + nine, "bytes=x-y", "items=0-5",
            ] {
                try client.request("GET", "/file.bin", headers: ["Range: \(header)"])
                let response = try client.readResponse()
                #expect(response.status == 200, "\(header)")
                #expect(response.header("content-range") == nil, "\(header)")
                #expect(response.header("content-length") == String(size), "\(header)")
                #expect(response.body == bytes, "\(header)")
            }
        }
    }

    @Test(arguments: [100, 200_000])
    func ifRangeHonoursOnlyTheCurrentValidator(size: Int) async throws {
        let tree = try TempTree()
        let bytes = patternBytes(size)
        try tree.write("file.bin", bytes: bytes)
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/file.bin")
            let first = try client.readResponse()
            let etag = try #require(first.header("etag"))
            let lastModified = try #require(first.header("last-modified"))

            for ifRange in [etag, lastModified] {
                try client.request("GET", "/file.bin", headers: ["Range: bytes=0-9", "If-Range: \(ifRange)"])
                let partial = try client.readResponse()
                #expect(partial.status == 206, "If-Range: \(ifRange)")
                #expect(partial.body == Array(bytes[0...9]))
            }
            for ifRange in ["\"stale-etag\"", "W/\(etag)", "Thu, 01 Jan 1970 00:00:00 GMT"] {
                try client.request("GET", "/file.bin", headers: ["Range: bytes=0-9", "If-Range: \(ifRange)"])
                let whole = try client.readResponse()
                #expect(whole.status == 200, "If-Range: \(ifRange)")
                #expect(whole.body == bytes, "If-Range: \(ifRange)")
            }
        }
    }

    // MARK: Headers on every response

    @Test func cacheControlNoCacheOnEveryResponse() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try tree.write("file.txt", "0123456789")
        try tree.write("big.bin", bytes: patternBytes(200_000))
        try tree.write("folder/inner.txt", "x")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            let etag = try #require(try RawClient.get("/file.txt", port: port).header("etag"))
            let responses: [(String, RawResponse)] = [
                ("200", try RawClient.get("/", port: port)),
                ("200 big", try RawClient.get("/big.bin", port: port)),
                ("200 listing", try RawClient.get("/folder/", port: port)),
                ("206", try RawClient.get("/file.txt", port: port, headers: ["Range: bytes=0-1"])),
                ("304", try RawClient.get("/file.txt", port: port, headers: ["If-None-Match: \(etag)"])),
                ("301", try RawClient.get("/folder", port: port)),
                ("404", try RawClient.get("/missing", port: port)),
                ("404 dotfile", try RawClient.get("/.env", port: port)),
                ("405", try RawClient.get("/", port: port, method: "DELETE")),
                ("204", try RawClient.get("/", port: port, method: "OPTIONS")),
                ("416", try RawClient.get("/file.txt", port: port, headers: ["Range: bytes=99-"])),
                ("400 target", try RawClient.get("/%00", port: port)),
                ("400 host", try RawClient.get("/", port: port, hostHeader: nil)),
                ("403 host", try RawClient.get("/", port: port, hostHeader: "evil.example")),
                ("HEAD", try RawClient.get("/", port: port, method: "HEAD")),
            ]
            for (name, response) in responses {
                #expect(response.header("cache-control") == "no-cache", "\(name): \(response.statusLine)")
                #expect(response.headers("cache-control").count == 1, "\(name)")
            }
            // Refusals written below the HTTP layer carry it too.
            let tooBig = try RawClient(port: port)
            try tooBig.send(
                "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
            let refused = try tooBig.readResponse()
            #expect(refused.status == 431)
            #expect(refused.header("cache-control") == "no-cache")
            let garbage = try RawClient(port: port)
            try garbage.send("GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n")
            let unparseable = try garbage.readResponse()
            #expect(unparseable.status == 400)
            #expect(unparseable.header("cache-control") == "no-cache")
        }
    }

    @Test func extraHeadersAreOnEveryResponse() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try tree.write("big.bin", bytes: patternBytes(200_000))
        try tree.mkdir("folder")
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.extraHeaders = [(name: "X-Frame-Options", value: "DENY"), (name: "X-Team", value: "front end")]
            }
        ) { server in
            let port = server.port
            let etag = try #require(try RawClient.get("/", port: port).header("etag"))
            let responses: [(String, RawResponse)] = [
                ("200", try RawClient.get("/", port: port)),
                ("200 big", try RawClient.get("/big.bin", port: port)),
                ("HEAD", try RawClient.get("/big.bin", port: port, method: "HEAD")),
                ("206", try RawClient.get("/big.bin", port: port, headers: ["Range: bytes=0-3"])),
                ("304", try RawClient.get("/", port: port, headers: ["If-None-Match: \(etag)"])),
                ("301", try RawClient.get("/folder", port: port)),
                ("listing", try RawClient.get("/folder/", port: port)),
                ("404", try RawClient.get("/missing", port: port)),
                ("405", try RawClient.get("/", port: port, method: "POST")),
                ("204", try RawClient.get("/", port: port, method: "OPTIONS")),
                ("400", try RawClient.get("/a%5cb", port: port)),
                ("403", try RawClient.get("/", port: port, hostHeader: "evil.example")),
                ("416", try RawClient.get("/", port: port, headers: ["Range: bytes=999-"])),
            ]
            for (name, response) in responses {
                #expect(response.header("x-frame-options") == "DENY", "\(name)")
                #expect(response.header("x-team") == "front end", "\(name)")
            }
        }
    }

    // MARK: Connections

    @Test func keepAliveServesManyRequestsOnOneConnection() async throws {
        let tree = try TempTree()
        try tree.write("a.txt", "alpha")
        try tree.write("b.txt", "beta")
        try tree.write("big.bin", bytes: patternBytes(300_000))
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for round in 0..<3 {
                try client.request("GET", "/a.txt")
                let a = try client.readResponse()
                #expect(a.text == "alpha", "round \(round)")
                #expect(a.header("connection") == nil || a.header("connection")?.lowercased() == "keep-alive")
                try client.request("GET", "/big.bin")
                #expect(try client.readResponse().body == patternBytes(300_000))
                try client.request("GET", "/missing")
                #expect(try client.readResponse().status == 404)
                try client.request("HEAD", "/b.txt")
                #expect(try client.readResponse(bodyExpected: false).header("content-length") == "4")
                try client.request("GET", "/b.txt")
                #expect(try client.readResponse().text == "beta")
            }
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let tree = try TempTree()
        try tree.write("a.txt", "alpha")
        try tree.write("b.txt", "beta")
        try tree.write("big.bin", bytes: patternBytes(300_000))
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            let host = "Host: localhost\r\n"
            try client.send(
                "GET /a.txt HTTP/1.1\r\n\(host)\r\n" + "GET /big.bin HTTP/1.1\r\n\(host)\r\n"
                    + "HEAD /b.txt HTTP/1.1\r\n\(host)\r\n" + "GET /missing HTTP/1.1\r\n\(host)\r\n"
                    + "GET /b.txt HTTP/1.1\r\n\(host)\r\n" + "GET /a.txt HTTP/1.1\r\n\(host)Range: bytes=1-2\r\n\r\n")
            #expect(try client.readResponse().text == "alpha")
            #expect(try client.readResponse().body == patternBytes(300_000))
            let head = try client.readResponse(bodyExpected: false)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "4")
            #expect(try client.readResponse().status == 404)
            #expect(try client.readResponse().text == "beta")
            let range = try client.readResponse()
            #expect(range.status == 206)
            #expect(range.text == "lp")
        }
    }

    @Test func connectionCloseClosesAfterTheResponse() async throws {
        let tree = try TempTree()
        try tree.write("a.txt", "alpha")
        try tree.write("big.bin", bytes: patternBytes(200_000))
        try await TestServer.with(root: tree.path) { server in
            for target in ["/a.txt", "/big.bin", "/missing"] {
                let client = try RawClient(port: server.port)
                try client.request("GET", target, headers: ["Connection: close"])
                let response = try client.readResponse()
                #expect(response.header("connection")?.lowercased() == "close", "\(target)")
                #expect(client.isClosedByPeer(), "\(target)")
            }
        }
    }

    @Test func http10WithoutHostIsServedAndClosed() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<h1>old</h1>")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET / HTTP/1.0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "<h1>old</h1>")
            #expect(client.isClosedByPeer())

            // HTTP/1.0 asking for keep-alive may keep the connection.
            let keepAlive = try RawClient(port: server.port)
            try keepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let first = try keepAlive.readResponse()
            #expect(first.status == 200)
            #expect(first.header("connection")?.lowercased() == "keep-alive")
            try keepAlive.send("GET / HTTP/1.0\r\n\r\n")
            #expect(try keepAlive.readResponse().text == "<h1>old</h1>")
        }
    }

    // MARK: Custom 404

    @Test func custom404PageIsServedWithStatus404() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try tree.write("404.html", "<h1>custom not found</h1>")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            for target in ["/missing", "/deep/missing.js", "/.env"] {
                try client.request("GET", target)
                let response = try client.readResponse()
                #expect(response.status == 404, "\(target)")
                #expect(response.text == "<h1>custom not found</h1>", "\(target)")
                #expect(response.header("content-type") == "text/html; charset=utf-8")
                #expect(response.header("cache-control") == "no-cache")
            }
            // Conditional headers do not turn a 404 into a 304.
            try client.request("GET", "/missing", headers: ["If-None-Match: *"])
            #expect(try client.readResponse().status == 404)
            try client.request("HEAD", "/missing")
            let head = try client.readResponse(bodyExpected: false)
            #expect(head.status == 404)
            #expect(head.header("content-length") == "25")
            try client.request("GET", "/")
            #expect(try client.readResponse().text == "home")
        }
    }

    /// A 404.html that may not be served itself (a link into a hidden build folder, as in
    /// `.output/public/404.html` layouts) answers with the built-in page; it used to ask for
    /// itself again until the stack overflowed and the server died.
    @Test func aCustom404ThatMayNotBeServedFallsBackToTheBuiltInPage() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "home")
        try tree.write(".output/404.html", "<h1>hidden</h1>")
        try tree.symlink("404.html", to: ".output/404.html")
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/favicon.ico")
            let missing = try client.readResponse()
            #expect(missing.status == 404)
            #expect(missing.text.contains("nothing is served at this path"), "\(missing.text)")
            #expect(!missing.text.contains("hidden"))
            try client.request("GET", "/404.html")
            #expect(try client.readResponse().status == 404)
            try client.request("GET", "/")
            #expect(try client.readResponse().text == "home", "the server is still up")
        }
    }

    /// A large file cut short while a slow client downloads it (rebuilt in place, `cp` over it):
    /// sendfile can never reach the promised length. The connection ends (the client sees a short
    /// body) instead of hanging while the server retries at full CPU.
    @Test func aFileCutShortDuringADownloadEndsTheConnection() async throws {
        let tree = try TempTree()
        let path = try tree.write("big.bin", Data(repeating: 0x61, count: 32 * 1024 * 1024))
        try await TestServer.with(root: tree.path) { server in
            let client = try RawClient(port: server.port, timeoutSeconds: 5)
            try client.request("GET", "/big.bin")
            try client.readMore()  // the download has started; the rest waits in the socket buffers
            #expect(truncate(path, 0) == 0)
            #expect(client.isClosedByPeer(), "the download hung after the file was cut short")
        }
    }

    /// If-Match and If-Unmodified-Since hold for pages that get the reload script too.
    @Test func preconditionsFailOnInjectedPagesToo() async throws {
        let tree = try TempTree()
        try tree.write("page.html", "<!doctype html><html><head><title>t</title></head><body>hi</body></html>")
        try await TestServer.with(root: tree.path, configure: { $0.changeHub = ChangeHub(boot: "b") }) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/page.html")
            let page = try client.readResponse()
            #expect(page.text.contains("/__devserve/client.js"), "the page is injected")
            let etag = try #require(page.header("etag"))
            for condition in ["If-Match: \"x\"", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT"] {
                try client.request("GET", "/page.html", headers: [condition])
                #expect(try client.readResponse().status == 412, "\(condition)")
            }
            try client.request("GET", "/page.html", headers: ["If-Match: \(etag)"])
            #expect(try client.readResponse().status == 200)
        }
    }

    // MARK: CORS

    @Test func noCORSHeadersByDefault() async throws {
        let tree = try TempTree()
        try tree.write("data.json", "{}")
        try await TestServer.with(root: tree.path) { server in
            let get = try RawClient.get("/data.json", port: server.port, headers: ["Origin: http://localhost:3000"])
            #expect(get.status == 200)
            let preflight = try RawClient.get(
                "/data.json", port: server.port, method: "OPTIONS",
                headers: ["Origin: http://localhost:3000", "Access-Control-Request-Method: GET"])
            for response in [get, preflight] {
                #expect(response.headers.allSatisfy { !$0.0.lowercased().hasPrefix("access-control-") })
            }
        }
    }

    @Test func corsOriginGetsHeadersOthersDoNot() async throws {
        let tree = try TempTree()
        try tree.write("data.json", "{}")
        let allowed = "http://localhost:3000"
        try await TestServer.with(
            root: tree.path, configure: { $0.policy = RequestPolicy(corsOrigins: [allowed]) }
        ) { server in
            let get = try RawClient.get("/data.json", port: server.port, headers: ["Origin: \(allowed)"])
            #expect(get.status == 200)
            #expect(get.header("access-control-allow-origin") == allowed)
            #expect(get.header("vary")?.contains("Origin") == true)

            let notFound = try RawClient.get("/missing.json", port: server.port, headers: ["Origin: \(allowed)"])
            #expect(notFound.header("access-control-allow-origin") == allowed)

            let preflight = try RawClient.get(
                "/data.json", port: server.port, method: "OPTIONS",
                headers: [
                    "Origin: \(allowed)", "Access-Control-Request-Method: GET",
                    "Access-Control-Request-Headers: x-requested-with",
                ])
            #expect(preflight.status == 204)
            #expect(preflight.header("access-control-allow-origin") == allowed)
            #expect(preflight.header("access-control-allow-methods")?.contains("GET") == true)
            #expect(preflight.header("access-control-allow-headers") == "x-requested-with")

            for other in ["http://localhost:3001", "http://evil.example", "null"] {
                let foreign = try RawClient.get("/data.json", port: server.port, headers: ["Origin: \(other)"])
                #expect(foreign.status == 200, "\(other)")
                #expect(foreign.headers.allSatisfy { !$0.0.lowercased().hasPrefix("access-control-") }, "\(other)")
                let foreignPreflight = try RawClient.get(
                    "/data.json", port: server.port, method: "OPTIONS",
                    headers: ["Origin: \(other)", "Access-Control-Request-Method: GET"])
                #expect(
                    foreignPreflight.headers.allSatisfy { !$0.0.lowercased().hasPrefix("access-control-") }, "\(other)")
            }
            let noOrigin = try RawClient.get("/data.json", port: server.port)
            #expect(noOrigin.header("access-control-allow-origin") == nil)
        }
    }

    // MARK: Helpers

    struct Link: Equatable {
        var href: String
        var text: String
    }

    /// `<a href="H">T</a>` pairs, in document order.
    static func links(in html: String) -> [Link] {
        var links: [Link] = []
        var rest = html[...]
        while let open = rest.range(of: "<a href=\"") {
            rest = rest[open.upperBound...]
            guard let hrefEnd = rest.firstIndex(of: "\"") else { break }
            let href = String(rest[..<hrefEnd])
            rest = rest[hrefEnd...]
            guard let textStart = rest.firstIndex(of: ">"), let close = rest.range(of: "</a>") else { break }
            links.append(Link(href: href, text: String(rest[rest.index(after: textStart)..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return links
    }

    static func unescapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
