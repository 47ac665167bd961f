import Foundation
import Testing

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
                "(current, left as it is) for localhost, *.localhost, app.localhost, 127.0.0.1, 192.168.1.20, ::1"),
            "\(plain.output)")
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
}
