// The system OpenSSL 3 (libssl-dev) for Swift. pkg-config `openssl` supplies the flags; this header
// adds `static inline` wrappers for what Swift cannot reach directly: function-like macros,
// variadic functions, the `sk_*` stack macros and union members.
#ifndef DEVSERVE_COPENSSL_SHIM_H
#define DEVSERVE_COPENSSL_SHIM_H

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

/// A fresh ECDSA P-256 key. `EVP_EC_gen` is a macro over the variadic `EVP_PKEY_Q_keygen`.
static inline EVP_PKEY *copenssl_generate_p256_key(void) {
    return EVP_EC_gen("P-256");
}

/// The bytes a memory BIO holds; `BIO_get_mem_data` is a macro over `BIO_ctrl`.
static inline long copenssl_bio_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// `OPENSSL_free` is a macro that records the caller's file and line.
static inline void copenssl_free(void *pointer) {
    OPENSSL_free(pointer);
}

/// MBSTRING_UTF8 is defined through another macro, which Swift does not import.
static inline int copenssl_mbstring_utf8(void) {
    return MBSTRING_UTF8;
}

/// A password callback that refuses: without it OpenSSL would prompt on the terminal for an
/// encrypted key.
static inline int copenssl_no_password(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return -1;
}

/// Reads a private key from PEM without ever prompting for a password.
static inline EVP_PKEY *copenssl_read_private_key(BIO *bio) {
    return PEM_read_bio_PrivateKey(bio, NULL, copenssl_no_password, NULL);
}

/// Reads a certificate from PEM without ever prompting for a password.
static inline X509 *copenssl_read_certificate(BIO *bio) {
    return PEM_read_bio_X509(bio, NULL, copenssl_no_password, NULL);
}

/// The subjectAltName extension of a certificate, or NULL when it has none.
static inline GENERAL_NAMES *copenssl_subject_alt_names(const X509 *certificate) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
}

static inline int copenssl_general_names_count(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

static inline const GENERAL_NAME *copenssl_general_names_value(const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

/// GEN_DNS, GEN_IPADD, ... for one entry.
static inline int copenssl_general_name_type(const GENERAL_NAME *name) {
    return name->type;
}

/// The string of a DNS name (IA5String) or the octets of an IP address; both are ASN1_STRINGs in
/// the entry's union.
static inline const ASN1_STRING *copenssl_general_name_string(const GENERAL_NAME *name) {
    switch (name->type) {
    case GEN_DNS: return name->d.dNSName;
    case GEN_IPADD: return name->d.iPAddress;
    default: return NULL;
    }
}

static inline void copenssl_general_names_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}

static inline int copenssl_gen_dns(void) { return GEN_DNS; }
static inline int copenssl_gen_ipadd(void) { return GEN_IPADD; }

// MARK: - TLS connections (memory BIOs)

static inline long copenssl_ctx_set_min_proto_version(SSL_CTX *context, int version) {
    return SSL_CTX_set_min_proto_version(context, version);
}

static inline long copenssl_ctx_set_max_proto_version(SSL_CTX *context, int version) {
    return SSL_CTX_set_max_proto_version(context, version);
}

static inline long copenssl_ctx_set1_groups_list(SSL_CTX *context, const char *groups) {
    return SSL_CTX_set1_groups_list(context, groups);
}

static inline long copenssl_ctx_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline long copenssl_ctx_add0_chain_cert(SSL_CTX *context, X509 *certificate) {
    return SSL_CTX_add0_chain_cert(context, certificate);
}

/// No renegotiation (a DoS lever and never needed here) and no compression (CRIME).
static inline void copenssl_ctx_set_server_options(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

/// Never prompt on the terminal for an encrypted key's password.
static inline void copenssl_ctx_refuse_passwords(SSL_CTX *context) {
    SSL_CTX_set_default_passwd_cb(context, copenssl_no_password);
}

/// A memory BIO that reports "retry" rather than EOF when empty, so SSL_read says WANT_READ.
static inline BIO *copenssl_new_memory_bio(void) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio != NULL) {
        BIO_set_mem_eof_return(bio, -1);
    }
    return bio;
}

/// The server's ALPN choice: `h2`, else `http/1.1`, in that order of preference; with neither on
/// the client's list, no protocol is agreed and the connection goes on (HTTP/1.1 is assumed).
static inline int copenssl_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                       const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const char *const preferred[] = {"h2", "http/1.1"};
    for (unsigned int choice = 0; choice < 2; choice++) {
        size_t wanted = strlen(preferred[choice]);
        unsigned int index = 0;
        while (index < inlen) {
            unsigned int length = in[index];
            if (index + 1 + length > inlen) {
                break;
            }
            if (length == wanted && memcmp(in + index + 1, preferred[choice], wanted) == 0) {
                *out = in + index + 1;
                *outlen = (unsigned char)length;
                return SSL_TLSEXT_ERR_OK;
            }
            index += 1 + length;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static inline void copenssl_ctx_enable_alpn(SSL_CTX *context) {
    SSL_CTX_set_alpn_select_cb(context, copenssl_alpn_select, NULL);
}

/// For clients (the tests' in-memory client): the protocols offered, in ALPN wire form.
static inline int copenssl_set_alpn_protos(SSL *ssl, const unsigned char *protos, unsigned int length) {
    return SSL_set_alpn_protos(ssl, protos, length);
}

#endif
