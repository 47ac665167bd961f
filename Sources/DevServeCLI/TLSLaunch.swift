import DevServeServer
import DevServeSite
import DevServeSystem
import DevServeTLS
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What `--tls` or `--cert/--key` resolve to before anything listens: the loaded TLS context and
/// the lines to tell the user (the certificate made or renewed, or the expiry warning).
struct TLSLaunch {
    var context: TLSServerContext
    var notes: [String]
    var warnings: [String]

    /// The local leaf in `certs/` (made or renewed by the local CA as needed) unless the user
    /// passed their own chain and key.
    static func prepare(
        certificate: String?, key: String?, lan: Bool, cwd: String, environment: [String: String],
        invoker: SudoInvoker? = nil
    ) throws(TLSError) -> TLSLaunch {
        var notes: [String] = []
        var warnings: [String] = []
        let certificatePath: String
        let context: TLSServerContext
        if let certificate, let key {
            certificatePath = Paths.absolute(certificate, cwd: cwd)
            context = try TLSServerContext(
                certificatePath: certificatePath, keyPath: Paths.absolute(key, cwd: cwd))
        } else {
            let folder = try CertificateAuthority.defaultFolder(environment: environment)
            let authority = try SudoInvoker.localCA(in: folder, invoker: invoker)
            if authority.isNew { notes.append("Made the local CA \(authority.certificatePath): \(untrustedCA).") }
            certificatePath = Paths.absolute("certs/localhost.pem", cwd: cwd)
            let keyPath = Paths.absolute("certs/localhost-key.pem", cwd: cwd)
            // With --lan, phones and other machines reach it by this machine's private addresses.
            let lanAddresses = lan ? StartupBanner.lanAddresses() : []
            let addresses = lanAddresses.filter(LocalCA.isPermittedAddress)
            for address in lanAddresses where !addresses.contains(address) {
                warnings.append(
                    "The address \(address) is not a private one, so the local CA may not sign it: browsers on "
                        + "other machines will warn there. Use a private (10.x, 172.16-31.x, 192.168.x) address.")
            }
            try invoker?.checkLeafFolder(certificatePath: certificatePath)
            // Made (or found) and loaded under the CA's lock: a second devserve starting at the same
            // moment waits, instead of rewriting the pair while this one reads it.
            let (status, loaded) = try authority.withLock { () throws(TLSError) in
                let status = try authority.ensureLeaf(
                    certPath: certificatePath, keyPath: keyPath, names: [], ipAddresses: addresses)
                return (status, try TLSServerContext(certificatePath: certificatePath, keyPath: keyPath))
            }
            context = loaded
            switch status {
            case .created:
                notes.append("Made certs/localhost.pem, signed by the local CA \(authority.certificatePath).")
            case .renewed: notes.append("Renewed certs/localhost.pem (expiring, or the names it covers changed).")
            case .current: break
            }
            invoker?.takeLeaf(status, certificatePath: certificatePath, keyPath: keyPath)
        }
        if context.secondsUntilExpiry <= 0 {
            warnings.append(
                "The certificate '\(certificatePath)' has expired; browsers will warn. Serving it anyway: "
                    + "renew it, or use --tls alone for a local certificate.")
        }
        return TLSLaunch(context: context, notes: notes, warnings: warnings)
    }

    /// Said when the local CA was just made: browsers warn until it is trusted.
    static var untrustedCA: String {
        "browsers do not trust it until you run `\(invokedAs) trust` once, then restart them"
    }

    /// What a failed handshake means for the user, when it means something they can fix.
    static func explain(_ error: any Error, ownCertificate: Bool) -> String? {
        guard case TLSError.handshakeFailed(let errors) = error else { return nil }
        let detail = errors.joined(separator: " ").lowercased()
        if detail.contains("unknown ca") || detail.contains("bad certificate") || detail.contains("certificate unknown")
        {
            return ownCertificate
                ? "A client refused the certificate (it does not trust its issuer): trust your CA in the browser."
                : "A client refused the certificate (it does not trust the local CA): run `\(invokedAs) trust` once, "
                    + "then restart the browser."
        }
        if detail.contains("unsupported protocol") {
            return "A client offered only TLS 1.1 or older, which devserve refuses: update the client."
        }
        return nil
    }
}
