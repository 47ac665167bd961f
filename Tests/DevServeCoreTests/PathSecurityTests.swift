import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

#if canImport(Glibc)
    import Glibc
#endif

/// The path rules against real folders, through `FileResponder` (no sockets): symlinks inside the
/// root are served, symlinks out of it are refused, dotfiles and protected files are neither served
/// nor listed, and no answer ever carries a byte of a file it must not serve.
@Suite struct PathSecurityTests {
    /// Contents that must never appear in any response body.
    static let outsideSecret = "OUTSIDE-SECRET-4b1d0c"
    static let envSecret = "ENV-SECRET-93ac1e"
    static let gitSecret = "GIT-SECRET-5e77f2"
    static let keySecret = "KEY-SECRET-0d9b3a"
    static let secrets = [outsideSecret, envSecret, gitSecret, keySecret]
    static let hello = "hello from inside the root"

    /// A served folder `site/` next to a folder `outside/` it must never leak.
    ///
    ///     outside/secret.txt, outside/dir/inner.txt      the secret
    ///     site/hello.txt, site/sub/page.txt              ordinary files
    ///     site/link-inside.txt -> hello.txt              symlinks that stay inside
    ///     site/sub/link-up.txt -> ../hello.txt
    ///     site/back-in.txt -> ../site-link/hello.txt     (leaves through site-link -> site, comes back)
    ///     site/link-outside.txt -> /…/outside/secret.txt symlinks that lead out
    ///     site/link-outside-relative.txt -> ../outside/secret.txt
    ///     site/leak.html -> ../outside/secret.txt        (reached by the clean URL /leak)
    ///     site/linkdir -> /…/outside/dir                 a folder that leads out
    ///     site/.env, site/sub/.env, site/.git/config     dotfiles
    ///     site/dotlink.txt -> .env                       a plain name for a dotfile
    ///     site/.well-known/security.txt                  the one dot-folder served
    ///     site/certs/localhost-key.pem, localhost.pem    protected (TLS key and certificate)
    ///     site/certs/readme.txt
    ///     site/key-link.pem -> certs/localhost-key.pem   a plain name for a protected file
    final class Fixture {
        let tree: TempTree
        let base: String
        let root: String
        let outside: String
        let responder: FileResponder

        init() throws {
            tree = try TempTree()
            base = try TestServer.realPath(tree.path)
            outside = base + "/outside"
            try tree.write("outside/secret.txt", PathSecurityTests.outsideSecret)
            try tree.write("outside/dir/inner.txt", PathSecurityTests.outsideSecret)

            try tree.write("site/hello.txt", PathSecurityTests.hello)
            try tree.write("site/sub/page.txt", "a page")
            try tree.symlink("site/link-inside.txt", to: "hello.txt")
            try tree.symlink("site/sub/link-up.txt", to: "../hello.txt")
            try tree.symlink("site-link", to: "site")
            try tree.symlink("site/back-in.txt", to: "../site-link/hello.txt")
            try tree.symlink("site/link-outside.txt", to: outside + "/secret.txt")
            try tree.symlink("site/link-outside-relative.txt", to: "../outside/secret.txt")
            try tree.symlink("site/leak.html", to: "../outside/secret.txt")
            try tree.symlink("site/linkdir", to: outside + "/dir")

            try tree.write("site/.env", PathSecurityTests.envSecret)
            try tree.write("site/sub/.env", PathSecurityTests.envSecret)
            try tree.write("site/.git/config", PathSecurityTests.gitSecret)
            try tree.symlink("site/dotlink.txt", to: ".env")
            try tree.write("site/.well-known/security.txt", "Contact: mailto:security@example.com\n")

            try tree.write("site/certs/localhost-key.pem", PathSecurityTests.keySecret)
            try tree.write("site/certs/localhost.pem", PathSecurityTests.keySecret)
            try tree.write("site/certs/readme.txt", "certificates go here")
            try tree.symlink("site/key-link.pem", to: "certs/localhost-key.pem")

            root = base + "/site"
            responder = FileResponder(
                configuration: ServerConfiguration(
                    root: root,
                    protectedPaths: [root + "/certs/localhost-key.pem", root + "/certs/localhost.pem"]))
        }

        func get(_ uri: String) -> Answer {
            PathSecurityTests.get(uri, from: responder)
        }
    }

    struct Answer {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        /// Whether any secret of the fixture appears in the body.
        var leaksASecret: Bool { PathSecurityTests.secrets.contains { text.contains($0) } }
    }

    /// The request as a browser's bytes, read by the HTTP/1.1 parser the server uses, then
    /// answered: a target the parser refuses is the status the client would see.
    static func get(_ uri: String, from responder: FileResponder) -> Answer {
        let bytes = Array("GET \(uri) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        let parsed = bytes.withUnsafeBytes { HTTP1Parser.parse($0, from: 0, scheme: "http") }
        switch parsed {
        case .invalid(let status, _):
            return Answer(status: status, body: [])
        case .incomplete:
            Issue.record("the parser found no complete head in the request for \(uri)")
            return Answer(status: 0, body: [])
        case .complete(let request, _):
            guard case .response(let response) = responder.answer(request, on: EmbeddedEventLoop()) else {
                Issue.record("\(uri) waited for changes instead of answering")
                return Answer(status: 0, body: [])
            }
            return Answer(status: Int(response.status.code), body: bodyBytes(response.body))
        }
    }

    static func bodyBytes(_ body: ResponseBody) -> [UInt8] {
        switch body {
        case .empty:
            return []
        case .bytes(let buffer):
            return Array(buffer.readableBytesView)
        case .file(let slice):
            guard let descriptor = slice.takeDescriptor() else { return [] }
            defer { close(descriptor) }
            var bytes = [UInt8](repeating: 0, count: slice.length)
            let count = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress, slice.length, off_t(slice.offset))
            }
            return Array(bytes.prefix(max(0, count)))
        }
    }

    // MARK: Symlinks

    @Test(arguments: ["/link-inside.txt", "/sub/link-up.txt", "/back-in.txt", "/hello.txt", "/sub/../hello.txt"])
    func symlinkStayingInsideTheRootIsServed(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 200)
        #expect(answer.text == Self.hello)
    }

    @Test(arguments: ["/link-outside.txt", "/link-outside-relative.txt", "/leak.html", "/leak"])
    func symlinkToAFileOutsideTheRootIsRefused(_ uri: String) throws {
        let fixture = try Fixture()
        let answer = fixture.get(uri)
        #expect(answer.status == 403)
        #expect(!answer.leaksASecret)
        // Asked twice: a refusal is not cached into a success.
        #expect(fixture.get(uri).status == 403)
    }

    @Test(arguments: ["/linkdir/", "/linkdir/inner.txt", "/linkdir/./inner.txt"])
    func symlinkedFolderLeadingOutsideIsRefused(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 403)
        #expect(!answer.leaksASecret)
        #expect(!answer.text.contains("inner.txt"))
    }

    @Test func symlinkedFolderWithoutSlashOnlyRedirects() throws {
        let answer = try Fixture().get("/linkdir")
        #expect(answer.status == 301)
        #expect(!answer.leaksASecret)
        #expect(!answer.text.contains("inner.txt"))
    }

    @Test func rootReachedThroughASymlinkStillServes() throws {
        let fixture = try Fixture()
        // The command line hands the responder the real path of what the user typed.
        let realRoot = try TestServer.realPath(fixture.base + "/site-link")
        #expect(realRoot == fixture.root)
        let responder = FileResponder(configuration: ServerConfiguration(root: realRoot))
        #expect(Self.get("/hello.txt", from: responder).text == Self.hello)
        #expect(Self.get("/link-inside.txt", from: responder).status == 200)
        #expect(Self.get("/back-in.txt", from: responder).status == 200)
        #expect(Self.get("/sub/", from: responder).status == 200)
        #expect(Self.get("/link-outside.txt", from: responder).status == 403)
    }

    // MARK: Dotfiles

    @Test(arguments: [
        "/.env", "/.env/.", "/.env/", "/%2eenv", "/.%65nv", "/sub/.env", "/sub/../.env", "/.well-known/../.env",
        "/.git", "/.git/", "/.git/config", "/.git/./config", "/dotlink.txt", "/.well-known/.%2e/.git/config",
    ])
    func dotfilesAreNotServed(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 404)
        #expect(!answer.leaksASecret)
    }

    @Test func dotfilesAreNotListed() throws {
        let fixture = try Fixture()
        let root = fixture.get("/")
        #expect(root.status == 200)
        #expect(root.text.contains("hello.txt"))
        #expect(!root.text.contains(".env"))
        #expect(!root.text.contains(".git"))
        let sub = fixture.get("/sub/")
        #expect(sub.status == 200)
        #expect(sub.text.contains("page.txt"))
        #expect(!sub.text.contains(".env"))
    }

    @Test func wellKnownIsServed() throws {
        let fixture = try Fixture()
        let answer = fixture.get("/.well-known/security.txt")
        #expect(answer.status == 200)
        #expect(answer.text == "Contact: mailto:security@example.com\n")
        #expect(fixture.get("/.well-known/").text.contains("security.txt"))
        // Only at the top: a nested `.well-known` is a dot-folder like any other.
        try fixture.tree.write("site/sub/.well-known/x.txt", "nested")
        #expect(fixture.get("/sub/.well-known/x.txt").status == 404)
    }

    // MARK: Protected paths

    @Test(arguments: [
        "/certs/localhost-key.pem", "/certs/localhost.pem", "/certs/./localhost-key.pem", "/key-link.pem",
        "/sub/../certs/localhost-key.pem",
    ])
    func protectedPathsAreNotServed(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 404)
        #expect(!answer.leaksASecret)
    }

    @Test func protectedPathsAreNotListed() throws {
        let fixture = try Fixture()
        let certs = fixture.get("/certs/")
        #expect(certs.status == 200)
        #expect(certs.text.contains("readme.txt"))
        #expect(!certs.text.contains("localhost-key.pem"))
        #expect(!certs.text.contains("localhost.pem"))
        let root = fixture.get("/")
        #expect(!root.text.contains("key-link.pem"))
    }

    // MARK: Traversal

    @Test(arguments: [
        "/../outside/secret.txt", "/../../../../../../etc/passwd", "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt", "/%2E%2e/outside/secret.txt", "/.%2e/outside/secret.txt",
        "/sub/%2e%2e/%2e%2e/outside/secret.txt", "/..%2foutside%2fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt",
        "/..%2Foutside/secret.txt", "/..\\outside\\secret.txt", "/..%5coutside%5csecret.txt",
        "/%c0%ae%c0%ae/outside/secret.txt", "/%e0%80%ae%e0%80%ae/outside/secret.txt",
        "/..%c0%afoutside%c0%afsecret.txt", "/hello.txt%00/../../outside/secret.txt", "/hello.txt#/../../x",
        "/%", "/%2", "/%zz", "/%ff", "/a%0a",
    ])
    func escapesAreBadRequests(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 400)
        #expect(!answer.leaksASecret)
    }

    @Test(arguments: ["/%252e%252e/outside/secret.txt", "/..%252foutside%252fsecret.txt", "/%252e%252e%252f.env"])
    func doubleEncodingIsALiteralName(_ uri: String) throws {
        let answer = try Fixture().get(uri)
        #expect(answer.status == 404)
        #expect(!answer.leaksASecret)
    }

    /// Every target of this suite, asked of one responder in turn (so the cache is warm): no body
    /// carries a secret.
    @Test func noResponseBodyCarriesASecret() throws {
        let fixture = try Fixture()
        let targets = [
            "/", "/sub/", "/certs/", "/.well-known/", "/linkdir", "/linkdir/", "/linkdir/inner.txt", "/leak",
            "/link-outside.txt", "/link-outside-relative.txt", "/leak.html", "/.env", "/.env/.", "/dotlink.txt",
            "/.git/config", "/.git/", "/sub/.env", "/key-link.pem", "/certs/localhost-key.pem",
            "/certs/localhost.pem", "/../outside/secret.txt", "/%2e%2e/outside/secret.txt",
            "/%252e%252e/outside/secret.txt", "/hello.txt", "/link-inside.txt",
        ]
        for _ in 0..<2 {
            for uri in targets {
                let answer = fixture.get(uri)
                #expect(!answer.leaksASecret, "\(uri) answered \(answer.status) with a secret")
            }
        }
    }

    // MARK: Found bugs

    /// A small file is cached by path and revalidated by stat. Moving its folder out of the root
    /// and leaving a symlink in its place changes neither the file's inode nor its ctime (only the
    /// folder's), so the cached entry still matches and the file is served from outside the root.
    @Test func cachedFileIsRefusedOnceItsFolderLeavesTheRoot() throws {
        let fixture = try Fixture()
        try fixture.tree.write("site/drafts/page.txt", "draft page")
        #expect(fixture.get("/drafts/page.txt").status == 200)
        #expect(rename(fixture.root + "/drafts", fixture.outside + "/drafts") == 0)
        try fixture.tree.symlink("site/drafts", to: fixture.outside + "/drafts")
        // A responder that never saw the file refuses it...
        let fresh = FileResponder(configuration: fixture.responder.configuration)
        #expect(Self.get("/drafts/page.txt", from: fresh).status == 403)
        // ...and so must the one that cached it.
        #expect(fixture.get("/drafts/page.txt").status == 403)
    }

    /// Parsed targets are remembered (parsing is pure), files are not: a path that was 404 serves
    /// the file once it exists, and the memo never holds more than its limit.
    @Test func rememberedTargetsFollowTheFilesAndStayBounded() throws {
        let fixture = try Fixture()
        #expect(fixture.get("/later.txt").status == 404)
        try fixture.tree.write("site/later.txt", "now here")
        #expect(fixture.get("/later.txt").text == "now here")
        #expect(fixture.get("/.env").status == 404)
        #expect(fixture.get("/.env").status == 404)
        for number in 0..<(FileResponder.parsedTargetLimit + 10) {
            _ = fixture.responder.parsedTarget("/page-\(number).html"[...])
        }
        #expect(fixture.responder.parsedTargets.withLock { $0.count } <= FileResponder.parsedTargetLimit)
        #expect(fixture.get("/hello.txt").text == Self.hello)
    }

    /// Two names Linux keeps apart and Swift's String equality does not (é composed, and e with a
    /// combining accent): each is its own file, also once the first has been asked for.
    @Test func canonicallyEquivalentNamesStayTwoFiles() throws {
        let fixture = try Fixture()
        try fixture.tree.write("site/caf\u{E9}.txt", "composed")
        try fixture.tree.write("site/cafe\u{301}.txt", "decomposed")
        // As a browser sends them: UTF-8, percent-encoded.
        #expect(fixture.get("/caf%C3%A9.txt").text == "composed")
        #expect(fixture.get("/cafe%CC%81.txt").text == "decomposed")
        #expect(fixture.get("/caf%C3%A9.txt").text == "composed")
    }

    /// The same, with the folder moved to a dot-folder inside the root.
    @Test func cachedFileIsHiddenOnceItsFolderBecomesADotFolder() throws {
        let fixture = try Fixture()
        try fixture.tree.write("site/drafts/page.txt", "draft page")
        #expect(fixture.get("/drafts/page.txt").status == 200)
        #expect(rename(fixture.root + "/drafts", fixture.root + "/.drafts") == 0)
        try fixture.tree.symlink("site/drafts", to: ".drafts")
        let fresh = FileResponder(configuration: fixture.responder.configuration)
        #expect(Self.get("/drafts/page.txt", from: fresh).status == 404)
        #expect(fixture.get("/drafts/page.txt").status == 404)
    }

    /// The real-root check compares Swift Strings, which compare by canonical equivalence: a
    /// sibling folder `cafe\u{301}` (NFD) "has the prefix" of the root `caf\u{E9}` (NFC), though
    /// on Linux they are two different folders. A symlink into the sibling is then served.
    @Test func siblingFolderWithACanonicallyEquivalentNameIsOutsideTheRoot() throws {
        let tree = try TempTree()
        let base = try TestServer.realPath(tree.path)
        let root = base + "/caf\u{E9}"
        let sibling = base + "/cafe\u{301}"
        #expect(mkdir(root, 0o755) == 0)
        #expect(mkdir(sibling, 0o755) == 0)
        try Self.writeBytes(sibling + "/secret.txt", Self.outsideSecret)
        #expect(symlink(sibling + "/secret.txt", root + "/link.txt") == 0)
        #expect(symlink(sibling, root + "/linkdir") == 0)
        // Two folders on disk, not one.
        #expect(try FileManager.default.contentsOfDirectory(atPath: base).count == 2)

        let responder = FileResponder(configuration: ServerConfiguration(root: try TestServer.realPath(root)))
        let file = Self.get("/link.txt", from: responder)
        #expect(file.status == 403)
        #expect(!file.leaksASecret)
        let listing = Self.get("/linkdir/", from: responder)
        #expect(listing.status == 403)
        #expect(!listing.text.contains("secret.txt"))
    }

    /// A name whose first byte is `.` is a dotfile, but `hasPrefix(".")` on a Swift String compares
    /// Characters: `.` followed by a combining mark is one Character that is not ".", so the file
    /// is served and listed.
    @Test(arguments: [".\u{301}env", ".\u{200D}env"])
    func dotFollowedByACombiningMarkIsStillADotfile(_ name: String) throws {
        let fixture = try Fixture()
        try Self.writeBytes(fixture.root + "/" + name, Self.envSecret)
        let encoded = "/" + name.utf8.map { String(format: "%%%02X", $0) }.joined()
        let answer = fixture.get(encoded)
        #expect(answer.status == 404)
        #expect(!answer.leaksASecret)
        #expect(!fixture.get("/").text.contains("env"))
    }

    /// Writes through the C library so the name's bytes reach the file system exactly as given.
    static func writeBytes(_ path: String, _ contents: String) throws {
        guard let file = fopen(path, "w") else { throw TestError("fopen \(path) failed") }
        defer { fclose(file) }
        let bytes = Array(contents.utf8)
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw TestError("fwrite failed") }
    }
}
