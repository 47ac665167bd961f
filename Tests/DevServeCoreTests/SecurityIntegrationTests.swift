import Foundation
import Testing

@testable import DevServeServer
@testable import DevServeSite

/// README.md "Security defaults", checked over real sockets: who may ask (Host, Origin,
/// Sec-Fetch), which targets are refused, what never leaves the root, and the limits that keep a
/// misbehaving client from holding the server (head size, head and idle timeouts, connection cap).
@Suite struct SecurityIntegrationTests {
    // MARK: Listening

    @Test func servesOnBothLoopbackFamilies() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<h1>both</h1>")
        try await TestServer.with(root: tree.path, hosts: ["127.0.0.1", "::1"]) { server in
            #expect(server.server.boundAddresses.count == 2)
            let v4 = try RawClient.get(
                "/", port: server.port, host: "127.0.0.1", hostHeader: "127.0.0.1:\(server.port)")
            #expect(v4.status == 200)
            #expect(v4.text == "<h1>both</h1>")
            let v6 = try RawClient.get("/", port: server.port, host: "::1", hostHeader: "[::1]:\(server.port)")
            #expect(v6.status == 200)
            #expect(v6.text == "<h1>both</h1>")
            let v6Named = try RawClient.get("/", port: server.port, host: "::1", hostHeader: "localhost:\(server.port)")
            #expect(v6Named.status == 200)
        }
    }

    // MARK: Host, Origin, Sec-Fetch

    @Test func hostAllowList() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            let allowed = [
                "localhost", "localhost:\(port)", "LOCALHOST:\(port)", "localhost.", "127.0.0.1:\(port)",
                "127.0.0.1", "[::1]:\(port)", "[::1]", "app.localhost", "app.localhost:\(port)",
                "deep.app.localhost",
            ]
            for host in allowed {
                let response = try RawClient.get("/", port: port, hostHeader: host)
                #expect(response.status == 200, "Host: \(host)")
                #expect(response.text == "ok", "Host: \(host)")
            }
            let refused = [
                "evil.example", "evil.example:\(port)", "localhost.evil.example", "127.0.0.1.evil.example",
                "notlocalhost", "myapp.test",
            ]
            for host in refused {
                let response = try RawClient.get("/", port: port, hostHeader: host)
                #expect(response.status == 403, "Host: \(host)")
                #expect(response.text != "ok", "Host: \(host)")
            }
        }
    }

    @Test func allowHostAddsNames() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(
            root: tree.path, configure: { $0.policy = RequestPolicy(allowedHosts: ["myapp.test", "*.preview.test"]) }
        ) { server in
            let port = server.port
            for host in ["myapp.test", "myapp.test:\(port)", "MyApp.Test", "pr-1.preview.test", "localhost"] {
                let response = try RawClient.get("/", port: port, hostHeader: host)
                #expect(response.status == 200, "Host: \(host)")
            }
            for host in ["evil.example", "other.test", "myapp.test.evil.example", "preview.test.evil"] {
                let response = try RawClient.get("/", port: port, hostHeader: host)
                #expect(response.status == 403, "Host: \(host)")
            }
        }
    }

    @Test func missingOrDuplicateHostOnHTTP11Is400() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            #expect(try RawClient.get("/", port: server.port, hostHeader: nil).status == 400)
            let client = try RawClient(port: server.port)
            try client.send("GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n")
            #expect(try client.readResponse().status == 400)
            // HTTP/1.0 with a foreign Host is still refused.
            let old = try RawClient(port: server.port)
            try old.send("GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n")
            #expect(try old.readResponse().status == 403)
        }
    }

    @Test func malformedHostIs400AndTheServerKeepsServing() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            let malformed = [
                "a b", "[::1", "x:99999", "localhost:", ":80", "localhost:80:80", "[::1]x", "[not-ipv6]:80",
                "local/host", "user@localhost", "localhost:-1", "localhost:8o",
                String(repeating: "a", count: 300) + ".localhost",
            ]
            let client = try RawClient(port: port)
            for host in malformed {
                let response = try RawClient.get("/", port: port, hostHeader: host)
                #expect(response.status == 400, "Host: \(host)")
                // The same keep-alive connection survives a refusal too.
                try client.request("GET", "/", host: host)
                #expect(try client.readResponse().status == 400, "Host: \(host) (keep-alive)")
            }
            // Empty Host value.
            let empty = try RawClient(port: port)
            try empty.send("GET / HTTP/1.1\r\nHost:\r\n\r\n")
            #expect(try empty.readResponse().status == 400)

            try client.request("GET", "/")
            #expect(try client.readResponse().text == "ok")
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    @Test func malformedOriginIs400() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            for origin in [
                "not a url", "http://", "http://a b", "http://[::1", "http://localhost:99999", "://x",
                "http://localhost/path", "http://user@localhost",
            ] {
                let response = try RawClient.get("/", port: port, headers: ["Origin: \(origin)"])
                #expect(response.status == 400, "Origin: \(origin)")
            }
            for origin in ["null", "http://localhost:\(port)", "https://example.com"] {
                let response = try RawClient.get("/", port: port, headers: ["Origin: \(origin)"])
                #expect(response.status == 200, "Origin: \(origin)")
            }
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    @Test func internalEndpointsAnswerSameOriginOnly() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            let host = "localhost:\(port)"
            let refused: [[String]] = [
                ["Sec-Fetch-Site: cross-site"],
                ["Sec-Fetch-Site: Cross-Site"],
                ["Origin: http://evil.example"],
                ["Origin: http://localhost:\(port + 1)"],
                ["Origin: https://localhost:\(port)"],
                ["Origin: null"],
                ["Sec-Fetch-Site: same-origin", "Origin: http://evil.example"],
            ]
            for headers in refused {
                let response = try RawClient.get("/__devserve/anything", port: port, headers: headers, hostHeader: host)
                #expect(response.status == 403, "\(headers)")
                #expect(response.header("access-control-allow-origin") == nil)
            }
            let sameOrigin: [[String]] = [
                [],
                ["Origin: http://localhost:\(port)"],
                ["Sec-Fetch-Site: same-origin", "Origin: http://localhost:\(port)"],
            ]
            for headers in sameOrigin {
                let response = try RawClient.get("/__devserve/anything", port: port, headers: headers, hostHeader: host)
                #expect(response.status == 404, "\(headers)")
            }
        }
    }

    @Test func crossSiteSubresourceLoadsAreRefused() async throws {
        let tree = try TempTree()
        try tree.write("app.js", "secret = 1")
        try tree.write("site.css", ":root { --secret: 42 }")
        try tree.write("index.html", "<title>Home</title>")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            for dest in RequestPolicyTests.subresourceDests {
                for path in ["/app.js", "/site.css"] {
                    let refused = try RawClient.get(
                        path, port: port, headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: \(dest)"])
                    #expect(refused.status == 403, "\(dest) \(path)")
                    #expect(!refused.text.contains("secret"), "\(dest) \(path)")
                }
            }
            let allowed: [[String]] = [
                ["Sec-Fetch-Site: same-site", "Sec-Fetch-Dest: style"],
                ["Sec-Fetch-Site: same-origin", "Sec-Fetch-Dest: script"],
                ["Sec-Fetch-Site: none", "Sec-Fetch-Dest: document"],
                ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: document"],
                ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: iframe"],
                [],
            ]
            for headers in allowed {
                let response = try RawClient.get("/site.css", port: port, headers: headers)
                #expect(response.status == 200, "\(headers)")
                #expect(response.text.contains("--secret"))
                // Browsers without Fetch Metadata are held to the same rule by this header.
                #expect(response.header("Cross-Origin-Resource-Policy") == "same-site", "\(headers)")
            }
            let page = try RawClient.get(
                "/", port: port, headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: document"])
            #expect(page.status == 200 && page.header("Cross-Origin-Resource-Policy") == "same-site")
            let refused = try RawClient.get(
                "/app.js", port: port, headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: style"])
            #expect(refused.header("Cross-Origin-Resource-Policy") == "same-site")
        }
        // With --cors, an allowed page may load them, and its answers say cross-origin; the same
        // cached file still says same-site to everyone else.
        try await TestServer.with(
            root: tree.path, configure: { $0.policy = RequestPolicy(corsOrigins: ["http://localhost:3000"]) }
        ) { server in
            let port = server.port
            for _ in 0..<2 {
                let plain = try RawClient.get("/site.css", port: port)
                #expect(plain.header("Cross-Origin-Resource-Policy") == "same-site")
                let fromAllowed = try RawClient.get(
                    "/site.css", port: port,
                    headers: [
                        "Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: style", "Referer: http://localhost:3000/page",
                    ])
                #expect(fromAllowed.status == 200)
                #expect(fromAllowed.header("Cross-Origin-Resource-Policy") == "cross-origin")
                #expect(fromAllowed.headers("Cross-Origin-Resource-Policy").count == 1)
                let byOrigin = try RawClient.get(
                    "/app.js", port: port,
                    headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: empty", "Origin: http://localhost:3000"])
                #expect(byOrigin.status == 200)
                #expect(byOrigin.header("Access-Control-Allow-Origin") == "http://localhost:3000")
                #expect(byOrigin.header("Cross-Origin-Resource-Policy") == "cross-origin")
                let fromOther = try RawClient.get(
                    "/site.css", port: port,
                    headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: style", "Referer: http://evil.example/"])
                #expect(fromOther.status == 403)
            }
        }
        try await TestServer.with(
            root: tree.path, configure: { $0.policy = RequestPolicy(corsOrigins: ["*"]) }
        ) { server in
            let any = try RawClient.get(
                "/site.css", port: server.port, headers: ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Dest: style"])
            #expect(any.status == 200 && any.header("Cross-Origin-Resource-Policy") == "cross-origin")
        }
    }

    // MARK: Paths

    @Test func rawTargetRulesOverTheWire() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try tree.write("a/b.txt", "b")
        try await TestServer.with(root: tree.path) { server in
            let targets = [
                "/%2e%2e/etc/passwd", "/%2E%2E/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "/..%2F..%2Fetc/passwd",
                "/a%5c..", "/a%5C..%5C..%5Cetc%5Cpasswd", "/%00", "/index.html%00.txt", "/index.html#frag", "/#",
                "/%c0%ae%c0%ae/", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/%e0%80%ae%e0%80%ae/", "/%ff",
                "/../etc/passwd", "/a/../../etc/passwd", "/%2", "/%zz", "/%01", "/%7f", "/a\\b.txt", "/..\\..\\etc",
                "/a%2fb.txt",
            ]
            let client = try RawClient(port: server.port)
            for target in targets {
                let response = try RawClient.get(target, port: server.port)
                #expect(response.status == 400, "\(target)")
                #expect(!response.text.contains("root:"), "\(target)")
                #expect(response.header("cache-control") == "no-cache")
                try client.request("GET", target)
                #expect(try client.readResponse().status == 400, "\(target) (keep-alive)")
            }
            // Raw bytes: a control character and invalid UTF-8 in the target.
            for raw: [UInt8] in [Array("/a".utf8) + [0x01], Array("/".utf8) + [0xC0, 0xAE, 0xC0, 0xAE], [0x2F, 0xFF]] {
                let socket = try RawClient(port: server.port)
                try socket.send(Array("GET ".utf8) + raw + Array(" HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
                #expect(try socket.readResponse().status == 400, "\(raw)")
            }
            // Dot segments that stay inside the root are resolved, not refused.
            #expect(try RawClient.get("/a/./b.txt", port: server.port).text == "b")
            #expect(try RawClient.get("/a/../a/b.txt", port: server.port).text == "b")
            #expect(try RawClient.get("//a//b.txt", port: server.port).text == "b")
            // Decoded once: a double-encoded dot is a literal name, never a parent.
            #expect(try RawClient.get("/a/%252e%252e/a/b.txt", port: server.port).status == 404)
            #expect(try RawClient.get("/", port: server.port).text == "ok")
        }
    }

    @Test func symlinksOutOfTheRootAreRefused() async throws {
        let outside = try TempTree()
        try outside.write("secret.txt", "TOP SECRET")
        try outside.write("dir/secret.txt", "TOP SECRET")
        try outside.write("big.bin", bytes: patternBytes(200_000))
        let tree = try TempTree()
        try tree.write("inside.txt", "inside")
        try tree.write(".env", "DOT SECRET")
        try tree.symlink("out.txt", to: outside.path + "/secret.txt")
        try tree.symlink("outbig.bin", to: outside.path + "/big.bin")
        try tree.symlink("outdir", to: outside.path + "/dir")
        try tree.symlink("relative.txt", to: "../" + (outside.path as NSString).lastPathComponent + "/secret.txt")
        try tree.symlink("link-inside.txt", to: tree.path + "/inside.txt")
        try tree.symlink("env-link.txt", to: tree.path + "/.env")
        try await TestServer.with(root: tree.path) { server in
            for target in ["/out.txt", "/outbig.bin", "/outdir/secret.txt", "/outdir/", "/relative.txt"] {
                for method in ["GET", "HEAD"] {
                    let response = try RawClient.get(target, port: server.port, method: method)
                    #expect(response.status == 403, "\(method) \(target)")
                    #expect(!response.text.contains("TOP SECRET"), "\(method) \(target)")
                }
            }
            // A folder link without the slash may be redirected (to the refused folder), never listed.
            let folder = try RawClient.get("/outdir", port: server.port)
            #expect(folder.status == 301 || folder.status == 403)
            #expect(!folder.text.contains("secret.txt"))
            let listing = try RawClient.get("/", port: server.port)
            #expect(!listing.text.contains("TOP SECRET"))
            let inside = try RawClient.get("/link-inside.txt", port: server.port)
            #expect(inside.status == 200)
            #expect(inside.text == "inside")
            // A link whose target is a dotfile is as hidden as the dotfile.
            let env = try RawClient.get("/env-link.txt", port: server.port)
            #expect(env.status == 404)
            #expect(!env.text.contains("DOT SECRET"))
        }
    }

    @Test func dotfilesAndProtectedFilesAreNeverServedNorListed() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try tree.write(".env", "DOT SECRET")
        try tree.write(".git/config", "DOT SECRET")
        try tree.write("sub/.secret", "DOT SECRET")
        try tree.write(".hidden/page.html", "DOT SECRET")
        try tree.write(".well-known/security.txt", "Contact: me")
        try tree.write("certs/localhost-key.pem", "KEY SECRET")
        try tree.write("certs/localhost.pem", "CERT")
        try tree.write("certs/README.md", "readme")
        let root = try TestServer.realPath(tree.path)
        try await TestServer.with(
            root: tree.path,
            configure: { $0.protectedPaths = [root + "/certs/localhost-key.pem", root + "/certs/localhost.pem"] }
        ) { server in
            let port = server.port
            for target in [
                "/.env", "/.git/config", "/.git/", "/.git", "/sub/.secret", "/.hidden/page.html", "/.hidden/page",
                "/%2eenv", "/%2Egit/config", "/.env/.", "/sub/.secret/", "/certs/localhost-key.pem",
                "/certs/localhost.pem", "/certs/./localhost-key.pem", "/sub/../certs/localhost-key.pem",
            ] {
                let response = try RawClient.get(target, port: port)
                #expect(response.status == 404, "\(target)")
                #expect(!response.text.contains("SECRET"), "\(target)")
            }
            let wellKnown = try RawClient.get("/.well-known/security.txt", port: port)
            #expect(wellKnown.status == 200)
            #expect(wellKnown.text == "Contact: me")

            let certs = try RawClient.get("/certs/", port: port)
            #expect(certs.status == 200)
            #expect(certs.text.contains("README.md"))
            #expect(!certs.text.contains("localhost-key.pem"))
            #expect(!certs.text.contains("localhost.pem"))
            let sub = try RawClient.get("/sub/", port: port)
            #expect(!sub.text.contains("secret"))
        }
    }

    // MARK: Head limits

    @Test func a40KBHeaderGets431AndTheConnectionCloses() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            try await offPool {
                let client = try TimedClient(port: port)
                try client.send(
                    "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
                let response = try client.readResponse(timeoutMilliseconds: 3000)
                #expect(response.status == 431)
                #expect(response.header("connection")?.lowercased() == "close")
                #expect(try client.waitForClose(timeoutMilliseconds: 3000))

                // Many small headers adding up past 16 KiB.
                let many = try TimedClient(port: port)
                let lines = (0..<200).map { "X-H\($0): \(String(repeating: "b", count: 100))\r\n" }.joined()
                try many.send("GET / HTTP/1.1\r\nHost: localhost\r\n\(lines)\r\n")
                #expect(try many.readResponse(timeoutMilliseconds: 3000).status == 431)
                #expect(try many.waitForClose(timeoutMilliseconds: 3000))

                // Just under the limit is fine.
                let fits = try TimedClient(port: port)
                try fits.send(
                    "GET / HTTP/1.1\r\nHost: localhost\r\nX-Ok: \(String(repeating: "c", count: 12_000))\r\n\r\n")
                #expect(try fits.readResponse(timeoutMilliseconds: 3000).status == 200)
            }
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    /// Reports what a 20 KB request line gets: a refusal (431 from the head limit, or 414), and a
    /// closed connection.
    @Test func aHugeRequestLineIsRefused() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            try await offPool {
                let client = try TimedClient(port: port)
                try client.send("GET /\(String(repeating: "a", count: 20_000)) HTTP/1.1\r\nHost: localhost\r\n\r\n")
                let response = try client.readResponse(timeoutMilliseconds: 3000)
                #expect(response.status == 431 || response.status == 414, "\(response.statusLine)")
                #expect(try client.waitForClose(timeoutMilliseconds: 3000))
            }
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    // MARK: Smuggling

    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0, 44\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    ])
    func ambiguousBodyFramingIs400AndTheSmuggledRequestIsNotAnswered(head: String) async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try tree.write("secret.txt", "SMUGGLED")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            try await offPool {
                let client = try TimedClient(port: port)
                try client.send(head + "0\r\n\r\nGET /secret.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                let response = try client.readResponse(timeoutMilliseconds: 3000)
                #expect(response.status == 400, "\(head.debugDescription) got \(response.statusLine)")
                #expect(try client.waitForClose(timeoutMilliseconds: 3000), "\(head.debugDescription)")
                #expect(!client.receivedText.contains("HTTP/1.1"), "\(head.debugDescription): \(client.receivedText)")
                #expect(!client.receivedText.contains("SMUGGLED"))
            }
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    /// A well-framed body that happens to contain a request is a body, not a second request.
    @Test func aRequestInsideABodyIsNotAnswered() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try tree.write("secret.txt", "SMUGGLED")
        let inner = "GET /secret.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            try await offPool {
                for head in [
                    "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(inner.utf8.count)\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(inner.utf8.count)\r\n\r\n",
                ] {
                    let client = try TimedClient(port: port)
                    try client.send(head + inner)
                    let response = try client.readResponse(timeoutMilliseconds: 3000)
                    #expect(response.status == 405 || response.status == 200)
                    #expect(try client.waitForClose(timeoutMilliseconds: 3000))
                    #expect(!client.receivedText.contains("HTTP/1.1"))
                    #expect(!client.receivedText.contains("SMUGGLED"))
                }
            }
        }
    }

    // MARK: Timeouts

    @Test func aSlowClientIsCutOffAfterTheHeadTimeoutWhileOthersAreServed() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path, configure: { $0.limits.headTimeout = .milliseconds(300) }) {
            server in
            let port = server.port
            try await offPool {
                let start = ContinuousClock.now
                let slow = try TimedClient(port: port)
                try slow.send("GET / HTTP/1.1\r\nHost: loc")
                let silent = try TimedClient(port: port)  // connects, sends nothing

                // Others are served meanwhile.
                for _ in 0..<3 {
                    let other = try TimedClient(port: port)
                    try other.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    #expect(try other.readResponse(timeoutMilliseconds: 1000).text == "ok")
                }
                // They were answered while the slow one was still hanging (when the machine is
                // not so loaded that the 300 ms passed meanwhile).
                if milliseconds(since: start) < 250 {
                    #expect(try !slow.receive(timeoutMilliseconds: 0), "cut off before the head timeout")
                }

                #expect(try slow.waitForClose(timeoutMilliseconds: 3000), "slow client never cut off")
                let elapsed = milliseconds(since: start)
                #expect(elapsed >= 250, "cut off after \(elapsed) ms, before the 300 ms head timeout")
                #expect(elapsed < 2000, "cut off after \(elapsed) ms")
                let text = slow.receivedText
                #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "a half-sent head is told why: \(text)")
                #expect(try silent.waitForClose(timeoutMilliseconds: 3000), "silent client never cut off")
            }
            #expect(try RawClient.get("/", port: port).text == "ok")
        }
    }

    /// The head timeout applies to every request on a keep-alive connection, not only the first:
    /// here the idle timeout (2 s) is longer than the head timeout (300 ms), as with the defaults
    /// (60 s and 10 s), and a half-sent second head must still be cut off after about 300 ms.
    @Test func theHeadTimeoutAppliesToLaterRequestsOnAKeepAliveConnection() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.limits.headTimeout = .milliseconds(300)
                $0.limits.idleTimeout = .seconds(2)
            }
        ) { server in
            let port = server.port
            try await offPool {
                let client = try TimedClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try client.readResponse(timeoutMilliseconds: 2000).text == "ok")
                // Past the first head deadline, still well inside the idle timeout.
                #expect(try client.staysSilent(forMilliseconds: 450))
                let start = ContinuousClock.now
                try client.send("GET / HTTP/1.1\r\nHost: loc")
                #expect(try client.waitForClose(timeoutMilliseconds: 3000), "never cut off")
                let elapsed = milliseconds(since: start)
                #expect(elapsed >= 250, "cut off after \(elapsed) ms, before the 300 ms head timeout")
                #expect(elapsed < 1000, "a half-sent second head was kept \(elapsed) ms (head timeout 300 ms)")
                let text = client.receivedText
                #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "a half-sent head is told why: \(text)")
            }
        }
    }

    /// Slowloris: a byte every 50 ms must not keep extending the deadline.
    @Test func tricklingAHeadDoesNotExtendTheHeadTimeout() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path, configure: { $0.limits.headTimeout = .milliseconds(300) }) {
            server in
            let port = server.port
            try await offPool {
                let start = ContinuousClock.now
                let client = try TimedClient(port: port)
                let head = Array("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + String(repeating: "s", count: 100))
                var cutOff = false
                for character in head {
                    do {
                        try client.send(String(character))
                    } catch {
                        cutOff = true
                        break
                    }
                    if try !client.staysSilent(forMilliseconds: 50) {
                        cutOff = true
                        break
                    }
                    if milliseconds(since: start) > 3000 { break }
                }
                if !cutOff { cutOff = try client.waitForClose(timeoutMilliseconds: 1000) }
                #expect(cutOff)
                #expect(
                    milliseconds(since: start) < 2000, "trickling kept the connection \(milliseconds(since: start)) ms")
            }
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.limits.idleTimeout = .milliseconds(400)
                $0.limits.headTimeout = .seconds(5)
            }
        ) { server in
            let port = server.port
            try await offPool {
                let client = try TimedClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try client.readResponse(timeoutMilliseconds: 2000).text == "ok")
                let start = ContinuousClock.now
                #expect(try client.waitForClose(timeoutMilliseconds: 3000), "idle connection never closed")
                let elapsed = milliseconds(since: start)
                #expect(elapsed >= 300, "closed after \(elapsed) ms, before the 400 ms idle timeout")
                #expect(elapsed < 2000, "closed after \(elapsed) ms")
                #expect(client.receivedText.isEmpty, "an idle close sends nothing: \(client.receivedText)")

                // A connection that keeps being used within the idle timeout stays open.
                let busy = try TimedClient(port: port)
                for round in 0..<6 {
                    try busy.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    #expect(try busy.readResponse(timeoutMilliseconds: 2000).text == "ok", "round \(round)")
                    #expect(try busy.staysSilent(forMilliseconds: 100), "round \(round)")
                }
            }
        }
    }

    // MARK: Connection cap

    @Test func theConnectionCapHoldsTheFifthUntilOneCloses() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path, configure: { $0.limits.maximumConnections = 4 }) { server in
            let port = server.port
            try await offPool {
                var open: [TimedClient] = []
                for _ in 0..<4 {
                    let client = try TimedClient(port: port)
                    try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    #expect(try client.readResponse(timeoutMilliseconds: 2000).text == "ok")
                    open.append(client)
                }
                let fifth = try TimedClient(port: port)  // the kernel completes the handshake
                try fifth.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try fifth.staysSilent(forMilliseconds: 400), "the 5th connection was served over the cap")

                // The four still work.
                for client in open {
                    try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    #expect(try client.readResponse(timeoutMilliseconds: 2000).text == "ok")
                }
                open[0].shutdownBoth()
                open.removeFirst()
                let response = try fifth.readResponse(timeoutMilliseconds: 3000)
                #expect(response.text == "ok")

                // And the next one waits again, until another closes.
                let sixth = try TimedClient(port: port)
                try sixth.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try sixth.staysSilent(forMilliseconds: 300))
                fifth.shutdownBoth()
                #expect(try sixth.readResponse(timeoutMilliseconds: 3000).text == "ok")
            }
        }
    }

    /// Connections arriving together must not slip past the cap in one accept batch.
    @Test func theConnectionCapHoldsForABurst() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "ok")
        try await TestServer.with(root: tree.path, configure: { $0.limits.maximumConnections = 3 }) { server in
            let port = server.port
            try await offPool {
                let clients = try (0..<10).map { _ in try TimedClient(port: port) }
                for client in clients { try client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") }
                var answered = 0
                let start = ContinuousClock.now
                for client in clients {
                    let left = max(1, 500 - milliseconds(since: start))
                    if try client.receive(timeoutMilliseconds: left) { answered += 1 }
                }
                #expect(answered == 3, "\(answered) of 10 simultaneous connections served with a cap of 3")
            }
        }
    }
}
