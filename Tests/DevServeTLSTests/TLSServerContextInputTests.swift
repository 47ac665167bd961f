import Foundation
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

@testable import DevServeTLS

/// `TLSServerContext(certificatePath:keyPath:)`: one error, naming the file, for each bad input.
@Suite struct TLSServerContextInputTests {
    /// A fresh CA in `root` and a leaf from it at `root/name.pem`, `root/name-key.pem`.
    private func makeLeaf(in root: String, name: String = "leaf") throws -> (certificate: String, key: String) {
        let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
        let certificate = root + "/\(name).pem"
        let key = root + "/\(name)-key.pem"
        _ = try ca.ensureLeaf(certPath: certificate, keyPath: key, names: [], ipAddresses: [])
        return (certificate, key)
    }

    private func loadError(certificate: String, key: String) -> TLSError? {
        do {
            _ = try TLSServerContext(certificatePath: certificate, keyPath: key)
            return nil
        } catch {
            return error
        }
    }

    private func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func aGoodPairLoads() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let context = try TLSServerContext(certificatePath: leaf.certificate, keyPath: leaf.key)
            #expect(context.certificatePath == leaf.certificate)
            #expect(context.keyPath == leaf.key)
            #expect(context.secondsUntilExpiry > 396 * 86_400)
            #expect(context.secondsUntilExpiry <= 397 * 86_400)
            _ = try context.makeHandler()
        }
    }

    @Test func filesWithCRLFLineEndingsLoad() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            // The same PEM files as saved by a Windows editor; OpenSSL itself reads them.
            let certificate = root + "/crlf.pem"
            let key = root + "/crlf-key.pem"
            for (source, target) in [(leaf.certificate, certificate), (leaf.key, key)] {
                let text = try String(contentsOfFile: source, encoding: .utf8)
                try write(text.replacingOccurrences(of: "\n", with: "\r\n"), to: target)
            }
            let parsed = try openssl(["x509", "-in", certificate, "-noout", "-subject"])
            #expect(parsed.status == 0, "\(parsed.output)")

            #expect(loadError(certificate: certificate, key: key) == nil)
            #expect(loadError(certificate: certificate, key: leaf.key) == nil)
            #expect(loadError(certificate: leaf.certificate, key: key) == nil)
        }
    }

    @Test func missingFilesAreNamed() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let missing = root + "/missing.pem"

            let certificateError = loadError(certificate: missing, key: leaf.key)
            #expect(certificateError == .certificateUnreadable(path: missing, reason: "No such file or directory"))
            #expect(certificateError?.description.contains("'\(missing)'") == true)

            let keyError = loadError(certificate: leaf.certificate, key: missing)
            #expect(keyError == .keyUnreadable(path: missing, reason: "No such file or directory"))
            #expect(keyError?.description.contains("'\(missing)'") == true)

            let folderError = loadError(certificate: root, key: leaf.key)
            #expect(folderError == .certificateUnreadable(path: root, reason: "Is a directory"))
        }
    }

    @Test func aKeyGivenAsTheCertificateIsNamed() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let error = loadError(certificate: leaf.key, key: leaf.key)
            #expect(error == .keyInsteadOfCertificate(path: leaf.key))
            #expect(error?.description.contains("'\(leaf.key)'") == true)
        }
    }

    @Test func aCertificateGivenAsTheKeyIsNamed() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let error = loadError(certificate: leaf.certificate, key: leaf.certificate)
            #expect(error == .notAKey(path: leaf.certificate))
            #expect(error?.description.contains("'\(leaf.certificate)'") == true)
        }
    }

    @Test func encryptedKeysAreRefused() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let pkcs8 = root + "/encrypted-key.pem"
            let made = try openssl(["pkey", "-in", leaf.key, "-aes256", "-passout", "pass:x", "-out", pkcs8])
            #expect(made.status == 0, "\(made.output)")
            #expect(try String(contentsOfFile: pkcs8, encoding: .utf8).contains("BEGIN ENCRYPTED PRIVATE KEY"))
            let error = loadError(certificate: leaf.certificate, key: pkcs8)
            #expect(error == .keyEncrypted(path: pkcs8))
            #expect(error?.description.contains("'\(pkcs8)'") == true)

            let legacy = root + "/legacy-key.pem"
            let madeLegacy = try openssl([
                "pkey", "-in", leaf.key, "-traditional", "-aes256", "-passout", "pass:x", "-out", legacy,
            ])
            #expect(madeLegacy.status == 0, "\(madeLegacy.output)")
            #expect(try String(contentsOfFile: legacy, encoding: .utf8).contains("Proc-Type: 4,ENCRYPTED"))
            let legacyError = loadError(certificate: leaf.certificate, key: legacy)
            #expect(legacyError == .keyEncrypted(path: legacy))
            #expect(legacyError?.description.contains("'\(legacy)'") == true)
        }
    }

    @Test func anotherCertificatesKeyIsAMismatch() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)
            let other = try makeLeaf(in: root, name: "other")
            let error = loadError(certificate: leaf.certificate, key: other.key)
            #expect(error == .keyMismatch(certificate: leaf.certificate, key: other.key))
            #expect(error?.description.contains("'\(leaf.certificate)'") == true)
            #expect(error?.description.contains("'\(other.key)'") == true)
        }
    }

    @Test func filesThatAreNotPEMAreNamed() throws {
        try withTemporaryFolder { root in
            let leaf = try makeLeaf(in: root)

            let text = root + "/notes.txt"
            try write("just some notes\n", to: text)
            let textError = loadError(certificate: text, key: leaf.key)
            #expect(textError == .notACertificate(path: text))
            #expect(textError?.description.contains("'\(text)'") == true)

            let empty = root + "/empty.pem"
            try write("", to: empty)
            #expect(loadError(certificate: empty, key: leaf.key) == .notACertificate(path: empty))

            let der = root + "/leaf.der"
            let converted = try openssl(["x509", "-in", leaf.certificate, "-outform", "DER", "-out", der])
            #expect(converted.status == 0, "\(converted.output)")
            #expect(loadError(certificate: der, key: leaf.key) == .notACertificate(path: der))

            let broken = root + "/broken.pem"
            try write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", to: broken)
            #expect(loadError(certificate: broken, key: leaf.key) == .notACertificate(path: broken))

            let keyError = loadError(certificate: leaf.certificate, key: text)
            #expect(keyError == .notAKey(path: text))
            #expect(keyError?.description.contains("'\(text)'") == true)
        }
    }
}
