import Logging
import NIOCore
import Testing

@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct AbsoluteFormTests {
    @Test func absoluteFormTargetsAreServedAndTheirHostIsChecked() async throws {
        let tree = try TempTree()
        try tree.write("page.html", "<p>page</p>")
        try await TestServer.with(root: tree.path) { server in
            let ours = try RawClient.get("http://localhost:\(server.port)/page.html", port: server.port)
            #expect(ours.status == 200)
            #expect(ours.text == "<p>page</p>")
            // The authority in the target wins over the Host header (RFC 9112 §3.2.2).
            let rebound = try RawClient.get(
                "http://evil.example/page.html", port: server.port, hostHeader: "localhost")
            #expect(rebound.status == 403)
            #expect(!rebound.text.contains("<p>page</p>"))
        }
    }
}
