import Logging
import NIOCore
import Testing

@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SmokeTests {
    /// bind(2)'s EINVAL (a link-local or IPv4-mapped address) is a sentence, not NIO's raw text.
    @Test func anAddressTheSystemRefusesIsASentence() {
        let error = ServerError(bindError: IOError(errnoCode: EINVAL, reason: "bind"), host: "fe80::1", port: 8080)
        #expect(error == .addressUnsupported(host: "fe80::1"))
        #expect(error.description.hasPrefix("Cannot listen on fe80::1: the system does not take it"))
    }

    /// When every port devserve would move to is busy, the sentence names the whole range.
    @Test func allPreferredPortsBusyNamesTheRange() async throws {
        let tree = try TempTree()
        try await TestServer.with(root: tree.path) { first in
            let configuration = ServerConfiguration(root: try TestServer.realPath(tree.path), logRequests: false)
            // The next port: held by a second server, or already busy for another reason.
            let second = try? await Server.start(
                site: configuration, hosts: ["127.0.0.1"], port: .exact(first.port + 1), logger: Logger(label: "test"))
            do throws(ServerError) {
                let third = try await Server.start(
                    site: configuration, hosts: ["127.0.0.1"], port: .preferred(first.port, attempts: 2),
                    logger: Logger(label: "test"))
                await third.shutdown()
                Issue.record("a busy range was bound")
            } catch {
                #expect(error == .portsInUse(first: first.port, last: first.port + 1))
                #expect(error.description.hasPrefix("Ports \(first.port) to \(first.port + 1) are all in use"))
            }
            await second?.shutdown()
        }
    }

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
