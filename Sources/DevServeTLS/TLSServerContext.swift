import NIOCore

/// What serving HTTPS needs: the certificate chain and key, checked and loaded once into a shared,
/// immutable OpenSSL context. Each connection gets its own `TLSHandler` from `makeHandler()`.
public final class TLSServerContext: Sendable {
    private let context: OpenSSLServerContext
    /// The PEM files it was loaded from (kept out of listings and never served).
    public let certificatePath: String
    public let keyPath: String
    /// Seconds until the leaf certificate expires (negative once it has).
    public let secondsUntilExpiry: Int

    /// Loads `certificatePath` (a PEM chain, leaf first) and `keyPath` (an unencrypted PEM key),
    /// with one sentence for each way they can be wrong.
    public init(certificatePath: String, keyPath: String) throws(TLSError) {
        let chain = try Self.readChain(certificatePath)
        let key = try Self.readKey(keyPath)
        guard let leaf = chain.first else { throw TLSError.notACertificate(path: certificatePath) }
        guard (try? OpenSSLCertificates.keyMatches(certificatePEM: leaf, keyPEM: key)) == true else {
            throw TLSError.keyMismatch(certificate: certificatePath, key: keyPath)
        }
        self.context = try OpenSSLServerContext(chain: chain, key: key)
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.secondsUntilExpiry = (try? OpenSSLCertificates.secondsUntilExpiry(certificatePEM: leaf)) ?? 0
    }

    /// A handler for one new server connection.
    public func makeHandler() throws(TLSError) -> TLSHandler {
        TLSHandler(connection: try OpenSSLConnection(server: context))
    }

    // MARK: Reading the files

    private static func readFile(_ path: String, onError: (String) -> TLSError) throws(TLSError) -> [UInt8] {
        switch CertificateFiles.readOrReason(path) {
        case .success(let bytes): return bytes
        case .failure(let reason): throw onError(reason.message)
        }
    }

    /// The PEM blocks of `path`, each with its BEGIN and END lines, that are certificates.
    static func readChain(_ path: String) throws(TLSError) -> [[UInt8]] {
        let bytes = try readFile(path) { .certificateUnreadable(path: path, reason: $0) }
        let blocks = PEMBlocks.split(bytes)
        let certificates = blocks.filter { $0.label == "CERTIFICATE" || $0.label == "TRUSTED CERTIFICATE" }
        guard !certificates.isEmpty else {
            if blocks.contains(where: { $0.label.hasSuffix("PRIVATE KEY") }) {
                throw TLSError.keyInsteadOfCertificate(path: path)
            }
            throw TLSError.notACertificate(path: path)
        }
        for certificate in certificates where !OpenSSLCertificates.parsesAsCertificate(certificate.bytes) {
            throw TLSError.notACertificate(path: path)
        }
        return certificates.map(\.bytes)
    }

    static func readKey(_ path: String) throws(TLSError) -> [UInt8] {
        let bytes = try readFile(path) { .keyUnreadable(path: path, reason: $0) }
        let blocks = PEMBlocks.split(bytes)
        if blocks.contains(where: { $0.label == "ENCRYPTED PRIVATE KEY" || $0.isLegacyEncrypted }) {
            throw TLSError.keyEncrypted(path: path)
        }
        guard let key = blocks.first(where: { $0.label.hasSuffix("PRIVATE KEY") }),
            OpenSSLCertificates.parsesAsKey(key.bytes)
        else { throw TLSError.notAKey(path: path) }
        return key.bytes
    }
}

/// The `-----BEGIN X-----` … `-----END X-----` blocks of a PEM file.
struct PEMBlocks {
    var label: String
    var bytes: [UInt8]
    /// A traditional encrypted key (`Proc-Type: 4,ENCRYPTED`).
    var isLegacyEncrypted: Bool

    static func split(_ file: [UInt8]) -> [PEMBlocks] {
        let text = String(decoding: file, as: UTF8.self)
        var blocks: [PEMBlocks] = []
        var current: (label: String, lines: [Substring])?
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if current == nil, line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                current = (String(line.dropFirst(11).dropLast(5)), [line])
            } else if current != nil {
                // Appended in place: copying the block out and back per line made a long block
                // (or one that never ends) quadratic.
                current?.lines.append(line)
                guard let block = current else { continue }
                if line == "-----END \(block.label)-----" {
                    let joined = block.lines.joined(separator: "\n") + "\n"
                    blocks.append(
                        PEMBlocks(
                            label: block.label, bytes: Array(joined.utf8),
                            isLegacyEncrypted: block.lines.contains { $0.hasPrefix("Proc-Type: 4,ENCRYPTED") }))
                    current = nil
                }
            }
        }
        return blocks
    }
}
