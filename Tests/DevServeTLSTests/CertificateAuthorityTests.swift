import Foundation
import Testing

@testable import DevServeTLS

@Suite struct CertificateAuthorityTests {
    @Test func defaultFolderPrefersXDGDataHome() throws {
        let xdg = try CertificateAuthority.defaultFolder(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"])
        #expect(xdg == "/d/devserve")
        let home = try CertificateAuthority.defaultFolder(environment: ["HOME": "/h"])
        #expect(home == "/h/.local/share/devserve")
        let relative = try CertificateAuthority.defaultFolder(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"])
        #expect(relative == "/h/.local/share/devserve")
        #expect(throws: TLSError.noHomeFolder) { try CertificateAuthority.defaultFolder(environment: [:]) }
    }

    @Test func caHasTheConstrainedFields() throws {
        try withTemporaryFolder { root in
            let folder = root + "/data/devserve"
            let ca = try CertificateAuthority.ensureLocalCA(in: folder)
            #expect(ca.certificatePath == folder + "/ca.pem")
            #expect(try mode(folder) == 0o700)
            #expect(try mode(ca.keyPath) == 0o600)

            let text = try certificateText(ca.certificatePath)
            #expect(text.contains("Subject: CN = devserve local CA ("))
            #expect(text.contains("ASN1 OID: prime256v1"))
            #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"))
            #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"))
            #expect(text.contains("X509v3 Name Constraints: critical"))
            for entry in [
                "DNS:localhost", "DNS:.localhost", "IP:127.0.0.0/255.0.0.0", "IP:10.0.0.0/255.0.0.0",
                "IP:172.16.0.0/255.240.0.0", "IP:192.168.0.0/255.255.0.0",
                "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
                "IP:FC00:0:0:0:0:0:0:0/FE00:0:0:0:0:0:0:0",
            ] {
                #expect(text.contains(entry), "missing \(entry)")
            }
            #expect(text.contains("X509v3 Subject Key Identifier"))
            #expect(try validityDays(ca.certificatePath) == 3650)

            let serial = try openssl(["x509", "-in", ca.certificatePath, "-noout", "-serial"]).output
            #expect(serial.trimmingCharacters(in: .whitespacesAndNewlines).count == "serial=".count + 32)
        }
    }

    @Test func caIsLoadedNotRemade() throws {
        try withTemporaryFolder { root in
            let first = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let before = modificationTime(first.certificatePath)
            let second = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            #expect(second.certificatePEM == first.certificatePEM)
            let after = modificationTime(first.certificatePath)
            #expect(before.tv_sec == after.tv_sec && before.tv_nsec == after.tv_nsec)
        }
    }

    @Test func unwritableCAFolderIsASentence() throws {
        try withTemporaryFolder { root in
            // Tests run as root, which ignores permission bits: a folder under a regular file fails
            // with ENOTDIR for everyone.
            let file = root + "/file"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
            let folder = file + "/devserve"
            let error = #expect(throws: TLSError.self) { try CertificateAuthority.ensureLocalCA(in: folder) }
            guard case .caFolderNotWritable(let reported, _) = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(reported == folder)
            #expect(
                error?.description.hasPrefix("The CA folder '\(folder)' is not writable: Not a directory.") == true)
        }
    }

    @Test func caKeyThatDoesNotMatchIsRefused() throws {
        try withTemporaryFolder { root in
            let one = try CertificateAuthority.ensureLocalCA(in: root + "/one")
            let two = try CertificateAuthority.ensureLocalCA(in: root + "/two")
            try FileManager.default.removeItem(atPath: one.keyPath)
            try FileManager.default.copyItem(atPath: two.keyPath, toPath: one.keyPath)
            #expect(throws: TLSError.caKeyMismatch(certificate: one.certificatePath, key: one.keyPath)) {
                try CertificateAuthority.ensureLocalCA(in: root + "/one")
            }
        }
    }

    @Test func garbageCAIsASentence() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: ca.certificatePath))
            let error = #expect(throws: TLSError.self) { try CertificateAuthority.ensureLocalCA(in: root + "/ca") }
            let sentence = error?.description ?? ""
            #expect(sentence.hasPrefix("The local CA file '\(ca.certificatePath)' could not be read"))
            #expect(sentence.contains("Delete the CA folder"))
        }
    }

    /// A broken key is named, not the certificate beside it, in one well-formed sentence.
    @Test(arguments: ["", "garbage\n"])
    func aBrokenCAKeyNamesTheKey(contents: String) throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            try Data(contents.utf8).write(to: URL(fileURLWithPath: ca.keyPath))
            let error = #expect(throws: TLSError.self) { try CertificateAuthority.ensureLocalCA(in: root + "/ca") }
            let sentence = error?.description ?? ""
            #expect(sentence.hasPrefix("The local CA file '\(ca.keyPath)' could not be read"), "\(sentence)")
            #expect(!sentence.contains(".."), "\(sentence)")
        }
    }
}
