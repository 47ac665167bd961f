// The only file of the certificate code that calls OpenSSL. It works on PEM bytes so the rest of
// the module handles plain values; every OpenSSL object made here is freed before returning.
// Extensions are written in OpenSSL's config syntax (X509V3_EXT_nconf_nid), the same text
// `openssl x509 -text` prints back, so the policy in CertificateAuthority reads plainly.
internal import COpenSSL
import DevServeSystem

/// What the certificate code needs from OpenSSL.
enum OpenSSLCertificates {
    /// One certificate extension in OpenSSL's config syntax, e.g. `critical,CA:TRUE,pathlen:0`.
    struct Extension {
        enum Kind {
            case basicConstraints, keyUsage, extendedKeyUsage, nameConstraints
            case subjectKeyIdentifier, authorityKeyIdentifier, subjectAltName
        }
        var kind: Kind
        var value: String

        var nid: Int32 {
            switch kind {
            case .basicConstraints: return NID_basic_constraints
            case .keyUsage: return NID_key_usage
            case .extendedKeyUsage: return NID_ext_key_usage
            case .nameConstraints: return NID_name_constraints
            case .subjectKeyIdentifier: return NID_subject_key_identifier
            case .authorityKeyIdentifier: return NID_authority_key_identifier
            case .subjectAltName: return NID_subject_alt_name
            }
        }
    }

    /// A new certificate and its key, both PEM.
    struct Issued {
        var certificatePEM: [UInt8]
        var keyPEM: [UInt8]
    }

    /// What a stored leaf says about itself, measured against a CA.
    struct LeafFacts {
        var signedByIssuer: Bool
        var keyMatches: Bool
        var secondsUntilExpiry: Int
        /// Its start date has passed (not so after the clock went back, as on a VM or WSL).
        var hasStarted: Bool
        /// Issued by a devserve CA (this one or an earlier one): devserve's own to replace.
        var fromADevserveCA: Bool
        /// `DNS:name` and `IP:address` entries, names lower-cased, addresses in inet_ntop form.
        var subjectAltNames: Set<String>
    }

    /// Takes OpenSSL's error queue for this thread, oldest first, leaving it empty.
    static func drainErrors() -> [String] {
        var errors: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            errors.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return errors
    }

    /// Makes a key pair and a certificate for it. `issuer` nil means self-signed.
    /// `startSeconds` moves the start date (a test hook; the default backdates five minutes).
    static func issue(
        commonName: String,
        validityDays: Int,
        extensions: [Extension],
        issuer: Issued?,
        startSeconds: Int = -300
    ) throws(TLSError) -> Issued {
        ERR_clear_error()
        guard let key = copenssl_generate_p256_key() else {
            throw failure("generating an ECDSA P-256 key")
        }
        defer { EVP_PKEY_free(key) }

        var issuerCertificate: OpaquePointer?
        var issuerKey: OpaquePointer?
        defer {
            X509_free(issuerCertificate)
            EVP_PKEY_free(issuerKey)
        }
        if let issuer {
            issuerCertificate = try readCertificate(issuer.certificatePEM, purpose: "reading the CA certificate")
            issuerKey = try readKey(issuer.keyPEM, purpose: "reading the CA key")
        }

        guard let certificate = X509_new() else { throw failure("allocating a certificate") }
        defer { X509_free(certificate) }
        guard X509_set_version(certificate, 2) == 1 else { throw failure("setting the certificate version") }
        try setRandomSerial(certificate)

        guard let name = X509_NAME_new() else { throw failure("allocating a certificate name") }
        defer { X509_NAME_free(name) }
        let commonNameBytes = Array(commonName.utf8)
        guard
            X509_NAME_add_entry_by_txt(
                name, "CN", copenssl_mbstring_utf8(), commonNameBytes, Int32(commonNameBytes.count), -1, 0) == 1,
            X509_set_subject_name(certificate, name) == 1
        else { throw failure("setting the subject name '\(commonName)'") }
        let issuerName = issuerCertificate.map { X509_get_subject_name($0) } ?? name
        guard X509_set_issuer_name(certificate, issuerName) == 1 else { throw failure("setting the issuer name") }

        // Backdated five minutes so a clock a little behind the browser's still accepts it.
        guard X509_gmtime_adj(X509_getm_notBefore(certificate), startSeconds) != nil,
            X509_time_adj_ex(X509_getm_notAfter(certificate), Int32(validityDays), 0, nil) != nil
        else { throw failure("setting the validity period") }
        guard X509_set_pubkey(certificate, key) == 1 else { throw failure("setting the public key") }

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuerCertificate ?? certificate, certificate, nil, nil, 0)
        for item in extensions {
            guard let ext = X509V3_EXT_nconf_nid(nil, &context, item.nid, item.value) else {
                throw failure("making the extension '\(item.value)'")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(certificate, ext, -1) == 1 else { throw failure("adding the extension '\(item.value)'") }
        }

        guard X509_sign(certificate, issuerKey ?? key, EVP_sha256()) > 0 else {
            throw failure("signing the certificate")
        }

        let certificatePEM = try pem("writing the certificate as PEM") { PEM_write_bio_X509($0, certificate) }
        let keyPEM = try pem("writing the key as PEM") { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        return Issued(certificatePEM: certificatePEM, keyPEM: keyPEM)
    }

    /// Throws unless `keyPEM` is the private key of `certificatePEM`.
    static func keyMatches(certificatePEM: [UInt8], keyPEM: [UInt8]) throws(TLSError) -> Bool {
        let certificate = try readCertificate(certificatePEM, purpose: "reading the certificate")
        defer { X509_free(certificate) }
        let key = try readKey(keyPEM, purpose: "reading the key")
        defer { EVP_PKEY_free(key) }
        ERR_clear_error()
        let matches = X509_check_private_key(certificate, key) == 1
        ERR_clear_error()
        return matches
    }

    /// Reads a stored leaf. Throws when the certificate cannot be parsed; a key that cannot be
    /// read counts as not matching.
    static func inspectLeaf(
        certificatePEM: [UInt8], keyPEM: [UInt8]?, issuerPEM: [UInt8]
    ) throws(TLSError)
        -> LeafFacts
    {
        let leaf = try readCertificate(certificatePEM, purpose: "reading the certificate")
        defer { X509_free(leaf) }
        let issuer = try readCertificate(issuerPEM, purpose: "reading the CA certificate")
        defer { X509_free(issuer) }

        ERR_clear_error()
        var signed = false
        if X509_check_issued(issuer, leaf) == X509_V_OK, let issuerKey = X509_get0_pubkey(issuer) {
            signed = X509_verify(leaf, issuerKey) == 1
        }

        var keyMatches = false
        if let keyPEM, let key = try? readKey(keyPEM, purpose: "reading the key") {
            keyMatches = X509_check_private_key(leaf, key) == 1
            EVP_PKEY_free(key)
        }

        var days: Int32 = 0
        var seconds: Int32 = 0
        var remaining = Int.min
        if ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notAfter(leaf)) == 1 {
            remaining = Int(days) * 86_400 + Int(seconds)
        }
        var started = false
        if ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(leaf), nil) == 1 {
            started = days >= 0 && seconds >= 0
        }
        var issuerName = [CChar](repeating: 0, count: 256)
        let length = X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, &issuerName, 256)
        let fromDevserve =
            length > 0
            && String(decoding: issuerName.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .hasPrefix(CertificateAuthority.commonNamePrefix)
        ERR_clear_error()
        return LeafFacts(
            signedByIssuer: signed, keyMatches: keyMatches, secondsUntilExpiry: remaining, hasStarted: started,
            fromADevserveCA: fromDevserve,
            subjectAltNames: subjectAltNames(leaf))
    }

    static func parsesAsCertificate(_ pem: [UInt8]) -> Bool {
        guard let certificate = try? readCertificate(pem, purpose: "reading the certificate") else {
            ERR_clear_error()
            return false
        }
        X509_free(certificate)
        return true
    }

    static func parsesAsKey(_ pem: [UInt8]) -> Bool {
        guard let key = try? readKey(pem, purpose: "reading the key") else {
            ERR_clear_error()
            return false
        }
        EVP_PKEY_free(key)
        return true
    }

    /// Seconds from now until the certificate's notAfter (negative once expired).
    static func secondsUntilExpiry(certificatePEM: [UInt8]) throws(TLSError) -> Int {
        let certificate = try readCertificate(certificatePEM, purpose: "reading the certificate")
        defer { X509_free(certificate) }
        var days: Int32 = 0
        var seconds: Int32 = 0
        guard ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notAfter(certificate)) == 1 else {
            throw failure("reading the certificate's expiry date")
        }
        return Int(days) * 86_400 + Int(seconds)
    }

    // MARK: - Helpers

    private static func failure(_ operation: String) -> TLSError {
        .openSSL(operation: operation, errors: drainErrors())
    }

    private static func setRandomSerial(_ certificate: OpaquePointer) throws(TLSError) {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw failure("making a random serial number") }
        // Positive and a full 128 bits long: top bit clear, the next one set.
        bytes[0] = (bytes[0] & 0x7f) | 0x40
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw failure("making a random serial number")
        }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else {
            throw failure("setting the serial number")
        }
    }

    private static func withMemoryBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) -> T?) -> T? {
        bytes.withUnsafeBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    /// A parsed certificate the caller must `X509_free`.
    static func readCertificate(_ pem: [UInt8], purpose: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let certificate = withMemoryBIO(pem, { copenssl_read_certificate($0) }) else { throw failure(purpose) }
        return certificate
    }

    /// A parsed private key the caller must `EVP_PKEY_free`; never prompts for a password.
    static func readKey(_ pem: [UInt8], purpose: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let key = withMemoryBIO(pem, { copenssl_read_private_key($0) }) else { throw failure(purpose) }
        return key
    }

    private static func pem(_ operation: String, _ write: (OpaquePointer) -> Int32) throws(TLSError) -> [UInt8] {
        ERR_clear_error()
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure(operation) }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw failure(operation) }
        var data: UnsafeMutablePointer<CChar>?
        let length = copenssl_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw failure(operation) }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    private static func subjectAltNames(_ certificate: OpaquePointer) -> Set<String> {
        guard let names = copenssl_subject_alt_names(certificate) else { return [] }
        defer { copenssl_general_names_free(names) }
        var result: Set<String> = []
        for index in 0..<copenssl_general_names_count(names) {
            guard let entry = copenssl_general_names_value(names, index),
                let string = copenssl_general_name_string(entry),
                let data = ASN1_STRING_get0_data(string)
            else { continue }
            let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
            switch copenssl_general_name_type(entry) {
            case copenssl_gen_dns():
                result.insert("DNS:" + String(decoding: bytes, as: UTF8.self).lowercased())
            case copenssl_gen_ipadd():
                result.insert("IP:" + (IPAddress(bytes: bytes)?.text ?? "invalid"))
            default:
                continue
            }
        }
        return result
    }
}
