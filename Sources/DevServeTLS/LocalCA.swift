import DevServeSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What `ensureLeaf` did.
public enum LeafStatus: Sendable, Equatable {
    /// There was no leaf; one was made.
    case created
    /// The leaf was unreadable, expiring, from another CA or for other names; a new one replaced it.
    case renewed
    /// The leaf was good and was left alone.
    case current
}

/// The loaded local CA: its paths and PEM contents.
public struct LocalCA: Sendable {
    /// The CA folder.
    public let folder: String
    /// `ca.pem`, the file to trust.
    public let certificatePath: String
    /// `ca-key.pem`, mode 0600.
    public let keyPath: String
    /// Made by this call of `ensureLocalCA`: no browser or system store can trust it yet.
    public let isNew: Bool
    let certificatePEM: [UInt8]
    let keyPEM: [UInt8]

    /// Makes sure `certPath` and `keyPath` hold a leaf from this CA for localhost,
    /// 127.0.0.1, ::1 and the given names and addresses, valid for more than 30 more days. Names must
    /// be `localhost` or end in `.localhost` and addresses loopback or private, as the CA's
    /// nameConstraints require; anything else is refused.
    public func ensureLeaf(
        certPath: String, keyPath: String, names: [String], ipAddresses: [String]
    ) throws(TLSError) -> LeafStatus {
        try ensureLeaf(
            certPath: certPath, keyPath: keyPath, names: names, ipAddresses: ipAddresses,
            validityDays: CertificateAuthority.leafValidityDays)
    }

    /// `validityDays` and `startSeconds` are test hooks, for leaves about to expire or not yet valid.
    func ensureLeaf(
        certPath: String, keyPath: String, names: [String], ipAddresses: [String], validityDays: Int,
        startSeconds: Int = -300
    ) throws(TLSError) -> LeafStatus {
        var wanted = try Self.subjectAltNames(names: names, ipAddresses: ipAddresses)
        let existing = CertificateFiles.read(certPath)
        if access(certPath, F_OK) == 0 {
            // A file there that devserve did not make (mkcert uses the same names) is the user's:
            // never replaced.
            guard let existing,
                let facts = try? OpenSSLCertificates.inspectLeaf(
                    certificatePEM: existing, keyPEM: CertificateFiles.read(keyPath), issuerPEM: certificatePEM),
                facts.fromADevserveCA
            else { throw .leafNotOurs(path: certPath) }
            if Self.isCurrent(facts, wanted: wanted) {
                // A key left readable by others (copied, or unpacked from an archive) is closed again.
                _ = chmod(keyPath, 0o600)
                return .current
            }
            // Names this CA put in the leaf before stay in the new one: `devserve cert --name` and
            // `--lan` add names, and a plain `--tls` later must not take them away.
            if facts.signedByIssuer { wanted = Self.adding(facts.subjectAltNames, to: wanted) }
        } else if access(keyPath, F_OK) == 0 {
            // A key with no certificate beside it is not devserve's (devserve writes the
            // certificate first, so an interrupted run leaves a certificate, never a lone key):
            // it is the user's, and never replaced.
            throw .keyNotOurs(path: keyPath, certificatePath: certPath)
        }

        // A leaf never outlives its CA (browsers refuse the chain), and a CA at its end signs nothing.
        let caSeconds = (try? OpenSSLCertificates.secondsUntilExpiry(certificatePEM: certificatePEM)) ?? 0
        guard caSeconds > CertificateAuthority.renewalWindowSeconds else {
            throw .caExpiring(path: certificatePath)
        }
        let altNames = wanted.dnsNames.map { "DNS:\($0)" } + wanted.addresses.map { "IP:\($0.text)" }
        let issued = try OpenSSLCertificates.issue(
            commonName: "localhost", validityDays: min(validityDays, caSeconds / 86_400),
            extensions: [
                .init(kind: .basicConstraints, value: "critical,CA:FALSE"),
                .init(kind: .keyUsage, value: "critical,digitalSignature"),
                .init(kind: .extendedKeyUsage, value: "serverAuth"),
                .init(kind: .subjectAltName, value: altNames.joined(separator: ",")),
                .init(kind: .subjectKeyIdentifier, value: "hash"),
                .init(kind: .authorityKeyIdentifier, value: "keyid:always"),
            ],
            issuer: .init(certificatePEM: certificatePEM, keyPEM: keyPEM), startSeconds: startSeconds)

        for path in [certPath, keyPath] {
            let folder = CertificateFiles.parentFolder(of: path)
            guard !folder.isEmpty else { continue }
            let isNew = access(folder, F_OK) != 0
            try CertificateFiles.makeFolder(folder, mode: nil) { reason in
                .fileNotWritable(path: path, reason: reason)
            }
            // A folder made for the key keeps itself out of version control. (One the user made is
            // theirs: it may hold files they do commit.)
            if isNew {
                _ = CertificateFiles.write(
                    Array(
                        "# Made by devserve: the local certificate and its private key. Never commit them.\n*\n".utf8),
                    to: Paths.join(folder, ".gitignore"), mode: 0o644)
            }
        }
        // The certificate first: a run cut short between the two leaves a certificate whose key
        // does not match (renewed next time), never a lone key (which is taken for the user's).
        try CertificateFiles.write(issued.certificatePEM, to: certPath, mode: 0o644) {
            .fileNotWritable(path: certPath, reason: $0)
        }
        try CertificateFiles.write(issued.keyPEM, to: keyPath, mode: 0o600) {
            .fileNotWritable(path: keyPath, reason: $0)
        }
        return existing == nil ? .created : .renewed
    }

    /// Runs `body` under the CA folder's lock (`CertificateFiles.withLock`): making a leaf and
    /// reading it back, while another devserve may be doing the same.
    public func withLock<T>(_ body: () throws(TLSError) -> T) throws(TLSError) -> T {
        try CertificateFiles.withLock(in: folder, body)
    }

    /// The names and addresses in the leaf at `certPath` (empty when it cannot be read): localhost
    /// first, then the other names, then the addresses.
    public func namesInLeaf(at certPath: String) -> [String] {
        guard let pem = CertificateFiles.read(certPath),
            let facts = try? OpenSSLCertificates.inspectLeaf(
                certificatePEM: pem, keyPEM: nil, issuerPEM: certificatePEM)
        else { return [] }
        let names = facts.subjectAltNames.filter { $0.hasPrefix("DNS:") }.map { String($0.dropFirst(4)) }
        let addresses = facts.subjectAltNames.filter { $0.hasPrefix("IP:") }.map { String($0.dropFirst(3)) }
        let first = ["localhost"].filter(names.contains)
        return first + names.filter { !first.contains($0) }.sorted() + addresses.sorted()
    }

    /// From this CA, with its key, started, not about to expire, covering every wanted name (more
    /// names are fine) and holding no name the CA no longer signs: a leaf from before with
    /// `*.localhost`, which Firefox refuses (SEC_ERROR_BAD_DER), is renewed without it.
    private static func isCurrent(_ facts: OpenSSLCertificates.LeafFacts, wanted: WantedNames) -> Bool {
        facts.signedByIssuer && facts.keyMatches && facts.hasStarted
            && facts.secondsUntilExpiry > CertificateAuthority.renewalWindowSeconds
            && facts.subjectAltNames.isSuperset(of: wanted.entries)
            && facts.subjectAltNames.allSatisfy { !$0.hasPrefix("DNS:") || isPermittedName(String($0.dropFirst(4))) }
    }

    /// `wanted` plus the permitted `DNS:` and `IP:` entries of `entries` it lacks.
    private static func adding(_ entries: Set<String>, to wanted: WantedNames) -> WantedNames {
        var result = wanted
        for entry in entries.sorted() {
            if entry.hasPrefix("DNS:") {
                let name = String(entry.dropFirst(4))
                if isPermittedName(name) && !result.dnsNames.contains(name) { result.dnsNames.append(name) }
            } else if entry.hasPrefix("IP:"), let address = IPAddress(String(entry.dropFirst(3))),
                address.isPermitted, !result.addresses.contains(address)
            {
                result.addresses.append(address)
            }
        }
        return result
    }

    struct WantedNames {
        var dnsNames: [String]
        var addresses: [IPAddress]
        var entries: Set<String> {
            Set(dnsNames.map { "DNS:\($0)" } + addresses.map { "IP:\($0.text)" })
        }
    }

    /// The leaf's names: the defaults then the given ones, lower-cased, checked and without repeats.
    static func subjectAltNames(names: [String], ipAddresses: [String]) throws(TLSError) -> WantedNames {
        var dnsNames: [String] = []
        for name in ["localhost"] + names {
            let lowered = name.lowercased()
            if lowered.hasPrefix("*.") && isPermittedName("x" + lowered.dropFirst()) && !isPermittedName(lowered) {
                throw .wildcardTooBroad(name)
            }
            guard isPermittedName(lowered) else { throw .nameNotAllowed(name) }
            if !dnsNames.contains(lowered) { dnsNames.append(lowered) }
        }
        var addresses: [IPAddress] = []
        for text in ["127.0.0.1", "::1"] + ipAddresses {
            guard let address = IPAddress(text), address.isPermitted else { throw .addressNotAllowed(text) }
            if !addresses.contains(address) { addresses.append(address) }
        }
        return WantedNames(dnsNames: dnsNames, addresses: addresses)
    }

    /// Whether the local CA may sign this IP address (loopback or private).
    public static func isPermittedAddress(_ text: String) -> Bool {
        IPAddress(text)?.isPermitted == true
    }

    /// `localhost` or a name ending in `.localhost` of letters, digits and hyphens, with `*` allowed
    /// only as the whole first label of a name at least two labels above `localhost`
    /// (`*.app.localhost`, never `*.localhost`: mozilla::pkix takes that for malformed).
    static func isPermittedName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard name.count <= 253, labels.last == "localhost" else { return false }
        for (index, label) in labels.enumerated() {
            if label == "*" && index == 0 && labels.count > 2 { continue }
            guard !label.isEmpty, label.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" })
            else { return false }
        }
        return true
    }
}
