import COpenSSL

@testable import DevServeTLS

/// A client context that trusts one CA, for the in-memory client of the TLS tests. It lives
/// here, not in DevServeTLS: the server binary never acts as a TLS client.
final class OpenSSLClientContext: @unchecked Sendable {
    // @unchecked: configured in init, then only read by SSL_new.
    let pointer: OpaquePointer

    /// `maximumVersion` limits the client (e.g. to TLS 1.1, to check the server refuses it).
    init(trusting caPEM: [UInt8]?, hostName: String?, maximumVersion: Int32? = nil) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLServerContext.failure("creating the client context")
        }
        pointer = context
        if let maximumVersion {
            _ = copenssl_ctx_set_min_proto_version(context, 0)
            _ = copenssl_ctx_set_max_proto_version(context, maximumVersion)
            SSL_CTX_set_security_level(context, 0)
        }
        guard let caPEM else { return }
        let certificate = try OpenSSLCertificates.readCertificate(caPEM, purpose: "reading the CA to trust")
        defer { X509_free(certificate) }
        guard X509_STORE_add_cert(SSL_CTX_get_cert_store(context), certificate) == 1 else {
            throw OpenSSLServerContext.failure("trusting the CA")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let hostName {
            let parameters = SSL_CTX_get0_param(context)
            _ = X509_VERIFY_PARAM_set1_host(parameters, hostName, 0)
        }
    }

    deinit { SSL_CTX_free(pointer) }
}

extension OpenSSLConnection {
    /// A client connection offering `alpn`.
    convenience init(client: OpenSSLClientContext, alpn: [String]) throws(TLSError) {
        try self.init(context: client.pointer, owner: client, isServer: false)
        var wire: [UInt8] = []
        for name in alpn {
            wire.append(UInt8(name.utf8.count))
            wire += name.utf8
        }
        if !wire.isEmpty { _ = copenssl_set_alpn_protos(ssl, wire, UInt32(wire.count)) }
    }
}
