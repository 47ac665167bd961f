import Foundation
import Testing

@testable import DevServeCLI

/// `devserve trust` as a user runs it, with every store a temp one: HOME (NSS databases), the CA
/// (XDG_DATA_HOME), the system anchor folder and its update command (a script that leaves a marker).
@Suite struct TrustCommandTests {
    @Test func trustAddsTheCAEverywhereOnceAndUninstallTakesItOut() throws {
        let sandbox = try TrustSandbox()
        let chromium = sandbox.home + "/.pki/nssdb"
        let firefox = sandbox.home + "/.mozilla/firefox/abcd1234.default-release"
        let snapFirefox = sandbox.home + "/snap/firefox/common/.mozilla/firefox/old.default"
        try Certutil.makeDatabase("sql:" + chromium)
        try Certutil.makeDatabase("sql:" + firefox)
        try Certutil.makeDatabase("dbm:" + snapFirefox)  // a profile from before Firefox 58: cert8.db
        let databases = ["sql:" + chromium, "sql:" + firefox, "dbm:" + snapFirefox]

        let first = try sandbox.run(["trust"])
        #expect(first.status == 0, "\(first.output)\(first.error)")
        #expect(first.output.contains("System store (\(sandbox.anchors)): installed \(sandbox.anchor) and ran"))
        let caPEM = try String(contentsOfFile: sandbox.caPath, encoding: .utf8)
        #expect(try String(contentsOfFile: sandbox.anchor, encoding: .utf8) == caPEM)
        #expect(sandbox.updateRuns == 1)
        for database in databases {
            let entry = try #require(try Certutil.ours(in: database), "no devserve CA in \(database)")
            #expect(entry.trust == "C,,")
            #expect(Certutil.base64(try Certutil.exportPEM(entry.nickname, from: database)) == Certutil.base64(caPEM))
            #expect(first.output.contains("NSS database \(database.dropFirst(4)): added \"\(entry.nickname)\""))
        }

        let second = try sandbox.run(["trust"])
        #expect(second.status == 0)
        #expect(second.output.components(separatedBy: "already trusted").count - 1 == 4, "\(second.output)")
        #expect(sandbox.updateRuns == 1)

        let removal = try sandbox.run(["trust", "--uninstall"])
        #expect(removal.status == 0, "\(removal.output)\(removal.error)")
        #expect(removal.output.contains("System store (\(sandbox.anchors)): removed \(sandbox.anchor) and ran"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.anchor))
        #expect(sandbox.updateRuns == 2)
        for database in databases {
            #expect(try Certutil.ours(in: database) == nil)
            #expect(removal.output.contains("NSS database \(database.dropFirst(4)): removed"))
        }
        let again = try sandbox.run(["trust", "--uninstall"])
        #expect(again.status == 0)
        #expect(again.output.components(separatedBy: "nothing to remove").count - 1 == 4, "\(again.output)")
        #expect(sandbox.updateRuns == 2)
    }

    /// Firefox 147+ keeps profiles.ini under $XDG_CONFIG_HOME/mozilla/firefox; its profiles may be
    /// relative to it or anywhere (IsRelative=0). Each one with a cert9.db is changed and named; one
    /// Firefox never started in gets the sentence that says what to do.
    @Test func firefoxProfilesListedInEveryProfilesIniAreTrustedAndUntrusted() throws {
        let sandbox = try TrustSandbox()
        let root = sandbox.home + "/.config/mozilla/firefox"
        let relative = root + "/Profiles/k3j2.default-release"
        let elsewhere = sandbox.folder.path + "/elsewhere/work profile"
        let fresh = root + "/Profiles/never.started"
        try Certutil.makeDatabase("sql:" + relative)
        try Certutil.makeDatabase("sql:" + elsewhere)
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        try sandbox.folder.write(
            "home/.config/mozilla/firefox/profiles.ini",
            """
            [General]
            StartWithLastProfile=1
            Version=2

            [Profile0]
            Name=default-release
            IsRelative=1
            Path=Profiles/k3j2.default-release
            Default=1

            [Profile1]
            Name=work
            IsRelative=0
            Path=\(elsewhere)

            [Profile2]
            Name=fresh
            IsRelative=1
            Path=Profiles/never.started

            [Profile3]
            Name=deleted since
            IsRelative=1
            Path=Profiles/gone.profile

            """)
        // The legacy folder as a link to the XDG one (as some distributions and users set it up):
        // the same profiles, reported and changed once.
        try FileManager.default.createDirectory(atPath: sandbox.home + "/.mozilla", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: sandbox.home + "/.mozilla/firefox", withDestinationPath: root)

        let first = try sandbox.run(["trust"])
        #expect(first.status == 0, "\(first.output)\(first.error)")
        for profile in [relative, elsewhere] {
            let entry = try #require(
                try Certutil.ours(in: "sql:" + profile), "no devserve CA in \(profile)\n\(first.output)")
            #expect(entry.trust == "C,,")
            #expect(first.output.contains("Firefox NSS database \(profile): added \"\(entry.nickname)\""))
        }
        #expect(!first.output.contains("gone.profile"), "a profile folder that no longer exists: \(first.output)")
        for folder in ["k3j2.default-release", "never.started"] {
            let lines = first.output.split(separator: "\n").filter { $0.contains("/" + folder + ":") }
            #expect(lines.count == 1, "\(folder) reported once, whichever name leads to it: \(first.output)")
        }
        let freshLine = first.output.split(separator: "\n").first { $0.hasPrefix("Firefox profile \(fresh): ") }
        #expect(
            freshLine?.contains(": has no NSS database (cert9.db) yet: start Firefox once, then run ") == true
                && freshLine?.hasSuffix("devserve trust again.") == true, "\(first.output)")

        let removal = try sandbox.run(["trust", "--uninstall"])
        #expect(removal.status == 0, "\(removal.output)\(removal.error)")
        for profile in [relative, elsewhere] {
            #expect(try Certutil.ours(in: "sql:" + profile) == nil)
            #expect(removal.output.contains("Firefox NSS database \(profile): removed"))
        }
        #expect(!removal.output.contains("nothing to remove"), "one database, removed once: \(removal.output)")
    }

    @Test func profilesIniPathsHonourIsRelative() {
        let ini =
            "[General]\nVersion=2\n\n[Profile1]\nPath=/abs/p\nIsRelative=0\n[Profile0]\r\nName=x\r\n"
            + "IsRelative=1\r\nPath=Profiles/a b\r\n[Install4F96D1932A9F858E]\nDefault=Profiles/a b\n"
        #expect(TrustStores.profilePaths(ini: ini) == ["/abs/p", "Profiles/a b"])
    }

    /// `sudo devserve trust` (root, with SUDO_UID of the user who asked): that user's CA goes into
    /// the system store; their NSS databases are left for them; root never makes their CA.
    @Test func underSudoTheInvokingUsersCAGoesIntoTheSystemStoreOnly() throws {
        let sandbox = try TrustSandbox()
        let sudo = ["SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody"]
        let isRoot = geteuid() == 0
        let refused = try sandbox.run(["trust"], environment: sudo)
        if isRoot {
            #expect(refused.status != 0)
            #expect(refused.error.contains("nobody has no local CA yet ('\(sandbox.caPath)')"), "\(refused.error)")
            #expect(refused.error.contains("run `devserve cert` once without sudo"))
            #expect(!FileManager.default.fileExists(atPath: sandbox.caPath), "root made the user's CA")
            #expect(!FileManager.default.fileExists(atPath: sandbox.anchor))
            // `sudo devserve --tls` (port 443) likewise: the user's CA or none, never root's.
            let serve = try DevServeProcess(
                [sandbox.emptyFolder, "--tls", "--port", "0"], workingDirectory: sandbox.emptyFolder,
                environment: sudo.merging(["XDG_DATA_HOME": sandbox.folder.path + "/data"]) { $1 })
            #expect(try serve.waitForExit() != 0)
            #expect(serve.errorOutput.contains("nobody has no local CA yet"), "\(serve.errorOutput)")
        } else {
            #expect(refused.status == 0, "without root, SUDO_* mean nothing: \(refused.error)")
            return
        }

        // The user made their CA (and a leaf) themselves; now sudo trusts it system-wide.
        let work = sandbox.folder.path + "/project"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let made = try DevServeProcess(
            ["cert"], workingDirectory: work, environment: ["XDG_DATA_HOME": sandbox.folder.path + "/data"])
        #expect(try made.waitForExit() == 0, "\(made.errorOutput)")
        let trusted = try sandbox.run(["trust"], environment: sudo)
        #expect(trusted.status == 0, "\(trusted.output)\(trusted.error)")
        #expect(
            try String(contentsOfFile: sandbox.anchor, encoding: .utf8)
                == String(contentsOfFile: sandbox.caPath, encoding: .utf8))
        #expect(
            trusted.output.contains("NSS databases: left alone under sudo (they are nobody's)"), "\(trusted.output)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.home + "/.pki"), "an NSS database was made as root")

        // A leaf made under sudo belongs to the user, so their own runs can read and renew it.
        try FileManager.default.removeItem(atPath: work + "/certs")
        let leaf = try DevServeProcess(
            ["cert"], workingDirectory: work,
            environment: sudo.merging(["XDG_DATA_HOME": sandbox.folder.path + "/data"]) { $1 })
        #expect(try leaf.waitForExit() == 0, "\(leaf.errorOutput)")
        for path in ["certs", "certs/localhost.pem", "certs/localhost-key.pem"] {
            let owner =
                try FileManager.default.attributesOfItem(atPath: work + "/" + path)[.ownerAccountID] as? NSNumber
            #expect(owner?.intValue == 65534, "\(path) is owned by \(String(describing: owner))")
        }
    }

    @Test func trustMakesChromiumsDatabaseWhenThereIsNone() throws {
        let sandbox = try TrustSandbox()
        let result = try sandbox.run(["trust"])
        #expect(result.status == 0, "\(result.output)\(result.error)")
        let chromium = sandbox.home + "/.pki/nssdb"
        #expect(result.output.contains("Chromium NSS database \(chromium): created it, then added"))
        #expect(try Certutil.ours(in: "sql:" + chromium)?.trust == "C,,")
    }

    @Test func aCAWhoseTrustWasTakenAwayIsTrustedAgain() throws {
        let sandbox = try TrustSandbox()
        let chromium = "sql:" + sandbox.home + "/.pki/nssdb"
        #expect(try sandbox.run(["trust"]).status == 0)
        let entry = try #require(try Certutil.ours(in: chromium))
        _ = try Certutil.run(["-M", "-d", chromium, "-n", entry.nickname, "-t", ",,"])
        let result = try sandbox.run(["trust"])
        #expect(result.output.contains("trust of \"\(entry.nickname)\" set to C,, (was ,,)"), "\(result.output)")
        #expect(try Certutil.ours(in: chromium)?.trust == "C,,")
    }

    @Test func withoutCertutilTheReportNamesLibnss3Tools() throws {
        let sandbox = try TrustSandbox()
        let result = try sandbox.run(["trust"], environment: ["PATH": sandbox.emptyFolder])
        #expect(result.status == 0, "the system store was done: \(result.output)\(result.error)")
        #expect(result.output.contains("certutil is not installed"))
        #expect(result.output.contains("libnss3-tools"))
        #expect(FileManager.default.fileExists(atPath: sandbox.anchor))
    }

    @Test func anAnchorFolderThatCannotBeWrittenGivesTheCommandToRun() throws {
        let sandbox = try TrustSandbox()
        try sandbox.folder.write("a-file", "")  // a folder under a file fails even for root
        let anchors = sandbox.folder.path + "/a-file/anchors"
        let result = try sandbox.run(["trust"], environment: ["DEVSERVE_TRUST_SYSTEM_ANCHORS": anchors])
        #expect(result.status == 0, "Chromium's database was done: \(result.output)\(result.error)")
        let sudo = geteuid() == 0 ? "" : "sudo "
        let command = "\(sudo)cp \(sandbox.caPath) \(anchors)/devserve-local-ca.crt && \(sudo)\(sandbox.script)"
        #expect(result.output.contains("could not write \(anchors)/devserve-local-ca.crt (Not a directory)"))
        #expect(result.output.contains("run: \(command)"), "\(result.output)")
        #expect(sandbox.updateRuns == 0)
    }

    @Test func whenNoStoreCouldBeChangedTheExitStatusSaysSo() throws {
        let sandbox = try TrustSandbox()
        try sandbox.folder.write("a-file", "")
        let result = try sandbox.run(
            ["trust"],
            environment: [
                "PATH": sandbox.emptyFolder, "DEVSERVE_TRUST_SYSTEM_ANCHORS": sandbox.folder.path + "/a-file/x",
            ])
        #expect(result.status != 0)
        #expect(result.output.contains("libnss3-tools"))
        #expect(result.error.contains("could not be trusted in any store"))
    }

    @Test func overridesPointTheSystemStoreAwayFromTheRealOne() {
        let anchorsOnly = TrustStores(environment: ["DEVSERVE_TRUST_SYSTEM_ANCHORS": "/tmp/a", "HOME": "/tmp/h"])
        #expect(anchorsOnly.system == .init(anchorFolder: "/tmp/a", updateCommand: []))
        #expect(anchorsOnly.home == "/tmp/h")
        let both = TrustStores(environment: [
            "DEVSERVE_TRUST_SYSTEM_ANCHORS": "/tmp/a", "DEVSERVE_TRUST_UPDATE_COMMAND": "/tmp/u.sh extract",
        ])
        #expect(both.system?.updateCommand == ["/tmp/u.sh", "extract"])
        #expect(both.system?.anchorPath == "/tmp/a/devserve-local-ca.crt")
        #expect(TrustStores(environment: ["HOME": "relative"]).home == nil)
    }

    @Test func theNicknameIsStablePerCertificate() {
        let one = Array("-----BEGIN CERTIFICATE-----\nMIIB\nabc=\n-----END CERTIFICATE-----\n".utf8)
        let rewrapped = Array("-----BEGIN CERTIFICATE-----\r\nMIIBabc=\r\n-----END CERTIFICATE-----\r\n".utf8)
        let other = Array("-----BEGIN CERTIFICATE-----\nMIIC\nabc=\n-----END CERTIFICATE-----\n".utf8)
        #expect(TrustStores.nickname(certificatePEM: one) == TrustStores.nickname(certificatePEM: rewrapped))
        #expect(TrustStores.nickname(certificatePEM: one) != TrustStores.nickname(certificatePEM: other))
        #expect(TrustStores.nickname(certificatePEM: one).hasPrefix("devserve local CA "))
    }

    @Test(arguments: [
        ([TrustOutcome.Kind.couldNot, .notApplicable], true),
        ([.couldNot, .done], false),
        ([.couldNot, .alreadyDone], false),
        ([.notApplicable], false),
    ])
    func exitsNonZeroOnlyWhenNothingWasDoneAndSomethingFailed(kinds: [TrustOutcome.Kind], fails: Bool) {
        let outcomes = kinds.map { TrustOutcome(store: "s", kind: $0, detail: "d") }
        #expect(TrustOutcome.commandFailed(outcomes) == fails)
    }

    @Test func printedCommandsQuoteWhatTheShellWouldSplit() {
        #expect(TrustStores.shellCommand(["cp", "/a b/it's", "/c"]) == #"cp '/a b/it'\''s' /c"#)
        #expect(
            TrustStores.shellCommand(["-t", "C,,", "-n", "devserve local CA 1"]) == "-t C,, -n 'devserve local CA 1'")
    }
}

/// Temp stores for one test: HOME, the CA's XDG_DATA_HOME, an anchor folder, and an update
/// command that appends a line to a marker file each time it runs.
struct TrustSandbox {
    let folder: TempFolder
    var home: String { folder.path + "/home" }
    var anchors: String { folder.path + "/anchors" }
    var anchor: String { anchors + "/devserve-local-ca.crt" }
    var caPath: String { folder.path + "/data/devserve/ca.pem" }
    var script: String { folder.path + "/update.sh" }
    var emptyFolder: String { folder.path + "/empty" }

    init() throws {
        folder = try TempFolder()
        for name in ["home", "anchors", "empty"] {
            try FileManager.default.createDirectory(atPath: folder.path + "/" + name, withIntermediateDirectories: true)
        }
        try folder.write("update.sh", "#!/bin/sh\necho ran >> '\(folder.path)/marker'\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    }

    /// How many times the update command ran.
    var updateRuns: Int {
        ((try? String(contentsOfFile: folder.path + "/marker", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Runs devserve with every store in the sandbox (never the real ones), plus `environment`.
    func run(
        _ arguments: [String], environment: [String: String] = [:]
    ) throws -> (
        status: Int32, output: String, error: String
    ) {
        let stores = [
            "HOME": home, "XDG_DATA_HOME": folder.path + "/data", "XDG_CONFIG_HOME": home + "/.config",
            "DEVSERVE_TRUST_SYSTEM_ANCHORS": anchors,
            "DEVSERVE_TRUST_UPDATE_COMMAND": script,
        ]
        let process = try DevServeProcess(arguments, environment: stores.merging(environment) { $1 })
        let status = try process.waitForExit()
        return (status, process.output, process.errorOutput)
    }
}

/// certutil, run by the tests to look at the databases as a browser would.
enum Certutil {
    static func run(_ arguments: [String]) throws -> String {
        let path = "/usr/bin/certutil"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CLITestError("certutil is missing: install libnss3-tools (make test-deps does)")
        }
        let result = try Tool.run(path, arguments)
        guard result.status == 0 else { throw CLITestError("certutil \(arguments): \(result.output)") }
        return result.output
    }

    static func makeDatabase(_ database: String) throws {
        let folder = String(database.drop { $0 != ":" }.dropFirst())
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try run(["-N", "--empty-password", "-d", database])
    }

    /// Our CA's line in `certutil -L`: its nickname and trust flags; nil when there is none.
    static func ours(in database: String) throws -> (nickname: String, trust: String)? {
        let line = try run(["-L", "-d", database]).split(separator: "\n").first { $0.hasPrefix("devserve local CA") }
        guard let words = line?.split(separator: " "), let trust = words.last else { return nil }
        return (words.dropLast().joined(separator: " "), String(trust))
    }

    static func exportPEM(_ nickname: String, from database: String) throws -> String {
        try run(["-L", "-d", database, "-n", nickname, "-a"])
    }

    /// A PEM's base64 body without line breaks, so differently wrapped copies compare equal.
    static func base64(_ pem: String) -> String {
        pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
            .filter { !$0.isWhitespace }
    }
}
