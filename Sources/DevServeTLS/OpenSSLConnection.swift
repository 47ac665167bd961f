// The only file of the connection code that calls OpenSSL: the server's SSL_CTX, and one SSL
// object per connection driven through two memory BIOs. Nothing here knows about NIO or sockets:
// ciphertext goes in with `feed`, comes out with `takeCiphertext`, and every call returns a plain
// result (WANT_READ is the ordinary `.incomplete`), so the handler is a state machine around it.
// Every SSL I/O call starts from an empty error queue: the queue is per thread, and one event loop
// thread serves many connections.
internal import COpenSSL

/// The shared, immutable server context: protocol versions, ciphers, groups, ALPN, the certificate
/// chain and key. Configured once, then only read (SSL_new), which OpenSSL allows from any thread.
final class OpenSSLServerContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is never changed after init; SSL_new only takes references to it.
    let pointer: OpaquePointer

    /// Mozilla's "intermediate" TLS 1.2 suites, restricted to ECDHE with AES-GCM and ChaCha20-Poly1305.
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    static let tls13Ciphers = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    static let groups = "X25519:P-256:P-384"

    /// `chain` is the leaf first, then its intermediates (PEM certificates, parsed by the caller's
    /// checks already); `key` the leaf's PEM key.
    init(chain: [[UInt8]], key: [UInt8]) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw Self.failure("creating the TLS context") }
        pointer = context
        copenssl_ctx_refuse_passwords(context)
        guard copenssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1,
            copenssl_ctx_set_max_proto_version(context, TLS1_3_VERSION) == 1,
            SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1,
            SSL_CTX_set_ciphersuites(context, Self.tls13Ciphers) == 1,
            copenssl_ctx_set1_groups_list(context, Self.groups) == 1
        else { throw Self.failure("configuring TLS versions, ciphers and groups") }
        copenssl_ctx_set_server_options(context)
        // Idle connections give their read and write buffers back (1,000 open tabs cost little).
        _ = copenssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        copenssl_ctx_enable_alpn(context)

        guard let leafPEM = chain.first else { throw Self.failure("reading the certificate") }
        let leaf = try OpenSSLCertificates.readCertificate(leafPEM, purpose: "reading the certificate")
        defer { X509_free(leaf) }
        guard SSL_CTX_use_certificate(context, leaf) == 1 else { throw Self.failure("using the certificate") }
        for intermediatePEM in chain.dropFirst() {
            let intermediate = try OpenSSLCertificates.readCertificate(
                intermediatePEM, purpose: "reading an intermediate certificate")
            // add0: the context owns it from here on, so it is freed only if adding failed.
            guard copenssl_ctx_add0_chain_cert(context, intermediate) == 1 else {
                X509_free(intermediate)
                throw Self.failure("adding an intermediate certificate")
            }
        }
        let privateKey = try OpenSSLCertificates.readKey(key, purpose: "reading the key")
        defer { EVP_PKEY_free(privateKey) }
        guard SSL_CTX_use_PrivateKey(context, privateKey) == 1 else { throw Self.failure("using the key") }
        guard SSL_CTX_check_private_key(context) == 1 else { throw Self.failure("checking the key") }
        ERR_clear_error()
    }

    deinit { SSL_CTX_free(pointer) }

    static func failure(_ operation: String) -> TLSError {
        .openSSL(operation: operation, errors: OpenSSLCertificates.drainErrors())
    }
}

/// One TLS connection: an SSL object between a read BIO (ciphertext in) and a write BIO
/// (ciphertext out). Used on one thread at a time (its channel's event loop).
final class OpenSSLConnection {
    let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    /// Keeps the context alive as long as the SSL object refers to it.
    private let context: AnyObject

    enum Result: Equatable {
        /// The call finished.
        case complete
        /// OpenSSL needs more ciphertext from the peer (WANT_READ); call again after `feed`.
        case incomplete
        /// The peer sent close_notify: no more data will come.
        case closed
        /// A protocol error; `errors` is the drained error queue (an alert may be waiting in
        /// `takeCiphertext`).
        case failed(errors: [String])
    }

    convenience init(server: OpenSSLServerContext) throws(TLSError) {
        try self.init(context: server.pointer, owner: server, isServer: true)
    }

    /// `owner` keeps the context alive; a client connection is made by the tests only.
    init(context pointer: OpaquePointer, owner: AnyObject, isServer: Bool) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(pointer) else { throw OpenSSLServerContext.failure("creating a TLS connection") }
        guard let readBIO = copenssl_new_memory_bio() else {
            SSL_free(ssl)
            throw OpenSSLServerContext.failure("creating a memory BIO")
        }
        guard let writeBIO = copenssl_new_memory_bio() else {
            BIO_free(readBIO)
            SSL_free(ssl)
            throw OpenSSLServerContext.failure("creating a memory BIO")
        }
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL object owns both BIOs from here on
        if isServer { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        self.context = owner
    }

    deinit { SSL_free(ssl) }

    /// Hands ciphertext from the peer to OpenSSL. Memory BIOs take everything.
    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Self.largestCall)
            _ = BIO_write(readBIO, base + offset, Int32(count))
            offset += count
        }
    }

    /// OpenSSL's lengths are `int`: larger buffers go through in pieces of this size.
    static let largestCall = 1 << 30

    /// Whether a read could return anything: decrypted bytes OpenSSL holds, or ciphertext not yet
    /// processed. When neither, another `read` would only say WANT_READ.
    var mayRead: Bool { SSL_pending(ssl) > 0 || BIO_ctrl_pending(readBIO) > 0 }

    /// Ciphertext waiting to go to the peer.
    var pendingCiphertext: Int { Int(BIO_ctrl_pending(writeBIO)) }

    /// Moves up to `into.count` bytes of waiting ciphertext into `into`; returns how many.
    func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return max(0, Int(BIO_read(writeBIO, base, Int32(min(buffer.count, Self.largestCall)))))
    }

    func handshake() -> Result {
        ERR_clear_error()
        return result(of: SSL_do_handshake(ssl))
    }

    /// Decrypts into `buffer`: `(.complete, n)` with n > 0 bytes, else why nothing came.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> (Result, Int) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return (.complete, 0) }
        ERR_clear_error()
        let count = SSL_read(ssl, base, Int32(min(buffer.count, Self.largestCall)))
        return count > 0 ? (.complete, Int(count)) : (result(of: count), 0)
    }

    /// Encrypts all of `bytes` (memory BIOs never push back, so a write is never partial).
    func write(_ bytes: UnsafeRawBufferPointer) -> Result {
        guard let base = bytes.baseAddress else { return .complete }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let count = SSL_write(ssl, base + offset, Int32(min(bytes.count - offset, Self.largestCall)))
            guard count > 0 else { return result(of: count) }
            offset += Int(count)
        }
        return .complete
    }

    /// Sends close_notify. `.complete` once the peer's close_notify has also been received.
    func shutdown() -> Result {
        ERR_clear_error()
        let status = SSL_shutdown(ssl)
        if status == 1 { return .complete }
        if status == 0 { return .incomplete }
        let result = result(of: status)
        return result == .closed ? .complete : result
    }

    /// The ALPN protocol agreed in the handshake, if any.
    var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// "TLSv1.3" and the like.
    var negotiatedVersion: String { String(cString: SSL_get_version(ssl)) }

    var negotiatedCipher: String {
        guard let cipher = SSL_get_current_cipher(ssl) else { return "" }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    private func result(of status: Int32) -> Result {
        switch SSL_get_error(ssl, status) {
        case SSL_ERROR_NONE: return .complete
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .incomplete
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            // Memory BIOs make no system calls: this is an EOF the protocol did not expect.
            let errors = OpenSSLCertificates.drainErrors()
            return .failed(errors: errors.isEmpty ? ["unexpected end of the TLS stream"] : errors)
        default:
            return .failed(errors: OpenSSLCertificates.drainErrors())
        }
    }
}

@available(*, unavailable)
extension OpenSSLConnection: Sendable {}
