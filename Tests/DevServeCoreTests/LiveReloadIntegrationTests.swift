import Foundation
import NIOCore
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

/// The poll endpoint, the client script and injection, over real sockets.
@Suite struct LiveReloadIntegrationTests {
    static func withReloadServer<T>(
        _ tree: TempTree, hub: ChangeHub, pollTimeout: TimeAmount = .seconds(25),
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.changeHub = hub
                $0.limits.pollTimeout = pollTimeout
            }, body)
    }

    static func json(_ response: RawResponse) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(response.body))
        return try #require(object as? [String: Any])
    }

    /// Waits (bounded) until the hub has `count` waiting polls.
    static func waitForWaiters(_ hub: ChangeHub, _ count: Int) async throws {
        for _ in 0..<500 where hub.waiting != count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(hub.waiting == count)
    }

    @Test func immediateAnswers() async throws {
        let tree = try TempTree()
        let hub = ChangeHub(boot: "boot1")
        try await Self.withReloadServer(tree, hub: hub) { server in
            let plain = try RawClient.get("/__devserve/poll", port: server.port)
            #expect(plain.status == 200)
            #expect(plain.header("content-type") == "application/json; charset=utf-8")
            #expect(plain.header("cache-control") == "no-store")
            #expect(plain.text == #"{"boot":"boot1","version":0}"#)

            let restarted = try RawClient.get("/__devserve/poll?boot=old&since=5", port: server.port)
            #expect(restarted.text == #"{"boot":"boot1","version":0,"restarted":true}"#)

            hub.publish([.init(path: "/css/site.css", kind: "modified")])
            let behind = try RawClient.get("/__devserve/poll?boot=boot1&since=0", port: server.port)
            #expect(try Self.json(behind)["version"] as? Int == 1)
            #expect(
                behind.text
                    == #"{"boot":"boot1","version":1,"changes":[{"path":"/css/site.css","kind":"modified"}],"full":false}"#
            )

            #expect(try RawClient.get("/__devserve/poll?boot=boot1&since=x", port: server.port).status == 400)
        }
    }

    @Test func anUpToDatePollTimesOutWith204AndTheConnectionStaysUsable() async throws {
        let tree = try TempTree()
        try await Self.withReloadServer(tree, hub: ChangeHub(boot: "b"), pollTimeout: .milliseconds(300)) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/__devserve/poll?boot=b&since=0")
            let timedOut = try client.readResponse()
            #expect(timedOut.status == 204)
            #expect(timedOut.header("cache-control") == "no-store")
            try client.request("GET", "/__devserve/poll")
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test func theIdleTimeoutDoesNotCutAWaitingPoll() async throws {
        let tree = try TempTree()
        try await TestServer.with(
            root: tree.path,
            configure: {
                $0.changeHub = ChangeHub(boot: "b")
                $0.limits.idleTimeout = .milliseconds(100)
                $0.limits.pollTimeout = .milliseconds(800)
            }
        ) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/__devserve/poll?boot=b&since=0")
            // Answered by the poll timeout (204), not closed by the far shorter idle timeout.
            #expect(try client.readResponse().status == 204)
        }
    }

    @Test func anUpToDatePollIsAnsweredByTheNextChange() async throws {
        let tree = try TempTree()
        let hub = ChangeHub(boot: "b")
        try await Self.withReloadServer(tree, hub: hub) { server in
            let client = try RawClient(port: server.port)
            try client.request("GET", "/__devserve/poll?boot=b&since=0")
            try await Self.waitForWaiters(hub, 1)
            hub.publish([.init(path: "/index.html", kind: "modified")])
            let told = try client.readResponse()
            #expect(told.status == 200)
            #expect(told.text.contains(#""path":"/index.html""#))
            // The same connection serves files again afterwards.
            try client.request("GET", "/__devserve/poll")
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test func aClientThatGoesAwayIsForgottenAtOnce() async throws {
        let tree = try TempTree()
        let hub = ChangeHub(boot: "b")
        try await Self.withReloadServer(tree, hub: hub) { server in
            do {
                let client = try RawClient(port: server.port)
                try client.request("GET", "/__devserve/poll?boot=b&since=0")
                try await Self.waitForWaiters(hub, 1)
            }  // the client closes here
            try await Self.waitForWaiters(hub, 0)
            #expect(hub.publish([]).told == 0)
        }
    }

    @Test func crossOriginPollsAreRefused() async throws {
        let tree = try TempTree()
        let hub = ChangeHub(boot: "b")
        try await Self.withReloadServer(tree, hub: hub) { server in
            let foreign = try RawClient.get(
                "/__devserve/poll", port: server.port, headers: ["Origin: http://evil.example"])
            #expect(foreign.status == 403)
            let crossSite = try RawClient.get(
                "/__devserve/poll", port: server.port, headers: ["Sec-Fetch-Site: cross-site"])
            #expect(crossSite.status == 403)
            let sameOrigin = try RawClient.get(
                "/__devserve/poll", port: server.port, headers: ["Origin: http://localhost:\(server.port)"],
                hostHeader: "localhost:\(server.port)")
            #expect(sameOrigin.status == 200)
        }
    }

    @Test func aThousandWaitingPollsAreAllAnsweredByOneChange() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let tree = try TempTree()
        let hub = ChangeHub(boot: "b")
        try await Self.withReloadServer(tree, hub: hub) { server in
            var clients: [RawClient] = []
            for _ in 0..<1000 {
                let client = try RawClient(port: server.port)
                try client.request("GET", "/__devserve/poll?boot=b&since=0")
                clients.append(client)
            }
            try await Self.waitForWaiters(hub, 1000)
            #expect(hub.publish([.init(path: "/app.js", kind: "modified")]).told == 1000)
            var answered = 0
            for client in clients {
                if try client.readResponse().text.contains(#""path":"/app.js""#) { answered += 1 }
            }
            #expect(answered == 1000)
        }
    }

    @Test func theClientScriptIsServed() async throws {
        let tree = try TempTree()
        try await Self.withReloadServer(tree, hub: ChangeHub()) { server in
            let script = try RawClient.get("/__devserve/client.js", port: server.port)
            #expect(script.status == 200)
            #expect(script.header("content-type") == "text/javascript; charset=utf-8")
            #expect(script.body == Array(PackageResources.client_js))
            let etag = try #require(script.header("etag"))
            let again = try RawClient.get(
                "/__devserve/client.js", port: server.port, headers: ["If-None-Match: \(etag)"])
            #expect(again.status == 304)
        }
        let withoutReload = try await TestServer.with(root: tree.path) { server in
            try RawClient.get("/__devserve/client.js", port: server.port).status
        }
        #expect(withoutReload == 404, "--no-reload: no client script")
    }

    @Test func htmlDocumentsGetTheScriptWithExactLengthsAndOthersDoNot() async throws {
        let tree = try TempTree()
        let page = "<html><head><title>t</title></head><body>hi</body></html>"
        try tree.write("index.html", page)
        try tree.write("app.js", "console.log(1)")
        try tree.write("big.html", "<head></head>" + String(repeating: "x", count: 200_000))
        try tree.write("docs/readme.txt", "x")
        let hub = ChangeHub(boot: "bb")
        try await Self.withReloadServer(tree, hub: hub) { server in
            hub.publish([])
            let tag = LiveReload.scriptTag(boot: "bb", version: 1)
            let document = try RawClient.get("/", port: server.port, headers: ["Sec-Fetch-Dest: document"])
            #expect(document.text == page.replacingOccurrences(of: "</head>", with: tag + "</head>"))
            #expect(document.header("content-length") == String(document.body.count))
            #expect(document.header("cache-control") == "no-store")
            let noHeader = try RawClient.get("/index.html", port: server.port)
            #expect(noHeader.text.contains(tag), "no Sec-Fetch-Dest: a top-level load")
            let head = try RawClient.get("/index.html", port: server.port, method: "HEAD")
            #expect(head.header("content-length") == String(document.body.count))

            let iframe = try RawClient.get("/index.html", port: server.port, headers: ["Sec-Fetch-Dest: iframe"])
            #expect(iframe.text == page)
            let ranged = try RawClient.get("/index.html", port: server.port, headers: ["Range: bytes=0-5"])
            #expect(ranged.status == 206)
            #expect(ranged.text == String(page.prefix(6)))
            #expect(try RawClient.get("/app.js", port: server.port).text == "console.log(1)")

            let big = try RawClient.get("/big.html", port: server.port)
            #expect(big.text.hasPrefix("<head>" + tag + "</head>"), "large (sendfile-sized) pages too")
            #expect(big.header("content-length") == String(big.body.count))

            let listing = try RawClient.get("/docs/", port: server.port)
            #expect(listing.text.contains(tag))
        }
    }

    @Test func thePageETagChangesWithTheFileButNotWithTheBoot() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<head></head>one")
        let first = try await Self.withReloadServer(tree, hub: ChangeHub(boot: "a")) { server in
            try RawClient.get("/", port: server.port).header("etag")
        }
        let restarted = try await Self.withReloadServer(tree, hub: ChangeHub(boot: "b")) { server in
            try RawClient.get("/", port: server.port).header("etag")
        }
        #expect(first != nil && first == restarted, "a restart with unchanged files keeps the ETag")
        try tree.write("index.html", "<head></head>two!")
        let edited = try await Self.withReloadServer(tree, hub: ChangeHub(boot: "b")) { server in
            try RawClient.get("/", port: server.port).header("etag")
        }
        #expect(edited != first)
        let plain = try await TestServer.with(root: tree.path) { server in
            try RawClient.get("/", port: server.port).header("etag")
        }
        #expect(plain != edited, "the injected page's ETag differs from the file's")
    }
}
