import Foundation
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

/// No private key leaves the server, wherever it lies under the root and whatever it is called:
/// devserve's own leaf files in any `certs/`, and every file holding a PEM private key block.
@Suite struct PrivateKeyTests {
    static let key =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
    static let certificate = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"

    @Test(arguments: [
        (key, true),
        ("-----BEGIN EC PRIVATE KEY-----\nabc\n", true),
        ("-----BEGIN RSA PRIVATE KEY-----\r\nabc\r\n", true),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n", true),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", true),
        ("const pem = \"-----BEGIN PRIVATE KEY-----\\nMIG...\";", true),
        (certificate + key, true),
        (certificate, false),
        ("-----BEGIN PUBLIC KEY-----\nabc\n", false),
        ("Keep your PRIVATE KEY----- safe; -----BEGIN here\n", false),
        ("-----BEGIN \nPRIVATE KEY-----", false),
        ("", false),
    ])
    func findsPEMPrivateKeyBlocks(_ text: String, _ holds: Bool) {
        #expect(PrivateKeyPEM.isIn(Array(text.utf8)) == holds)
    }

    /// `--tls` run inside `site/`, then the parent served: the key must not come out of
    /// `site/certs/`, nor any other key file, nor be listed.
    @Test func noKeyIsServedOrListedFromAnywhereUnderTheRoot() async throws {
        let tree = try TempTree()
        try tree.write("site/index.html", "<title>Site</title>")
        try tree.write("site/certs/.gitignore", "*\n")
        try tree.write("site/certs/localhost.pem", Self.certificate)
        try tree.write("site/certs/localhost-key.pem", Self.key)
        try tree.write("site/certs/README.txt", "certificates live here")
        try tree.write("keys/server.key", Self.key)
        try tree.write("keys/chain.pem", Self.certificate)
        try tree.write("keys/notes.txt", "see below\n" + Self.key)
        // Larger than the file cache: looked through because of its name.
        let padding = String(repeating: "# padding line\n", count: 20_000)
        try tree.write("keys/bundle.pem", Self.certificate + padding + Self.key)
        try tree.write("keys/big-chain.pem", Self.certificate + padding)
        try tree.write("app.js", "const ok = 1")
        try await TestServer.with(root: tree.path) { server in
            let port = server.port
            for path in [
                "/site/certs/localhost-key.pem", "/site/certs/localhost.pem", "/keys/server.key", "/keys/notes.txt",
                "/keys/bundle.pem",
            ] {
                for _ in 0..<2 {
                    let response = try RawClient.get(path, port: port)
                    #expect(response.status == 404, "\(path)")
                    #expect(!response.text.contains("PRIVATE KEY"), "\(path)")
                }
                let ranged = try RawClient.get(path, port: port, headers: ["Range: bytes=0-10"])
                #expect(ranged.status == 404, "\(path) with a range")
            }
            for path in ["/keys/chain.pem", "/keys/big-chain.pem", "/app.js", "/site/certs/README.txt"] {
                #expect(try RawClient.get(path, port: port).status == 200, "\(path)")
            }
            let certs = try RawClient.get("/site/certs/", port: port)
            #expect(certs.status == 200)
            #expect(certs.text.contains("README.txt"))
            #expect(!certs.text.contains("localhost-key.pem") && !certs.text.contains("localhost.pem"), "\(certs.text)")
            let keys = try RawClient.get("/keys/", port: port)
            #expect(keys.text.contains("chain.pem") && keys.text.contains("big-chain.pem"))
            #expect(!keys.text.contains("server.key") && !keys.text.contains("bundle.pem"), "\(keys.text)")
            #expect(!keys.text.contains("notes.txt"), "a small file holding a key is not listed: \(keys.text)")
        }
    }

    /// Files larger than the cache whatever their name (a page read whole for the reload script,
    /// an `.env`, a JSON dump, a key backup), and small files named like nothing in particular:
    /// none is served, on the first request or a later one, and the small ones and those named
    /// like keys are not listed.
    @Test func largerFilesAndAnyNameAreLookedThrough() async throws {
        let tree = try TempTree()
        let padding = String(repeating: "x", count: 140_000)
        try tree.write("keys/page.html", "<html><head></head><body>" + padding + Self.key + "</body></html>")
        try tree.write("keys/env.txt", "API=1\n" + padding + "\nTLS_KEY=\"" + Self.key + "\"\n")
        try tree.write("keys/server.key.bak", padding + Self.key)
        try tree.write("keys/big.json", "{\"pad\":\"" + padding + "\",\"key\":\"" + Self.key + "\"}")
        try tree.write("keys/k.txt", Self.key)
        try tree.write("keys/id_rsa", Self.key)
        try tree.write("keys/plain.txt", padding)
        try await TestServer.with(root: tree.path, configure: { $0.changeHub = ChangeHub() }) { server in
            let port = server.port
            for name in ["page.html", "env.txt", "server.key.bak", "big.json", "k.txt", "id_rsa"] {
                for _ in 0..<2 {
                    let response = try RawClient.get("/keys/" + name, port: port)
                    #expect(response.status == 404, "\(name)")
                    #expect(!response.text.contains("PRIVATE KEY"), "\(name)")
                }
            }
            #expect(try RawClient.get("/keys/plain.txt", port: port).status == 200)
            let listing = try RawClient.get("/keys/", port: port)
            #expect(listing.text.contains("plain.txt"))
            // (env.txt, larger than the cache and named like nothing in particular, is listed: a
            // listing does not read every large file. It is refused when asked for.)
            for name in ["server.key.bak", "k.txt", "id_rsa"] {
                #expect(!listing.text.contains(">\(name)<"), "\(name) is listed: \(listing.text)")
            }
        }
    }

    /// A listing names a link out of the root but tells nothing of what it points at.
    @Test func aListingTellsNothingOfALinkOutOfTheRoot() async throws {
        let outside = try TempTree()
        try outside.write("secret.bin", String(repeating: "s", count: 123_456))
        let tree = try TempTree()
        try tree.write("files/inside.txt", "in")
        try tree.symlink("files/away", to: outside.path + "/secret.bin")
        try await TestServer.with(root: tree.path) { server in
            let listing = try RawClient.get("/files/", port: server.port)
            #expect(listing.status == 200)
            #expect(listing.text.contains("inside.txt"))
            let row = try #require(listing.text.split(separator: "\n").first { $0.contains(">away<") })
            #expect(row.contains("unavailable"), "\(row)")
            #expect(!row.contains("121") && !row.contains("href"), "size or link of a file outside the root: \(row)")
            #expect(try RawClient.get("/files/away", port: server.port).status == 403)
        }
    }

    /// Names looked through whatever their size: key files and their backups, never a video
    /// that happens to have "key" in its name.
    @Test(arguments: [
        ("server.key", true), ("certs/tls.PEM", true), ("server.key.bak", true), ("tls.pem~", true),
        ("id_rsa", true), ("id_ed25519.old", true), ("client.p8", true),
        ("keyframes.mp4", false), ("hockey-final.mp4", false), ("monkey.key.png", false), ("secrets.json", false),
        ("id_rsa_is_not_here.txt", false), ("big.bin", false),
    ])
    func keyNamesAreTheEndOfTheName(_ name: String, _ looked: Bool) {
        #expect(PrivateKeyPEM.nameMayHoldKey(name) == looked)
    }

    /// Verdicts are kept per file version in two generations: the files in use stay known
    /// however many others pass, and an old version read again is read again.
    @Test func scanVerdictsAreKeptForTheFilesInUse() throws {
        let tree = try TempTree()
        try tree.write("k.txt", Self.key)
        let path = tree.path + "/k.txt"
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        let scans = PrivateKeyPEM.Scans(limit: 2)
        func version(_ inode: UInt64) -> PrivateKeyPEM.Scans.Version {
            .init(device: 1, inode: inode, size: Self.key.utf8.count, modifiedNanoseconds: 0, changedNanoseconds: 0)
        }
        #expect(scans.holdsKey(version(1), descriptor: descriptor))
        #expect(scans.holdsKey(version(2), descriptor: descriptor))
        // The file no longer holds a key; what is known is answered without reading it.
        try tree.write("k.txt", String(repeating: "x", count: Self.key.utf8.count))
        for inode: UInt64 in [3, 1, 4, 1, 5, 1] {
            _ = scans.holdsKey(version(inode), descriptor: descriptor)
        }
        #expect(scans.holdsKey(version(1), descriptor: descriptor), "kept while in use")
        #expect(!scans.holdsKey(version(2), descriptor: descriptor), "gone after two generations: read again")
    }
}
