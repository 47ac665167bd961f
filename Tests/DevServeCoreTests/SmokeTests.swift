import Testing

@Suite struct SmokeTests {
    @Test func servesAFileOverRealSockets() async throws {
        let tree = try TempTree()
        try tree.write("index.html", "<h1>hi</h1>")
        try await TestServer.with(root: tree.path) { server in
            let response = try RawClient.get("/", port: server.port)
            #expect(response.status == 200)
            #expect(response.text == "<h1>hi</h1>")
            #expect(response.header("content-type") == "text/html; charset=utf-8")
        }
    }
}
