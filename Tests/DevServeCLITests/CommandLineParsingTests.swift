import ArgumentParser
import DevServeServer
import DevServeSite
import Foundation
import Testing

@testable import DevServeCLI

/// Flags as parsed and turned into a launch plan (no process, no sockets).
@Suite struct CommandLineParsingTests {
    func plan(_ arguments: [String], cwd: String) throws -> LaunchPlan {
        let command = try ServeCommand.parse(arguments)
        return try LaunchPlan(options: command, workingDirectory: cwd)
    }

    @Test func defaultsServeTheCurrentFolderOnLoopbackPort8080() throws {
        let folder = try TempFolder()
        let plan = try plan([], cwd: folder.path)
        let real = try #require(realpath(folder.path, nil).map { String(cString: $0) })
        #expect(plan.configuration.root == real)
        #expect(plan.listenHosts == ["127.0.0.1", "::1"])
        #expect(plan.port == .preferred(8080, attempts: LaunchPlan.defaultPortAttempts))
        #expect(plan.configuration.logRequests)
        #expect(plan.configuration.liveReload)
        #expect(!plan.configuration.spa)
        #expect(plan.configuration.policy.corsOrigins.isEmpty)
    }

    @Test func everyFlagReachesTheConfiguration() throws {
        let folder = try TempFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/site", withIntermediateDirectories: true)
        let plan = try plan(
            [
                "site", "-p", "0", "-H", "127.0.0.1", "--host", "::1", "--spa", "--no-reload", "--quiet",
                "--header", "X-Frame-Options: DENY", "--header", "X-Test:  two words", "--cors",
                "http://localhost:3000",
                "--allow-host", "myapp.test",
            ], cwd: folder.path)
        #expect(plan.configuration.root.hasSuffix("/site"))
        #expect(plan.port == .any)
        #expect(plan.listenHosts == ["127.0.0.1", "::1"])
        #expect(plan.configuration.spa)
        #expect(!plan.configuration.liveReload)
        #expect(!plan.configuration.logRequests)
        #expect(plan.configuration.extraHeaders.map(\.name) == ["X-Frame-Options", "X-Test"])
        #expect(plan.configuration.extraHeaders.map(\.value) == ["DENY", "two words"])
        #expect(plan.configuration.policy.corsOrigins == ["http://localhost:3000"])
        #expect(plan.configuration.policy.allowedHosts == ["myapp.test"])
    }

    @Test func portRules() throws {
        let folder = try TempFolder()
        #expect(try plan(["--port", "9000"], cwd: folder.path).port == .exact(9000))
        #expect(try plan(["--port", "0"], cwd: folder.path).port == .any)
        #expect(try plan(["--host", "localhost"], cwd: folder.path).listenHosts == ["127.0.0.1", "::1"])
        #expect(try plan(["--host", "[::1]"], cwd: folder.path).listenHosts == ["::1"])
        #expect(try plan(["--lan"], cwd: folder.path).listenHosts == ["0.0.0.0", "::"])
    }

    @Test func theTLSFilesInCertsAreProtected() throws {
        let folder = try TempFolder()
        let plan = try plan([], cwd: folder.path)
        #expect(plan.configuration.protectedPaths.contains(folder.path + "/certs/localhost-key.pem"))
        #expect(plan.configuration.protectedPaths.contains(folder.path + "/certs/localhost.pem"))
    }

    @Test(arguments: [
        (["--port", "70000"], "--port 70000 is not a port number"),
        (["--port=-1"], "--port -1 is not a port number"),
        (["--port", "http"], "port"),
        (["--header", "NoColon"], "is not 'Name: value'"),
        (["--header", "Bad Name: x"], "has an invalid name"),
        (["--header", "Content-Length: 5"], "is set by devserve itself"),
        // Names devserve sets would go out twice.
        (["--header", "Content-Type: text/plain"], "is set by devserve itself"),
        (["--header", "cache-control: max-age=9"], "is set by devserve itself"),
        (["--header", "Cross-Origin-Resource-Policy: cross-origin"], "is set by devserve itself"),
        (["--header", "X-Long: " + String(repeating: "a", count: 5000)], "keep it under 4096"),
        (["--cors", "localhost:3000"], "is not an origin"),
        (["--allow-host", "bad host"], "is not a host name"),
        (["--allow-host", "*.com"], "would accept every site under it"),
        (["--allow-host", ".COM"], "would accept every site under it"),
        (["--allow-host", "*.co.uk"], "would accept every site under it"),
        (["--allow-host", "*.trycloudflare.com"], "would accept every site under it"),
        // From the Public Suffix List (Debian's publicsuffix): anyone can register under these.
        (["--allow-host", "*.co.il"], "would accept every site under it"),
        (["--allow-host", "*.com.sg"], "would accept every site under it"),
        (["--allow-host", "*.eu.org"], "would accept every site under it"),
        (["--allow-host", ".duckdns.org"], "would accept every site under it"),
        (["--allow-host", "*.xn--55qx5d.cn"], "would accept every site under it"),  // 公司.cn
        (["--host", "bad host!"], "is not an address"),
        (["--quiet", "--verbose"], "contradict"),
    ])
    func usageErrorsNameTheProblem(_ arguments: [String], _ message: String) {
        do {
            _ = try ServeCommand.parse(arguments)
            Issue.record("\(arguments) parsed")
        } catch {
            #expect(ServeCommand.message(for: error).contains(message), "\(ServeCommand.message(for: error))")
        }
    }

    @Test func allowHostTakesOwnDomainsAndTheirSubdomains() throws {
        for name in [
            "*.example.com", ".myapp.test", "myapp.trycloudflare.com", "*.dev.myapp.co.uk", "devbox", "*.localhost",
            "*.myname.duckdns.org",
        ] {
            #expect(throws: Never.self, "\(name)") { _ = try ServeCommand.parse(["--allow-host", name]) }
        }
    }

    @Test func rootProblemsAreSentences() throws {
        let folder = try TempFolder()
        try folder.write("file.txt", "x")
        #expect(throws: CLIError.rootMissing("nope")) { try plan(["nope"], cwd: folder.path) }
        #expect(throws: CLIError.rootIsFile("file.txt")) { try plan(["file.txt"], cwd: folder.path) }
        #expect(CLIError.rootMissing("nope").description.hasPrefix("The folder 'nope' does not exist"))
        // A loop of links is named as one, not as a missing folder.
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/loop1", withDestinationPath: "loop2")
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/loop2", withDestinationPath: "loop1")
        #expect(throws: CLIError.rootIsALoop("loop1")) { try plan(["loop1"], cwd: folder.path) }

        // --watch gets the same checks, with the fix that fits it.
        let missing = CLIError.watchFolder("nope", problem: .rootMissing("nope"))
        #expect(throws: missing) { try plan([".", "--watch", "nope"], cwd: folder.path) }
        #expect(
            missing.description == "--watch 'nope' does not exist: pass a folder whose changes should reload pages.")
        #expect(throws: CLIError.watchFolder("file.txt", problem: .rootIsFile("file.txt"))) {
            try plan([".", "--watch", "file.txt"], cwd: folder.path)
        }
    }

    /// The list's own rules: a wildcard makes every name under it a suffix, an exception
    /// takes one back.
    @Test func publicSuffixRulesReadAsTheListMeansThem() {
        let list = PublicSuffixList(text: "// comment\ncom\n*.ck\n!www.ck\nco.il  trailing words\n\n")
        #expect(list.isPublicSuffix("com"))
        #expect(list.isPublicSuffix("co.il"))
        #expect(list.isPublicSuffix("anything.ck"))
        #expect(!list.isPublicSuffix("www.ck"))
        #expect(!list.isPublicSuffix("example.com"))
        #expect(!list.isPublicSuffix("ck.example"))
        #expect(HostArgument.isTooBroad("*.co.il", suffixes: list))
        #expect(!HostArgument.isTooBroad("*.myapp.co.il", suffixes: list))
        // Unicode rules match the punycode browsers and users write.
        let idn = PublicSuffixList(text: "公司.cn\nac.ไทย\n*.рф\n")
        #expect(idn.isPublicSuffix("xn--55qx5d.cn"))
        #expect(idn.isPublicSuffix("ac.xn--o3cw4h"))
        #expect(idn.isPublicSuffix("com.xn--p1ai"))
        #expect(!idn.isPublicSuffix("myshop.xn--55qx5d.cn"))
    }

    /// RFC 3492's own samples, and the labels of the Public Suffix List.
    @Test(arguments: [
        ("bücher", "xn--bcher-kva"), ("公司", "xn--55qx5d"), ("政府", "xn--mxtq1m"), ("ไทย", "xn--o3cw4h"),
        ("рф", "xn--p1ai"), ("münchen.de", "xn--mnchen-3ya.de"), ("example.com", "example.com"),
    ])
    func punycodeEncodesLabelsAsBrowsersSendThem(_ unicode: String, _ ascii: String) {
        #expect(Punycode.asciiName(unicode) == ascii)
    }
}
