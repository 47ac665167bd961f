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
    /// An IP address that is malformed or outside loopback and private ranges.
    case addressNotAllowed(String)
    /// Neither XDG_DATA_HOME nor HOME says where the CA should live.
    case noHomeFolder
    /// An OpenSSL call failed; `errors` is the drained error queue.
    case openSSL(operation: String, errors: [String])

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
        case .nameNotAllowed(let name):
            return "The name '\(name)' cannot go in the certificate: the local CA only signs 'localhost' and names "
                + "ending in '.localhost', so browsers would reject it. Use a name like 'app.localhost'."
        case .addressNotAllowed(let address):
            return "The address '\(address)' cannot go in the certificate: the local CA only signs loopback and "
                + "private addresses (127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)."
        case .noHomeFolder:
            return "Neither XDG_DATA_HOME nor HOME is set, so there is no folder for the local CA. Set one of them."
        case .openSSL(let operation, let errors):
            let detail = errors.isEmpty ? "no detail from OpenSSL" : errors.joined(separator: "; ")
            return "OpenSSL failed while \(operation): \(detail)."
        }
    }
}
