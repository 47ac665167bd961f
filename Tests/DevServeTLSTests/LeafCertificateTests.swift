import Foundation
import Testing

@testable import DevServeTLS

@Suite struct LeafCertificateTests {
    @Test func leafHasTheNamesAndVerifies() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/project/certs/localhost.pem"
            let key = root + "/project/certs/localhost-key.pem"
            let status = try ca.ensureLeaf(
                certPath: cert, keyPath: key, names: ["app.localhost"], ipAddresses: ["192.168.1.20"])
            #expect(status == .created)
            #expect(try mode(key) == 0o600)

            let text = try certificateText(cert)
            #expect(text.contains("ASN1 OID: prime256v1"))
            #expect(text.contains("CA:FALSE"))
            #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication"))
            #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature"))
            #expect(text.contains("X509v3 Authority Key Identifier"))
            #expect(text.contains("X509v3 Subject Key Identifier"))
            #expect(
                text.contains(
                    "DNS:localhost, DNS:app.localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, "
                        + "IP Address:192.168.1.20"))
            // Firefox refuses `*.localhost` under the name-constrained CA (SEC_ERROR_BAD_DER).
            #expect(!text.contains("*.localhost"))
            #expect(try validityDays(cert) == 397)

            let verify = try openssl(["verify", "-CAfile", ca.certificatePath, cert])
            #expect(verify.status == 0)
            #expect(verify.output.contains("\(cert): OK"))

            // The name constraints hold when OpenSSL checks a name and an address against the chain.
            let host = try openssl(["verify", "-CAfile", ca.certificatePath, "-verify_hostname", "app.localhost", cert])
            #expect(host.status == 0, "\(host.output)")
            let address = try openssl(["verify", "-CAfile", ca.certificatePath, "-verify_ip", "192.168.1.20", cert])
            #expect(address.status == 0, "\(address.output)")
        }
    }

    @Test func secondCallLeavesTheLeafAlone() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .created)
            let before = modificationTime(cert)
            let keyBefore = modificationTime(key)
            // The defaults given again, in another case and spelling, change nothing.
            let again = try ca.ensureLeaf(certPath: cert, keyPath: key, names: ["LOCALHOST"], ipAddresses: ["0::1"])
            #expect(again == .current)
            let after = modificationTime(cert)
            let keyAfter = modificationTime(key)
            #expect(before.tv_sec == after.tv_sec && before.tv_nsec == after.tv_nsec)
            #expect(keyBefore.tv_sec == keyAfter.tv_sec && keyBefore.tv_nsec == keyAfter.tv_nsec)
        }
    }

    /// A name the leaf lacks renews it; the names it had stay, so `devserve cert --name` and `--lan`
    /// addresses survive a plain `--tls` (which asks only for the defaults).
    @Test func addedNamesRenewAndEarlierNamesStay() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .created)
            #expect(
                try ca.ensureLeaf(certPath: cert, keyPath: key, names: ["a.localhost"], ipAddresses: []) == .renewed)
            #expect(try certificateText(cert).contains("DNS:a.localhost"))
            #expect(
                try ca.ensureLeaf(certPath: cert, keyPath: key, names: ["a.localhost"], ipAddresses: []) == .current)
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .current)
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: ["10.1.2.3"]) == .renewed)
            let text = try certificateText(cert)
            #expect(text.contains("DNS:a.localhost") && text.contains("IP Address:10.1.2.3"), "\(text)")
            #expect(
                try openssl(["verify", "-CAfile", ca.certificatePath, "-verify_hostname", "a.localhost", cert]).status
                    == 0)
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .current)
        }
    }

    /// A leaf ends no later than its CA; a CA at its end is named, with the fix.
    @Test func aLeafNeverOutlivesItsCA() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/short", validityDays: 100)
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .created)
            #expect((98...100).contains(try validityDays(cert)), "the leaf outlives its CA")
            #expect(try openssl(["verify", "-CAfile", ca.certificatePath, cert]).status == 0)

            let ending = try CertificateAuthority.ensureLocalCA(in: root + "/ending", validityDays: 10)
            #expect(throws: TLSError.caExpiring(path: ending.certificatePath)) {
                try ending.ensureLeaf(
                    certPath: root + "/other.pem", keyPath: root + "/other-key.pem", names: [], ipAddresses: [])
            }
        }
    }

    /// A leaf whose start date is still ahead (the clock went back since it was made) is renewed:
    /// browsers refuse it until then.
    @Test func aLeafNotValidYetRenews() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            let early = try ca.ensureLeaf(
                certPath: cert, keyPath: key, names: [], ipAddresses: [], validityDays: 397, startSeconds: 3 * 86_400)
            #expect(early == .created)
            #expect(try openssl(["verify", "-CAfile", ca.certificatePath, cert]).status != 0, "not yet valid")
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .renewed)
            #expect(try openssl(["verify", "-CAfile", ca.certificatePath, cert]).status == 0)
        }
    }

    @Test func leafNearExpiryRenews() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            let short = try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: [], validityDays: 29)
            #expect(short == .created)
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .renewed)
            #expect(try validityDays(cert) == 397)
        }
    }

    @Test func leafFromAnotherCARenews() throws {
        try withTemporaryFolder { root in
            let ours = try CertificateAuthority.ensureLocalCA(in: root + "/ours")
            let theirs = try CertificateAuthority.ensureLocalCA(in: root + "/theirs")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            #expect(try theirs.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .created)
            #expect(try ours.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .renewed)
            #expect(try openssl(["verify", "-CAfile", ours.certificatePath, cert]).status == 0)
        }
    }

    @Test func aMissingKeyRenews() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .created)
            try FileManager.default.removeItem(atPath: key)
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .renewed)
            #expect(try openssl(["verify", "-CAfile", ca.certificatePath, cert]).status == 0)
            #expect(try mode(key) == 0o600)
        }
    }

    /// certs/localhost.pem is also mkcert's name: a file there that no devserve CA made (the user's
    /// own certificate, or anything else) is never replaced; the sentence says what to do.
    @Test func aCertificateDevserveDidNotMakeIsNeverReplaced() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            let own = try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
            ])
            #expect(own.status == 0, "\(own.output)")
            for contents in [try String(contentsOfFile: cert, encoding: .utf8), "precious, not a certificate\n"] {
                try Data(contents.utf8).write(to: URL(fileURLWithPath: cert))
                let keyBefore = try Data(contentsOf: URL(fileURLWithPath: key))
                #expect(throws: TLSError.leafNotOurs(path: cert)) {
                    try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: [])
                }
                #expect(try String(contentsOfFile: cert, encoding: .utf8) == contents)
                #expect(try Data(contentsOf: URL(fileURLWithPath: key)) == keyBefore)
            }
        }
    }

    /// A key with no certificate beside it is the user's: never replaced, and no certificate made.
    @Test func aLoneKeyIsNeverReplaced() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            try Data("-----BEGIN PRIVATE KEY-----\nmine\n-----END PRIVATE KEY-----\n".utf8)
                .write(to: URL(fileURLWithPath: key))
            let before = try Data(contentsOf: URL(fileURLWithPath: key))
            #expect(throws: TLSError.keyNotOurs(path: key, certificatePath: cert)) {
                try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: [])
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: key)) == before)
            #expect(!FileManager.default.fileExists(atPath: cert))
        }
    }

    /// A leaf made before with `*.localhost` (which Firefox rejects as malformed) is renewed on the
    /// next call, keeping its other names, and without the wildcard.
    @Test func aLeafWithTheOneLabelWildcardIsRenewedWithoutIt() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            let key = root + "/localhost-key.pem"
            let old = try OpenSSLCertificates.issue(
                commonName: "localhost", validityDays: 397,
                extensions: [
                    .init(kind: .basicConstraints, value: "critical,CA:FALSE"),
                    .init(kind: .keyUsage, value: "critical,digitalSignature"),
                    .init(kind: .extendedKeyUsage, value: "serverAuth"),
                    .init(
                        kind: .subjectAltName,
                        value: "DNS:localhost,DNS:*.localhost,DNS:app.localhost,IP:127.0.0.1,IP:::1,IP:192.168.1.20"),
                    .init(kind: .subjectKeyIdentifier, value: "hash"),
                    .init(kind: .authorityKeyIdentifier, value: "keyid:always"),
                ],
                issuer: .init(certificatePEM: ca.certificatePEM, keyPEM: ca.keyPEM))
            try Data(old.certificatePEM).write(to: URL(fileURLWithPath: cert))
            try Data(old.keyPEM).write(to: URL(fileURLWithPath: key))

            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .renewed)
            let text = try certificateText(cert)
            #expect(!text.contains("*.localhost"), "\(text)")
            #expect(ca.namesInLeaf(at: cert) == ["localhost", "app.localhost", "127.0.0.1", "192.168.1.20", "::1"])
            #expect(try ca.ensureLeaf(certPath: cert, keyPath: key, names: [], ipAddresses: []) == .current)
        }
    }

    /// `*.localhost` is refused with the exact-name form to use instead; `*.app.localhost` is fine.
    @Test func aWildcardDirectlyAboveLocalhostIsRefusedWithTheExactNameForm() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            #expect(throws: TLSError.wildcardTooBroad("*.localhost")) {
                try ca.ensureLeaf(certPath: cert, keyPath: root + "/key.pem", names: ["*.localhost"], ipAddresses: [])
            }
            #expect(!FileManager.default.fileExists(atPath: cert))
            #expect(
                TLSError.wildcardTooBroad("*.localhost").description
                    == "The name '*.localhost' cannot go in the certificate: Firefox rejects a wildcard directly "
                    + "above 'localhost', so name each host exactly instead (use --name app.localhost).")
            let status = try ca.ensureLeaf(
                certPath: cert, keyPath: root + "/key.pem", names: ["*.app.localhost"], ipAddresses: [])
            #expect(status == .created)
            #expect(ca.namesInLeaf(at: cert).contains("*.app.localhost"))
        }
    }

    @Test(arguments: ["example.com", "localhost.example.com", "*.*.localhost", "a_b.localhost", "a,DNS:x.localhost"])
    func namesOutsideTheConstraintsAreRefused(name: String) throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/localhost.pem"
            #expect(throws: TLSError.nameNotAllowed(name)) {
                try ca.ensureLeaf(certPath: cert, keyPath: root + "/key.pem", names: [name], ipAddresses: [])
            }
            #expect(!FileManager.default.fileExists(atPath: cert))
            let sentence = TLSError.nameNotAllowed(name).description
            #expect(sentence.contains("'\(name)' cannot go in the certificate"))
        }
    }

    @Test func constraintsStopALeafForARealSite() throws {
        // What refusing `example.com` spares the user: signed anyway, the chain fails verification.
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let issued = try OpenSSLCertificates.issue(
                commonName: "example.com", validityDays: 30,
                extensions: [
                    .init(kind: .subjectAltName, value: "DNS:example.com"),
                    .init(kind: .authorityKeyIdentifier, value: "keyid:always"),
                ],
                issuer: .init(certificatePEM: ca.certificatePEM, keyPEM: ca.keyPEM))
            let cert = root + "/example.pem"
            try Data(issued.certificatePEM).write(to: URL(fileURLWithPath: cert))
            let verify = try openssl(["verify", "-CAfile", ca.certificatePath, cert])
            #expect(verify.status != 0)
            #expect(verify.output.contains("permitted subtree violation"))
        }
    }

    @Test(arguments: ["8.8.8.8", "172.32.0.1", "2001:db8::1", "not-an-ip", "127.0.0.1,IP:8.8.8.8"])
    func addressesOutsideTheConstraintsAreRefused(address: String) throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            #expect(throws: TLSError.addressNotAllowed(address)) {
                try ca.ensureLeaf(
                    certPath: root + "/c.pem", keyPath: root + "/k.pem", names: [], ipAddresses: [address])
            }
        }
    }

    @Test func privateAddressesAreAccepted() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let cert = root + "/c.pem"
            let addresses = ["10.0.0.5", "172.31.255.1", "192.168.0.1", "127.5.5.5", "fd12:3456::1"]
            let status = try ca.ensureLeaf(
                certPath: cert, keyPath: root + "/k.pem", names: ["*.app.localhost"], ipAddresses: addresses)
            #expect(status == .created)
            #expect(try openssl(["verify", "-CAfile", ca.certificatePath, cert]).status == 0)
        }
    }

    @Test func unwritableLeafFolderIsASentence() throws {
        try withTemporaryFolder { root in
            let ca = try CertificateAuthority.ensureLocalCA(in: root + "/ca")
            let file = root + "/file"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
            let cert = file + "/certs/localhost.pem"
            let error = #expect(throws: TLSError.self) {
                try ca.ensureLeaf(certPath: cert, keyPath: file + "/certs/key.pem", names: [], ipAddresses: [])
            }
            let sentence = error?.description ?? ""
            #expect(sentence.hasPrefix("The file '"))
            #expect(sentence.contains("could not be written: Not a directory."))
        }
    }
}
