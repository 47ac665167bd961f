import DevServeSystem

// The per-user local CA and the leaf certificates it signs (README.md, "HTTPS"). The CA lives
// outside every project; its nameConstraints limit it to localhost names and loopback/private
// addresses, so trusting it cannot vouch for any real site. Names outside those limits are
// refused here rather than signed into a certificate browsers would reject.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Makes or loads the local CA.
public enum CertificateAuthority {
    /// The CA certificate's lifetime.
    static let caValidityDays = 3650
    /// How every devserve CA's name begins: a leaf issued by one is devserve's to renew.
    static let commonNamePrefix = "devserve local CA"
    /// The leaf's lifetime: the most browsers accept (398 days), less a day.
    static let leafValidityDays = 397
    /// A leaf closer than this to its end is renewed.
    static let renewalWindowSeconds = 30 * 86_400

    /// Where the CA lives: `$XDG_DATA_HOME/devserve/`, else `~/.local/share/devserve/`.
    /// Takes the environment so tests can point it anywhere.
    public static func defaultFolder(environment: [String: String]) throws(TLSError) -> String {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return Paths.join(data, "devserve")
        }
        guard let home = environment["HOME"], !home.isEmpty else { throw .noHomeFolder }
        return Paths.join(home, ".local/share/devserve")
    }

    /// Loads the CA in `folder`, or makes one when `ca.pem` is missing. The folder is created with
    /// mode 0700 and the key written with mode 0600.
    public static func ensureLocalCA(in folder: String) throws(TLSError) -> LocalCA {
        try ensureLocalCA(in: folder, validityDays: caValidityDays)
    }

    /// `validityDays` is a test hook, for a CA near its end.
    static func ensureLocalCA(in folder: String, validityDays: Int) throws(TLSError) -> LocalCA {
        try CertificateFiles.makeFolder(folder, mode: 0o700) { reason in
            .caFolderNotWritable(folder: folder, reason: reason)
        }
        // Under the folder's lock: two first runs at once (two projects started together) make one
        // CA, not two that overwrite each other's halves.
        return try CertificateFiles.withLock(in: folder) { () throws(TLSError) -> LocalCA in
            let certificatePath = Paths.join(folder, "ca.pem")
            let keyPath = Paths.join(folder, "ca-key.pem")

            if access(certificatePath, F_OK) == 0 {
                guard let certificatePEM = CertificateFiles.read(certificatePath) else {
                    throw .caUnreadable(path: certificatePath, reason: "it cannot be opened")
                }
                guard let keyPEM = CertificateFiles.read(keyPath) else {
                    throw .caUnreadable(path: keyPath, reason: "it is missing or cannot be opened")
                }
                guard OpenSSLCertificates.parsesAsCertificate(certificatePEM) else {
                    throw .caUnreadable(path: certificatePath, reason: "it holds no readable PEM certificate")
                }
                // The certificate reads, so what fails from here is the key.
                let matches: Bool
                do throws(TLSError) {
                    matches = try OpenSSLCertificates.keyMatches(certificatePEM: certificatePEM, keyPEM: keyPEM)
                } catch {
                    throw .caUnreadable(path: keyPath, reason: error.clause)
                }
                guard matches else { throw .caKeyMismatch(certificate: certificatePath, key: keyPath) }
                _ = chmod(keyPath, 0o600)  // closed again if something opened it up
                return LocalCA(
                    folder: folder, certificatePath: certificatePath, keyPath: keyPath, isNew: false,
                    certificatePEM: certificatePEM, keyPEM: keyPEM)
            }

            let issued = try OpenSSLCertificates.issue(
                commonName: "\(commonNamePrefix) (\(userAtHost()))", validityDays: validityDays,
                extensions: caExtensions(), issuer: nil)
            // The key first: a crash between the two leaves no certificate, so the next run starts over.
            let notWritable = { (reason: String) -> TLSError in .caFolderNotWritable(folder: folder, reason: reason) }
            try CertificateFiles.write(issued.keyPEM, to: keyPath, mode: 0o600, onError: notWritable)
            try CertificateFiles.write(issued.certificatePEM, to: certificatePath, mode: 0o644, onError: notWritable)
            return LocalCA(
                folder: folder, certificatePath: certificatePath, keyPath: keyPath, isNew: true,
                certificatePEM: issued.certificatePEM, keyPEM: issued.keyPEM)
        }
    }

    static func caExtensions() -> [OpenSSLCertificates.Extension] {
        let addresses = IPAddress.permittedNetworks.map { network, prefix in
            "permitted;IP:" + IPAddress.constraintText(network: network, prefix: prefix)
        }
        let constraints = ["critical", "permitted;DNS:localhost", "permitted;DNS:.localhost"] + addresses
        return [
            .init(kind: .basicConstraints, value: "critical,CA:TRUE,pathlen:0"),
            .init(kind: .keyUsage, value: "critical,keyCertSign,cRLSign"),
            .init(kind: .nameConstraints, value: constraints.joined(separator: ",")),
            .init(kind: .subjectKeyIdentifier, value: "hash"),
        ]
    }

    /// `user@host` for the CA's name, so a trust store listing says whose CA it is.
    static func userAtHost() -> String {
        var user = getenv("USER").map { String(cString: $0) } ?? ""
        if user.isEmpty, let entry = getpwuid(geteuid()) {
            user = String(cString: entry.pointee.pw_name)
        }
        if user.isEmpty { user = "user" }
        var host = [CChar](repeating: 0, count: 256)
        let hostName =
            gethostname(&host, host.count) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(user)@\(hostName)"
    }
}
