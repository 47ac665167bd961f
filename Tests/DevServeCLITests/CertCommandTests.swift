import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `devserve cert` as a user runs it: the CA outside the project, the leaf in ./certs.
@Suite(.serialized) struct CertCommandTests {
    @Test func certMakesTheCAAndALeafThatVerifies() throws {
        let project = try TempFolder()
        let data = try TempFolder()
        let first = try DevServeProcess(
            ["cert", "--name", "app.localhost", "--name", "192.168.1.20"], workingDirectory: project.path,
            environment: ["XDG_DATA_HOME": data.path])
        #expect(try first.waitForExit() == 0, "stderr: \(first.errorOutput)")
        #expect(first.output.contains("Certificate: certs/localhost.pem (created)"))
        let ca = data.path + "/devserve/ca.pem"
        let untrusted = "(new: browsers do not trust it until you run `\(DevServeProcess.binary) trust` once"
        #expect(first.output.contains("Local CA: \(ca) \(untrusted)"), "\(first.output)")
        let leaf = project.path + "/certs/localhost.pem"
        let key = project.path + "/certs/localhost-key.pem"
        #expect(FileManager.default.fileExists(atPath: ca))
        let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let verify = try Tool.run(
            "/usr/bin/openssl", ["verify", "-CAfile", ca, "-verify_hostname", "app.localhost", leaf])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains(": OK"))

        let again = try DevServeProcess(
            ["cert", "--name", "app.localhost", "--name", "192.168.1.20"], workingDirectory: project.path,
            environment: ["XDG_DATA_HOME": data.path])
        #expect(try again.waitForExit() == 0)
        #expect(again.output.contains("(current, left as it is)"))
        #expect(!again.output.contains("(new:"), "the CA is not new the second time")

        // Without --name (as --tls asks), the names given before stay.
        let plain = try DevServeProcess(
            ["cert"], workingDirectory: project.path, environment: ["XDG_DATA_HOME": data.path])
        #expect(try plain.waitForExit() == 0)
        #expect(
            plain.output.contains(
                "(current, left as it is) for localhost, app.localhost, 127.0.0.1, 192.168.1.20, ::1"),
            "\(plain.output)")
    }

    @Test func aWildcardDirectlyAboveLocalhostIsRefusedWithTheExactName() throws {
        let project = try TempFolder()
        let data = try TempFolder()
        let refused = try DevServeProcess(
            ["cert", "--name", "*.localhost"], workingDirectory: project.path,
            environment: ["XDG_DATA_HOME": data.path])
        #expect(try refused.waitForExit() != 0)
        #expect(refused.errorOutput.contains("(use --name app.localhost)."), "stderr: \(refused.errorOutput)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/certs/localhost.pem"))
    }

    @Test func aNameTheCACannotSignIsRefusedWithASentence() throws {
        let project = try TempFolder()
        let data = try TempFolder()
        let refused = try DevServeProcess(
            ["cert", "--name", "example.com"], workingDirectory: project.path,
            environment: ["XDG_DATA_HOME": data.path])
        #expect(try refused.waitForExit() != 0)
        #expect(refused.errorOutput.contains("example.com"), "stderr: \(refused.errorOutput)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/certs/localhost.pem"))
    }

    /// The certs/ folder devserve makes ignores itself for git; one the user made is left alone.
    /// A key opened up by hand is closed again.
    @Test func theKeyStaysOutOfGitAndPrivate() throws {
        let project = try TempFolder()
        let data = try TempFolder()
        let environment = ["XDG_DATA_HOME": data.path]
        let made = try DevServeProcess(["cert"], workingDirectory: project.path, environment: environment)
        #expect(try made.waitForExit() == 0)
        #expect(made.output.contains("certs/.gitignore keeps certs/ out of git"), "\(made.output)")
        #expect(try String(contentsOfFile: project.path + "/certs/.gitignore", encoding: .utf8).hasSuffix("\n*\n"))
        let status = try Tool.run("/usr/bin/git", ["-C", project.path, "init", "-q"])
        #expect(status.status == 0)
        let untracked = try Tool.run("/usr/bin/git", ["-C", project.path, "status", "--porcelain"])
        #expect(!untracked.output.contains("localhost"), "\(untracked.output)")

        let key = project.path + "/certs/localhost-key.pem"
        #expect(chmod(key, 0o644) == 0)
        let again = try DevServeProcess(["cert"], workingDirectory: project.path, environment: environment)
        #expect(try again.waitForExit() == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int == 0o600)

        let own = try TempFolder()
        try own.write("certs/mine.pem", "the user's own")
        let beside = try DevServeProcess(["cert"], workingDirectory: own.path, environment: environment)
        #expect(try beside.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: own.path + "/certs/.gitignore"))
        #expect(beside.output.contains("keep certs/ out of version control"), "\(beside.output)")
    }

    /// `sudo devserve cert` in a project whose certs/ is a symbolic link (a cloned repository may
    /// point it anywhere): root neither writes through it nor gives its target away.
    @Test func underSudoASymlinkedCertsFolderIsRefused() throws {
        let project = try TempFolder()
        let data = try TempFolder()
        let target = try TempFolder()
        let made = try DevServeProcess(
            ["cert"], workingDirectory: project.path, environment: ["XDG_DATA_HOME": data.path])
        #expect(try made.waitForExit() == 0)
        try FileManager.default.removeItem(atPath: project.path + "/certs")
        try FileManager.default.createSymbolicLink(atPath: project.path + "/certs", withDestinationPath: target.path)
        let sudo = ["SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody", "XDG_DATA_HOME": data.path]
        let run = try DevServeProcess(["cert"], workingDirectory: project.path, environment: sudo)
        let status = try run.waitForExit()
        let owner = try FileManager.default.attributesOfItem(atPath: target.path)[.ownerAccountID] as? NSNumber
        if geteuid() == 0 {
            #expect(status != 0)
            #expect(run.errorOutput.contains("'certs' is a symbolic link"), "\(run.errorOutput)")
            #expect(!FileManager.default.fileExists(atPath: target.path + "/localhost-key.pem"))
            #expect(owner?.intValue == 0, "the link's target was given away")
        } else {
            #expect(status == 0, "without root, SUDO_* mean nothing: \(run.errorOutput)")
            #expect(owner?.uint32Value == geteuid())
        }
    }

    /// Several first runs at once (a monorepo starting its servers together), some in one project:
    /// one CA, its key matching, and every leaf a pair signed by it.
    @Test func runsAtTheSameMomentMakeOneCAAndWholeLeaves() throws {
        let data = try TempFolder()
        let projects = try (0..<3).map { _ in try TempFolder() }
        for round in 0..<6 {
            try? FileManager.default.removeItem(atPath: data.path + "/devserve")
            for project in projects { try? FileManager.default.removeItem(atPath: project.path + "/certs") }
            // Two runs in each project, all started before any is waited for.
            let runs = try (projects + projects).map {
                try DevServeProcess(["cert"], workingDirectory: $0.path, environment: ["XDG_DATA_HOME": data.path])
            }
            for run in runs { #expect(try run.waitForExit() == 0, "round \(round): \(run.errorOutput)") }
            let ca = data.path + "/devserve/ca.pem"
            let caKey = data.path + "/devserve/ca-key.pem"
            let caPair = try Tool.run("/usr/bin/openssl", ["x509", "-in", ca, "-noout", "-pubkey"])
            let keyPair = try Tool.run("/usr/bin/openssl", ["pkey", "-in", caKey, "-pubout"])
            #expect(caPair.output == keyPair.output, "round \(round): the CA key does not match ca.pem")
            for project in projects {
                let leaf = project.path + "/certs/localhost.pem"
                let verify = try Tool.run("/usr/bin/openssl", ["verify", "-CAfile", ca, leaf])
                #expect(verify.status == 0, "round \(round): \(verify.output)")
                let leafKey = try Tool.run("/usr/bin/openssl", ["x509", "-in", leaf, "-noout", "-pubkey"])
                let ownKey = try Tool.run(
                    "/usr/bin/openssl", ["pkey", "-in", project.path + "/certs/localhost-key.pem", "-pubout"])
                #expect(leafKey.output == ownKey.output, "round \(round): the leaf key does not match")
            }
        }
    }
}
