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

#endif
