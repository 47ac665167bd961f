import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `devserve --tls` and `--cert/--key` as users meet them: real processes on real sockets, checked
/// with curl (HTTP/1.1 and HTTP/2) and `openssl s_client`, the certificate verified against the
/// local CA exactly as a browser that trusts it would.
@Suite(.serialized) struct TLSServeTests {
    /// A project folder with a site, its own CA folder, and devserve serving it over HTTPS.
    final class Project {
        let folder: TempFolder
        let data: TempFolder
        var site: String { folder.path + "/site" }
        var ca: String { data.path + "/devserve/ca.pem" }

        init() throws {
            folder = try TempFolder()
            data = try TempFolder()
            try folder.write(
                "site/index.html", "<!doctype html><html><head><title>t</title></head><body>hi</body></html>")
            try folder.write("site/docs/a.txt", "alpha")
            try folder.write("site/style.css", "body{color:red}")
            try Tool.randomFile(at: site + "/big.bin", bytes: 2_500_000)
        }

        func serve(_ extra: [String] = [], asNobody: Bool = false) throws -> DevServeProcess {
            try DevServeProcess(
                ["site", "--port", "0"] + extra, workingDirectory: folder.path, asNobody: asNobody,
                environment: ["XDG_DATA_HOME": data.path])
        }

        /// curl against `https://localhost:PORT/path`, trusting the local CA only.
        func curl(_ port: Int, _ path: String, _ options: [String] = []) throws -> Tool.Result {
            try Tool.run(
                "/usr/bin/curl",
                ["-sS", "--max-time", "20", "--cacert", ca, "-w", "\n%{http_version} %{http_code}"] + options + [
                    "https://localhost:\(port)\(path)"
                ])
        }
    }

    @Test func tlsMakesTheCertificateAndServesHTTP2AndHTTP11() throws {
        let project = try Project()
        let server = try project.serve(["--tls"])
        let port = try server.waitForHTTPSPort()
        let banner = server.output
        #expect(banner.contains("Made certs/localhost.pem"))
        // A CA made just now is trusted nowhere yet: the banner says so, with the command.
        #expect(
            banner.contains(
                "Made the local CA \(project.ca): browsers do not trust it until you run `\(DevServeProcess.binary) trust` once"
            ), "\(banner)")
        #expect(banner.contains("HTTPS: on"))
        let keyMode =
            try FileManager.default.attributesOfItem(atPath: project.folder.path + "/certs/localhost-key.pem")[
                .posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let h2 = try project.curl(port, "/")
        #expect(h2.status == 0, "\(h2.output)")
        #expect(h2.output.hasSuffix("\n2 200"))
        #expect(h2.output.contains("<script src=\"/__devserve/client.js\""))
        let h1 = try project.curl(port, "/", ["--http1.1"])
        #expect(h1.output.hasSuffix("\n1.1 200"))
        #expect(h1.output.contains("<script src=\"/__devserve/client.js\""))

        // The same responses by both protocols: listing, range, 404, HEAD, CSS.
        for protocolFlag in ["--http2", "--http1.1"] {
            let listing = try project.curl(port, "/docs/", [protocolFlag])
            #expect(listing.output.contains("a.txt") && listing.output.hasSuffix(" 200"), "\(listing.output)")
            let range = try project.curl(port, "/docs/a.txt", [protocolFlag, "-r", "1-3"])
            #expect(range.output.hasPrefix("lph\n") && range.output.hasSuffix(" 206"), "\(range.output)")
            let missing = try project.curl(port, "/nope.txt", [protocolFlag, "-o", "/dev/null"])
            #expect(missing.output.hasSuffix(" 404"))
            let head = try project.curl(port, "/style.css", [protocolFlag, "-I"])
            #expect(head.output.lowercased().contains("content-length: 15"), "\(head.output)")
            #expect(head.output.lowercased().contains("content-type: text/css; charset=utf-8"))
        }

        // Large files are streamed byte-exact over both (no sendfile through TLS).
        let expected = try Data(contentsOf: URL(fileURLWithPath: project.site + "/big.bin"))
        for protocolFlag in ["--http2", "--http1.1"] {
            let copy = project.folder.path + "/copy\(protocolFlag).bin"
            let download = try project.curl(port, "/big.bin", [protocolFlag, "-o", copy])
            #expect(download.output.hasSuffix(" 200"), "\(download.output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == expected)
        }
        // Several requests on one kept-alive connection (HTTP/1.1 over TLS).
        let reused = try Tool.run(
            "/usr/bin/curl",
            [
                "-sS", "--http1.1", "--cacert", project.ca, "-w", "%{num_connects} ", "-o", "/dev/null", "-o",
                "/dev/null",
                "-o", "/dev/null", "https://localhost:\(port)/", "https://localhost:\(port)/style.css",
                "https://localhost:\(port)/docs/a.txt",
            ])
        #expect(reused.output == "1 0 0 ", "\(reused.output)")
        // The key and certificate are never served.
        let key = try project.curl(port, "/../certs/localhost-key.pem", ["--path-as-is", "-o", "/dev/null"])
        #expect(!key.output.hasSuffix(" 200"))
        #expect(try server.stop() == 0)
    }

    @Test func manyLongPollsWaitOnOneHTTP2ConnectionAndAllHearOfAChange() throws {
        let project = try Project()
        let server = try project.serve(["--tls"])
        let port = try server.waitForHTTPSPort()
        let state = try project.curl(port, "/__devserve/poll")
        let boot = try #require(state.output.split(separator: "\"").dropFirst(3).first)
        let url = "https://localhost:\(port)/__devserve/poll?boot=\(boot)&since=0"
        let polls = 20
        let waiting = Process()
        waiting.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        waiting.arguments =
            [
                "-sS", "--http2", "--parallel", "--parallel-max", "\(polls)", "--max-time", "20", "--cacert",
                project.ca,
                "-w", "\n%{http_code} %{num_connects}\n",
            ] + Array(repeating: url, count: polls)
        let pipe = Pipe()
        waiting.standardOutput = pipe
        try waiting.run()
        // Whether the polls are already waiting or not, the change answers them: since=0 is behind.
        try "body{color:blue}".write(toFile: project.site + "/style.css", atomically: false, encoding: .utf8)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        waiting.waitUntilExit()
        let answers = output.components(separatedBy: "\"path\":\"/style.css\"").count - 1
        #expect(answers == polls, "\(output)")
        let connections = output.split(separator: "\n").filter { $0.hasPrefix("200 ") }.map {
            Int($0.split(separator: " ")[1]) ?? -1
        }
        #expect(connections.count == polls)
        #expect(connections.reduce(0, +) == 1, "all polls share one connection: \(connections)")
        #expect(try server.stop() == 0)
    }

    @Test func onlyTLS12And13WithStrongCiphersAreAccepted() throws {
        let project = try Project()
        let server = try project.serve(["--tls"])
        let port = try server.waitForHTTPSPort()
        func handshake(_ options: [String]) throws -> String {
            try Tool.run(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-CAfile", project.ca]
                    + options, input: ""
            ).output
        }
        let tls13 = try handshake(["-tls1_3"])
        #expect(tls13.contains("New, TLSv1.3"), "\(tls13)")
        #expect(tls13.contains("Verify return code: 0 (ok)"))
        let tls12 = try handshake(["-tls1_2"])
        #expect(tls12.contains("New, TLSv1.2, Cipher is ECDHE-ECDSA-"), "\(tls12)")
        #expect(tls12.contains("Verify return code: 0 (ok)"))
        // The client is allowed to offer them (SECLEVEL=0); the server must refuse.
        let tls11 = try handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(tls11.contains("alert protocol version"), "\(tls11)")
        #expect(tls11.contains("Cipher is (NONE)"))
        for weak in ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA"] {
            let refused = try handshake(["-tls1_2", "-cipher", weak])
            #expect(refused.contains("Cipher is (NONE)"), "\(weak): \(refused)")
        }
        let weakGroup = try handshake(["-tls1_3", "-groups", "ffdhe2048"])
        #expect(weakGroup.contains("Cipher is (NONE)") || !weakGroup.contains("New, TLSv1.3"), "\(weakGroup)")
        #expect(try server.stop() == 0)
    }

    @Test func plainHTTPOnTheTLSPortIsRedirectedAndBadClientsHurtNoOne() throws {
        let project = try Project()
        let server = try project.serve(["--tls"])
        let port = try server.waitForHTTPSPort()
        let plain = try HTTP.get("/docs/a.txt?x=1", port: port, hostHeader: "localhost:\(port)")
        #expect(plain.status == 307, "\(plain.head)")
        #expect(plain.head.contains("Location: https://localhost:\(port)/docs/a.txt?x=1"))
        let foreign = try HTTP.get("/", port: port, hostHeader: "evil.example")
        #expect(foreign.status == 403)

        // Garbage, a truncated handshake and a silent client, each on its own connection.
        let garbage = try RawSocket(port: port)
        garbage.send(Array("\u{16}\u{03}\u{01}\u{00}\u{05}hello, this is not TLS".utf8))
        let truncated = try RawSocket(port: port)
        truncated.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        let silent = try RawSocket(port: port)
        #expect(garbage.readUntilClosed().count < 100, "an alert at most, then closed")
        let during = try project.curl(port, "/docs/a.txt")
        #expect(during.output == "alpha\n2 200")
        truncated.close()
        silent.close()
        let after = try project.curl(port, "/docs/a.txt", ["--http1.1"])
        #expect(after.output == "alpha\n1.1 200")
        #expect(server.process.isRunning)
        #expect(try server.stop() == 0)
    }

    @Test func aClientThatDistrustsTheCertificateIsExplainedOnce() throws {
        let project = try Project()
        let server = try project.serve(["--tls"])
        let port = try server.waitForHTTPSPort()
        for _ in 0..<3 {
            let refused = try Tool.run("/usr/bin/curl", ["-sS", "https://localhost:\(port)/docs/a.txt"])
            #expect(refused.status != 0, "curl without the CA must refuse")
        }
        let trusted = try project.curl(port, "/docs/a.txt")
        #expect(trusted.output == "alpha\n2 200")
        // The command names the binary as it was started, so it can be pasted as it is.
        let sentence =
            "A client refused the certificate (it does not trust the local CA): run `\(DevServeProcess.binary) trust` once"
        #expect(server.errorOutput.components(separatedBy: sentence).count - 1 == 1, "\(server.errorOutput)")
        #expect(try server.stop() == 0)
    }

    @Test func theUsersOwnCertificateAndKeyAreServedAndNeverListed() throws {
        let project = try Project()
        try FileManager.default.createDirectory(atPath: project.site + "/tls", withIntermediateDirectories: true)
        let cert = project.site + "/tls/own.pem"
        let key = project.site + "/tls/own-key.pem"
        try Tool.selfSigned(certificate: cert, key: key, days: 2)
        let server = try project.serve(["--cert", "site/tls/own.pem", "--key", "site/tls/own-key.pem"])
        let port = try server.waitForHTTPSPort()
        #expect(!FileManager.default.fileExists(atPath: project.folder.path + "/certs"), "no local certificate made")
        let page = try Tool.run(
            "/usr/bin/curl",
            ["-sS", "--cacert", cert, "-w", "\n%{http_code}", "https://localhost:\(port)/docs/a.txt"])
        #expect(page.output == "alpha\n200", "\(page.output)")
        for path in ["/tls/own-key.pem", "/tls/own.pem"] {
            let refused = try Tool.run(
                "/usr/bin/curl",
                [
                    "-sS", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}",
                    "https://localhost:\(port)\(path)",
                ])
            #expect(refused.output == "404", "\(path)")
        }
        let listing = try Tool.run("/usr/bin/curl", ["-sS", "--cacert", cert, "https://localhost:\(port)/tls/"])
        #expect(listing.output.contains("Index of") || listing.output.contains("<table"), "\(listing.output)")
        #expect(!listing.output.contains("own-key.pem") && !listing.output.contains("own.pem"))
        #expect(try server.stop() == 0)
    }

    @Test func theLocalCAsFilesAreNeverServedEvenInsideTheRoot() throws {
        let project = try Project()
        // The CA's folder inside the served folder (XDG_DATA_HOME pointing into it).
        let data = project.site + "/data"
        let server = try DevServeProcess(
            ["site", "--port", "0", "--tls"], workingDirectory: project.folder.path,
            environment: ["XDG_DATA_HOME": data])
        let port = try server.waitForHTTPSPort()
        let ca = data + "/devserve/ca.pem"
        #expect(FileManager.default.fileExists(atPath: data + "/devserve/ca-key.pem"))
        for path in ["/data/devserve/ca-key.pem", "/data/devserve/ca.pem"] {
            let refused = try Tool.run(
                "/usr/bin/curl",
                ["-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:\(port)\(path)"])
            #expect(refused.output == "404", "\(path): \(refused.output)")
        }
        let listing = try Tool.run(
            "/usr/bin/curl", ["-sS", "--cacert", ca, "https://localhost:\(port)/data/devserve/"])
        #expect(!listing.output.contains("ca-key.pem") && !listing.output.contains("ca.pem"), "\(listing.output)")
        #expect(try server.stop() == 0)
        // Without --tls too: the CA may exist from an earlier `devserve trust`.
        let plain = try DevServeProcess(
            ["site", "--port", "0"], workingDirectory: project.folder.path, environment: ["XDG_DATA_HOME": data])
        let plainPort = try plain.waitForPort()
        #expect(try HTTP.get("/data/devserve/ca-key.pem", port: plainPort).status == 404)
        #expect(try plain.stop() == 0)
    }

    @Test func anHTTP2HeaderTheProtocolForbidsIsLeftOutNotFatal() throws {
        let project = try Project()
        let server = try project.serve(["--tls", "--header", "Proxy-Connection: keep-alive", "--header", "TE: gzip"])
        let port = try server.waitForHTTPSPort()
        let h2 = try project.curl(port, "/docs/a.txt", ["-D", "-"])
        #expect(h2.output.hasSuffix("alpha\n2 200"), "\(h2.output)")
        #expect(!h2.output.lowercased().contains("proxy-connection"))
        #expect(!h2.output.lowercased().contains("\nte:"))
        #expect(try server.stop() == 0)
    }

    @Test func anExpiredCertificateIsServedWithAWarning() throws {
        let project = try Project()
        let cert = project.folder.path + "/old.pem"
        let key = project.folder.path + "/old-key.pem"
        try Tool.expired(certificate: cert, key: key)
        let server = try project.serve(["--cert", cert, "--key", key])
        let port = try server.waitForHTTPSPort()
        #expect(
            server.errorOutput.contains("has expired") && server.errorOutput.contains(cert), "\(server.errorOutput)")
        let insecure = try Tool.run("/usr/bin/curl", ["-sSk", "https://localhost:\(port)/docs/a.txt"])
        #expect(insecure.output == "alpha")
        let checked = try Tool.run("/usr/bin/curl", ["-sS", "--cacert", cert, "https://localhost:\(port)/docs/a.txt"])
        #expect(checked.status != 0, "curl must refuse the expired certificate")
        #expect(try server.stop() == 0)
    }

    @Test func badCertificateInputGetsOneSentenceAndExitsNonZero() throws {
        let project = try Project()
        let root = project.folder.path
        try Tool.selfSigned(certificate: root + "/a.pem", key: root + "/a-key.pem", days: 2)
        try Tool.selfSigned(certificate: root + "/b.pem", key: root + "/b-key.pem", days: 2)
        _ = try Tool.run(
            "/usr/bin/openssl",
            ["pkey", "-in", root + "/a-key.pem", "-aes256", "-passout", "pass:secret", "-out", root + "/locked.pem"])
        try project.folder.write("garbage.pem", "not a certificate at all\n")
        try project.folder.write("blocker", "a file where the CA folder should be")

        let cases: [(arguments: [String], environment: [String: String]?, says: [String])] = [
            (["--cert", "missing.pem", "--key", "a-key.pem"], nil, ["missing.pem", "could not be read"]),
            (["--cert", "a-key.pem", "--key", "a-key.pem"], nil, ["a-key.pem", "is a private key"]),
            (["--cert", "a.pem", "--key", "a.pem"], nil, ["a.pem", "holds no PEM private key"]),
            (["--cert", "garbage.pem", "--key", "a-key.pem"], nil, ["garbage.pem", "holds no PEM certificate"]),
            (["--cert", "a.pem", "--key", "b-key.pem"], nil, ["b-key.pem", "does not belong to the certificate"]),
            (["--cert", "a.pem", "--key", "locked.pem"], nil, ["locked.pem", "encrypted", "openssl pkey"]),
            (["--cert", "a.pem"], nil, ["--cert needs --key"]),
            (["--key", "a-key.pem"], nil, ["--key needs --cert"]),
            (["--tls"], ["XDG_DATA_HOME": root + "/blocker/data"], ["blocker", "not writable"]),
        ]
        for (arguments, environment, says) in cases {
            let run = try DevServeProcess(
                ["site", "--port", "0"] + arguments, workingDirectory: root,
                environment: environment ?? ["XDG_DATA_HOME": project.data.path])
            let status = try run.waitForExit()
            #expect(status != 0, "\(arguments) should fail")
            let said = run.errorOutput
            for phrase in says { #expect(said.contains(phrase), "\(arguments): \(said)") }
            #expect(said.split(separator: "\n").count <= 3, "\(arguments): one sentence, not a trace: \(said)")
            #expect(!run.output.contains("https://"), "nothing listens")
        }
    }

    /// A key of the user's at certs/localhost-key.pem with no certificate beside it is theirs:
    /// `--tls` stops with a sentence and leaves it as it was, and makes no certificate.
    @Test func aLoneKeyInCertsIsNeverReplaced() throws {
        let project = try Project()
        let root = project.folder.path
        try FileManager.default.createDirectory(atPath: root + "/certs", withIntermediateDirectories: true)
        try Tool.selfSigned(certificate: root + "/mine.pem", key: root + "/certs/localhost-key.pem", days: 30)
        let before = try Data(contentsOf: URL(fileURLWithPath: root + "/certs/localhost-key.pem"))
        let run = try project.serve(["--tls"])
        #expect(try run.waitForExit() != 0)
        let said = run.errorOutput
        #expect(said.contains("certs/localhost-key.pem' is there without its certificate"), "\(said)")
        #expect(said.contains("will not replace it"), "\(said)")
        #expect(!run.output.contains("https://"), "nothing listens")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/certs/localhost-key.pem")) == before)
        #expect(!FileManager.default.fileExists(atPath: root + "/certs/localhost.pem"))
    }

    @Test func port443PrintsTheURLWithoutAPortOrSaysHowToAllowIt() throws {
        let project = try Project()
        let cert = project.folder.path + "/own.pem"
        let key = project.folder.path + "/own-key.pem"
        try Tool.selfSigned(certificate: cert, key: key, days: 2)
        chmod(key, 0o644)  // readable by the unprivileged user below
        let refused = try DevServeProcess(
            ["site", "--cert", cert, "--key", key, "--port", "443"], workingDirectory: project.folder.path,
            asNobody: true)
        #expect(try refused.waitForExit() != 0)
        #expect(refused.errorOutput.contains("setcap cap_net_bind_service"), "\(refused.errorOutput)")

        guard getuid() == 0 else { return }  // binding 443 needs root (or the capability)
        let server = try project.serve(["--tls", "--port", "443", "--host", "127.0.0.1"])
        let banner = try server.waitForOutput(containing: "HTTPS: on")
        #expect(banner.contains("https://127.0.0.1/\n"), "\(banner)")
        let page = try Tool.run(
            "/usr/bin/curl",
            [
                "-sS", "--cacert", project.ca, "--resolve", "localhost:443:127.0.0.1",
                "https://localhost/docs/a.txt",
            ])
        #expect(page.output == "alpha")
        #expect(try server.stop() == 0)
    }
}

extension DevServeProcess {
    /// The port of the first `https://127.0.0.1:PORT/` URL in the start-up block.
    func waitForHTTPSPort() throws -> Int {
        let text = try waitForOutput(containing: "https://127.0.0.1:")
        guard let range = text.range(of: #"https://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) else {
            throw CLITestError("no URL in \(text)")
        }
        return Int(text[range].dropFirst("https://127.0.0.1:".count).dropLast()) ?? 0
    }
}

/// Test certificates and files made with the tools.
extension Tool {
    static func randomFile(at path: String, bytes: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// A self-signed ECDSA certificate for localhost, as a user might bring from elsewhere.
    static func selfSigned(certificate: String, key: String, days: Int) throws {
        let made = try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                "-out",
                certificate, "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days",
                "\(days)",
            ])
        guard made.status == 0 else { throw CLITestError("openssl req failed: \(made.output)") }
    }

    /// A certificate whose validity ended yesterday (`openssl ca` is the tool that takes dates).
    static func expired(certificate: String, key: String) throws {
        let folder = (certificate as NSString).deletingLastPathComponent + "/expired-ca"
        try FileManager.default.createDirectory(atPath: folder + "/new", withIntermediateDirectories: true)
        try "".write(toFile: folder + "/index.txt", atomically: false, encoding: .utf8)
        try "01\n".write(toFile: folder + "/serial", atomically: false, encoding: .utf8)
        let config = """
            [ca]
            default_ca = local
            [local]
            dir = \(folder)
            database = \(folder)/index.txt
            new_certs_dir = \(folder)/new
            serial = \(folder)/serial
            default_md = sha256
            policy = anything
            copy_extensions = copy
            [anything]
            commonName = supplied
            """
        try config.write(toFile: folder + "/ca.cnf", atomically: false, encoding: .utf8)
        try selfSigned(certificate: folder + "/request-signer.pem", key: key, days: 2)
        let request = folder + "/request.csr"
        let csr = try run(
            "/usr/bin/openssl",
            [
                "req", "-new", "-key", key, "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-out",
                request,
            ])
        guard csr.status == 0 else { throw CLITestError("openssl req -new failed: \(csr.output)") }
        let signed = try run(
            "/usr/bin/openssl",
            [
                "ca", "-batch", "-config", folder + "/ca.cnf", "-selfsign", "-keyfile", key, "-in", request, "-out",
                certificate, "-startdate", "20240101000000Z", "-enddate", "20250101000000Z", "-notext",
            ])
        guard signed.status == 0 else { throw CLITestError("openssl ca failed: \(signed.output)") }
    }
}
