/// Everything that can go wrong in DevServeTLS, each case read as a sentence a user can act on.
/// Failures inside OpenSSL carry the drained error queue of the thread that made the call.
public enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The CA folder could not be created, secured (mode 0700) or written to.
    case caFolderNotWritable(folder: String, reason: String)
    /// `ca.pem` or `ca-key.pem` exists but cannot be read or parsed.
    case caUnreadable(path: String, reason: String)
    /// `ca-key.pem` is not the key of `ca.pem`.
    case caKeyMismatch(certificate: String, key: String)
    /// A leaf certificate or key file could not be written.
    case fileNotWritable(path: String, reason: String)
    /// A DNS name the local CA may not sign (its nameConstraints allow only localhost names).
    case nameNotAllowed(String)
    /// A wildcard directly above `localhost` (`*.localhost`), which Firefox rejects as malformed.
    case wildcardTooBroad(String)
    /// An IP address that is malformed or outside loopback and private ranges.
    case addressNotAllowed(String)
    /// Neither XDG_DATA_HOME nor HOME says where the CA should live.
    case noHomeFolder
    /// Under sudo, the invoking user has no local CA, and root will not make one in their home.
    case noLocalCAUnderSudo(user: String, path: String)
    case leafFolderIsALinkUnderSudo(path: String)
    case caExpiring(path: String)
    case leafNotOurs(path: String)
    /// A key at the leaf key's path with no certificate beside it: the user's, never replaced.
    case keyNotOurs(path: String, certificatePath: String)
    /// An OpenSSL call failed; `errors` is the drained error queue.
    case openSSL(operation: String, errors: [String])
    /// `--cert` names a file that is missing or cannot be read.
    case certificateUnreadable(path: String, reason: String)
    /// `--cert` names a file without a PEM certificate in it.
    case notACertificate(path: String)
    /// `--cert` names the key file (the two flags swapped).
    case keyInsteadOfCertificate(path: String)
    /// `--key` names a file that is missing or cannot be read.
    case keyUnreadable(path: String, reason: String)
    /// `--key` names a password-protected key.
    case keyEncrypted(path: String)
    /// `--key` names a file without a PEM private key in it.
    case notAKey(path: String)
    /// The key is not the certificate's.
    case keyMismatch(certificate: String, key: String)
    /// A connection's handshake failed (the client's protocol, ciphers or bytes were refused).
    case handshakeFailed(errors: [String])
    /// The peer closed the connection without close_notify, so the data may be truncated.
    case uncleanShutdown
    /// A TLS protocol error after the handshake.
    case connectionFailed(errors: [String])

    public var description: String {
        switch self {
        case .caFolderNotWritable(let folder, let reason):
            return "The CA folder '\(folder)' is not writable: \(reason). "
                + "Make it a folder you own, or set XDG_DATA_HOME to one."
        case .caUnreadable(let path, let reason):
            return "The local CA file '\(path)' could not be read: \(reason). "
                + "Delete the CA folder to make a new CA, then run `devserve trust` again."
        case .caKeyMismatch(let certificate, let key):
            return "The local CA key '\(key)' does not belong to the certificate '\(certificate)'. "
                + "Delete both to make a new CA, then run `devserve trust` again."
        case .fileNotWritable(let path, let reason):
            return "The file '\(path)' could not be written: \(reason). Check that its folder exists and is writable."
        case .wildcardTooBroad(let name):
            let example = "app." + name.drop { $0 != "." }.dropFirst()
            return "The name '\(name)' cannot go in the certificate: Firefox rejects a wildcard directly above "
                + "'localhost', so name each host exactly instead (use --name \(example))."
        case .nameNotAllowed(let name):
            return "The name '\(name)' cannot go in the certificate: the local CA only signs 'localhost' and names "
                + "ending in '.localhost', so browsers would reject it. Use a name like 'app.localhost'."
        case .addressNotAllowed(let address):
            return "The address '\(address)' cannot go in the certificate: the local CA only signs loopback and "
                + "private addresses (127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)."
        case .noHomeFolder:
            return "Neither XDG_DATA_HOME nor HOME is set, so there is no folder for the local CA. Set one of them."
        case .noLocalCAUnderSudo(let user, let path):
            return "\(user) has no local CA yet ('\(path)'), and devserve will not make one as root in their home: "
                + "run `devserve cert` once without sudo, then this command again."
        case .leafNotOurs(let path):
            return "'\(path)' was not made by devserve, so devserve will not replace it: serve it with "
                + "--cert and --key, or move it away and run --tls again."
        case .keyNotOurs(let path, let certificatePath):
            return "'\(path)' is there without its certificate '\(certificatePath)', so devserve did not make it "
                + "and will not replace it: serve it with --cert and --key, or move it away and run --tls again."
        case .caExpiring(let path):
            return "The local CA '\(path)' has expired or expires within 30 days, so it cannot sign a certificate "
                + "browsers accept: delete its folder to make a new CA, then run `devserve trust` again."
        case .leafFolderIsALinkUnderSudo(let path):
            return
                "'\(path)' is a symbolic link, and devserve will not write the certificate and key through it as root: "
                + "make it a plain folder, or run this command without sudo."
        case .certificateUnreadable(let path, let reason):
            return "The certificate '\(path)' could not be read: \(reason). Pass a readable PEM file to --cert, "
                + "or use --tls alone for a local certificate."
        case .notACertificate(let path):
            return "The file '\(path)' holds no PEM certificate (-----BEGIN CERTIFICATE-----). "
                + "Pass the certificate chain to --cert."
        case .keyInsteadOfCertificate(let path):
            return "The file '\(path)' given to --cert is a private key. "
                + "Pass the certificate to --cert and the key to --key."
        case .keyUnreadable(let path, let reason):
            return "The key '\(path)' could not be read: \(reason). Pass a readable PEM key to --key."
        case .keyEncrypted(let path):
            return "The key '\(path)' is encrypted with a password, which devserve cannot ask for. "
                + "Write a decrypted copy with `openssl pkey -in \(path) -out key.pem` and pass that to --key."
        case .notAKey(let path):
            return "The file '\(path)' holds no PEM private key (-----BEGIN PRIVATE KEY-----). "
                + "Pass the certificate's private key to --key."
        case .keyMismatch(let certificate, let key):
            return "The key '\(key)' does not belong to the certificate '\(certificate)'. "
                + "Pass the key the certificate was made for."
        case .handshakeFailed(let errors):
            return
                "The TLS handshake failed: \(errors.isEmpty ? "no detail from OpenSSL" : errors.joined(separator: "; "))."
        case .uncleanShutdown:
            return "The peer closed the TLS connection without close_notify."
        case .connectionFailed(let errors):
            return
                "The TLS connection failed: \(errors.isEmpty ? "no detail from OpenSSL" : errors.joined(separator: "; "))."
        case .openSSL(let operation, let errors):
            let detail = errors.isEmpty ? "no detail from OpenSSL" : errors.joined(separator: "; ")
            return "OpenSSL failed while \(operation): \(detail)."
        }
    }
}

extension TLSError {
    /// The description without its closing period, to go inside another sentence.
    var clause: String {
        let text = description
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }
}
