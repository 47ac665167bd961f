import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real binary, started as a user starts it: exit codes, messages, the start-up block, logs.
@Suite(.serialized) struct CommandLineProcessTests {
    @Test func startsOnBothLoopbacksAndLogsRequests() throws {
        let folder = try TempFolder()
        try folder.write("index.html", "<h1>home</h1>")
        let server = try DevServeProcess([folder.path, "--port", "0"])
        let port = try server.waitForPort()
        let banner = server.output
        let real = try #require(realpath(folder.path, nil).map { String(cString: $0) })
        #expect(banner.contains("serving \(real)"))
        #expect(banner.contains("http://localhost:\(port)/"))
        #expect(banner.contains("http://[::1]:\(port)/"))
        let home = try HTTP.get("/", port: port).body
        #expect(home.hasPrefix("<h1>home</h1>"))
        #expect(home.contains("<script src=\"/__devserve/client.js\""), "live reload is on by default")
        #expect(try HTTP.get("/", port: port, host: "::1").status == 200)
        #expect(try HTTP.get("/missing", port: port).status == 404)
        try server.waitForOutput(containing: "GET /missing 404")
        #expect(server.output.contains("GET / 200 "))
        #expect(try server.stop() == 0, "SIGTERM stops cleanly")
    }

    /// A SIGTERM sent the moment the start-up block shows (a script, a process manager, a quick
    /// Ctrl-C) stops devserve cleanly: the handlers are in place before anything is printed.
    @Test func aStopSentAsSoonAsTheStartUpBlockShowsIsHonoured() throws {
        let folder = try TempFolder()
        for _ in 0..<12 {
            let server = try DevServeProcess([folder.path, "--port", "0"])
            let deadline = Date().addingTimeInterval(15)
            while !server.output.contains("http://127.0.0.1:") && server.process.isRunning && Date() < deadline {
                usleep(500)
            }
            #expect(try server.stop() == 0)
            #expect(server.process.terminationReason == .exit, "it exits on its own, not killed by the signal")
        }
    }

    @Test func controlCharactersInTheLogAreEscaped() throws {
        let folder = try TempFolder()
        let server = try DevServeProcess([folder.path, "--port", "0"])
        let port = try server.waitForPort()
        #expect(try HTTP.get("/a%1B[31mred%0Aline", port: port).status == 400)
        // A raw escape byte in the target never parses; the log says so without echoing it.
        #expect(try HTTP.get("/\u{1B}[31mraw", port: port).status == 400)
        try server.waitForOutput(containing: "must be percent-encoded) 400")
        let log = server.output
        #expect(log.contains("GET /a%1B[31mred%0Aline 400"))
        #expect(!log.contains("\u{1B}"), "no raw escape byte reaches the terminal")
        _ = try server.stop()
    }

    @Test func openStartsTheBrowserAtTheServedURL() throws {
        let folder = try TempFolder()
        let bin = folder.path + "/bin"
        let record = folder.path + "/opened.txt"
        try folder.write("bin/xdg-open", "#!/bin/sh\necho \"$1\" > \(record)\n")
        chmod(bin + "/xdg-open", 0o755)
        let server = try DevServeProcess(
            [folder.path, "--port", "0", "--open"], environment: ["PATH": bin + ":/usr/bin:/bin"])
        let port = try server.waitForPort()
        var opened = ""
        for _ in 0..<250 where opened.isEmpty {
            opened = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
            usleep(20_000)
        }
        #expect(opened == "http://localhost:\(port)/\n")
        _ = try server.stop()
    }

    @Test func aSaveReachesAWaitingPollAndTheLog() async throws {
        let folder = try TempFolder()
        try folder.write("page.html", "<p>one</p>")
        let server = try DevServeProcess([folder.path, "--port", "0"])
        let port = try server.waitForPort()
        let status = try HTTP.get("/__devserve/poll", port: port).body
        let boot = try #require(status.split(separator: "\"").dropFirst(3).first.map(String.init))
        let poll = Task.detached {
            try HTTP.get("/__devserve/poll?boot=\(boot)&since=0", port: port, timeoutSeconds: 20)
        }
        // Saves until the watcher (set up on its own thread after start) reports one; bounded.
        var seen = false
        for attempt in 0..<40 where !seen {
            try folder.write("page.html", "<p>edit \(attempt)</p>")
            seen = (try? server.waitForOutput(containing: "reload: /page.html (modified)", seconds: 0.25)) != nil
        }
        #expect(seen)
        let answer = try await poll.value
        #expect(answer.status == 200)
        #expect(answer.body.contains(#""path":"/page.html","kind":"modified""#))
        #expect(try server.waitForOutput(containing: " told").contains("waiting client"))
        kill(server.process.processIdentifier, SIGHUP)
        try server.waitForOutput(containing: "reload: everything (SIGHUP)")
        #expect(try server.stop() == 0)
    }

    @Test func quietLogsNoRequests() throws {
        let folder = try TempFolder()
        try folder.write("index.html", "x")
        let server = try DevServeProcess([folder.path, "--port", "0", "--quiet"])
        let port = try server.waitForPort()
        #expect(try HTTP.get("/", port: port).status == 200)
        #expect(try HTTP.get("/index.html", port: port).status == 200)
        _ = try server.stop()
        #expect(!server.output.contains("GET /"))
    }

    @Test func busyDefaultPortMovesToTheNextAndSaysSo() throws {
        let folder = try TempFolder()
        let holder = HTTP.occupy(port: 8080)
        defer { if let holder { close(holder) } }
        let server = try DevServeProcess([folder.path])
        let port = try server.waitForPort()
        #expect(port != 8080)
        #expect(port > 8080 && port < 8100)
        #expect(server.output.contains("Port 8080 is in use; serving on port \(port) instead."))
        _ = try server.stop()
    }

    @Test func busyExplicitPortIsAnError() throws {
        let folder = try TempFolder()
        let port = HTTP.freePort()
        let holder = try #require(HTTP.occupy(port: port))
        defer { close(holder) }
        let server = try DevServeProcess([folder.path, "--port", String(port), "--host", "127.0.0.1"])
        #expect(try server.waitForExit() != 0)
        #expect(server.errorOutput.contains("Port \(port) is already in use"))
        #expect(server.output.isEmpty, "nothing is served")
    }

    @Test(arguments: [
        (["/definitely/not/here"], "The folder '/definitely/not/here' does not exist"),
        (["--port", "70000"], "--port 70000 is not a port number"),
        (["--port", "-1"], "--port -1 is not a port number"),
        (["--host", "bad host!"], "is not an address"),
        (["--host", "203.0.113.7", "--port", "0"], "Cannot listen on 203.0.113.7"),
        (["--host", "fe80::1", "--port", "0"], "Cannot listen on fe80::1:"),
        (["--header", "oops"], "is not 'Name: value'"),
    ])
    func badInputGetsOneSentenceAndANonZeroExit(_ arguments: [String], _ message: String) throws {
        let server = try DevServeProcess(arguments)
        let status = try server.waitForExit()
        #expect(status != 0)
        #expect(server.errorOutput.contains(message), "stderr: \(server.errorOutput)")
        #expect(!server.output.contains("http://"), "nothing is served")
    }

    @Test(arguments: [["--help"], ["-h"], ["help"]])
    func helpShowsTheServeOptionsFirstThenTheSubcommands(_ arguments: [String]) throws {
        let result = try Tool.run(DevServeProcess.binary, arguments)
        #expect(result.status == 0)
        let text = result.output
        #expect(text.contains("USAGE: devserve [<root>] [<options>]"), "\(text)")
        let port = try #require(text.range(of: "-p, --port <port>"), "\(text)")
        let tls = try #require(text.range(of: "--tls"))
        let subcommands = try #require(text.range(of: "SUBCOMMANDS:"))
        #expect(port.lowerBound < subcommands.lowerBound && tls.lowerBound < subcommands.lowerBound)
        for name in ["serve (default)", "cert", "trust", "--version"] { #expect(text.contains(name), "\(name)") }
    }

    @Test func helpForEachSubcommandStillWorks() throws {
        let serve = try Tool.run(DevServeProcess.binary, ["help", "serve"])
        #expect(serve.status == 0)
        #expect(serve.output.contains("--no-reload") && !serve.output.contains("SUBCOMMANDS:"), "\(serve.output)")
        let cert = try Tool.run(DevServeProcess.binary, ["cert", "--help"])
        #expect(cert.status == 0)
        #expect(cert.output.contains("--name") && !cert.output.contains("--no-reload"), "\(cert.output)")
    }

    @Test func aRootThatIsAFileIsAnError() throws {
        let folder = try TempFolder()
        try folder.write("page.html", "x")
        let server = try DevServeProcess([folder.path + "/page.html"])
        #expect(try server.waitForExit() != 0)
        #expect(server.errorOutput.contains("is a file, not a folder"))
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run the binary as another user"))
    func anUnreadableRootIsAnError() throws {
        let folder = try TempFolder()
        chmod(folder.path, 0o700)  // root's, unreadable to nobody
        let server = try DevServeProcess([folder.path, "--port", "0"], asNobody: true)
        #expect(try server.waitForExit() != 0)
        #expect(server.errorOutput.contains("cannot be read (permission denied)"), "stderr: \(server.errorOutput)")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run the binary as another user"))
    func aPrivilegedPortWithoutPermissionSaysHow() throws {
        let folder = try TempFolder()
        chmod(folder.path, 0o755)
        let server = try DevServeProcess([folder.path, "--port", "80", "--host", "127.0.0.1"], asNobody: true)
        #expect(try server.waitForExit() != 0)
        let message = server.errorOutput
        #expect(message.contains("Port 80 needs privileges"), "stderr: \(message)")
        #expect(message.contains("setcap"))
        #expect(message.contains("--port 8080"))
    }
}
