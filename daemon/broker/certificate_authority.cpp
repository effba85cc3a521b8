// certificate_authority.cpp - client certificates from the broker's CA
// (certificate_authority.hpp), with OpenSSL 3.
#include "broker/certificate_authority.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/random.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace nanotime::broker {
namespace {

constexpr int64_t kBackdate = 300;  // s before now a certificate starts (clock skew)

std::string openssl_reason(const std::string& what) {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return what;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return what + ": " + buf;
}

struct Free {
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509_REQ* p) const { X509_REQ_free(p); }
    void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

Ptr<BIO> memory(std::string_view text) {
    Ptr<BIO> b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!b) throw std::runtime_error("out of memory");
    return b;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(n));
}

std::string certificate_text(X509* cert) {
    Ptr<BIO> out(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_X509(out.get(), cert) != 1)
        throw std::runtime_error(openssl_reason("PEM"));
    return bio_text(out.get());
}

std::string key_text(EVP_PKEY* key) {
    Ptr<BIO> out(BIO_new(BIO_s_mem()));
    if (!out ||
        PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error(openssl_reason("PEM"));
    return bio_text(out.get());
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) {
        X509_EXTENSION_free(ext);
        throw std::runtime_error(openssl_reason("certificate extension"));
    }
    X509_EXTENSION_free(ext);
}

void add_name_entry(X509_NAME* name, const char* field, std::string_view value) {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
        throw std::runtime_error(openssl_reason("certificate name"));
}

// 128 random bits, top bit clear (a positive INTEGER of at most 16 octets).
std::string random_serial(X509* cert) {
    uint8_t bytes[16];
    if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
        throw std::runtime_error("getrandom failed");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01 << 6;  // never a short serial
    Ptr<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
        throw std::runtime_error(openssl_reason("serial"));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : bytes) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 15]);
    }
    return hex;
}

void set_validity(X509* cert, int64_t now, int64_t not_before, unsigned days) {
    // X509_time_adj_ex with a given base: deterministic under test.
    time_t base = static_cast<time_t>(now);
    if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, not_before - now, &base) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(days), 0, &base) == nullptr)
        throw std::runtime_error(openssl_reason("validity"));
}

std::string fingerprint(X509* cert) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert, EVP_sha256(), digest, &length) != 1)
        throw std::runtime_error(openssl_reason("fingerprint"));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < length; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 15]);
    }
    return hex;
}

}  // namespace

bool is_valid_subject_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

CertificateAuthority::CertificateAuthority(std::string_view certificate_pem,
                                           std::string_view private_key_pem) {
    Ptr<BIO> c = memory(certificate_pem);
    Ptr<X509> cert(PEM_read_bio_X509(c.get(), nullptr, nullptr, nullptr));
    if (!cert) throw std::runtime_error(openssl_reason("broker CA certificate"));
    Ptr<BIO> k = memory(private_key_pem);
    Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(k.get(), nullptr, nullptr, nullptr));
    if (!key) throw std::runtime_error(openssl_reason("broker CA private key"));
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        throw std::runtime_error(openssl_reason("broker CA private key does not match"));
    if (X509_check_ca(cert.get()) == 0) {
        ERR_clear_error();
        throw std::runtime_error("broker CA certificate is not a CA (basicConstraints CA:TRUE)");
    }
    certificate_pem_ = certificate_text(cert.get());
    certificate_ = cert.release();
    key_ = key.release();
}

CertificateAuthority::~CertificateAuthority() {
    X509_free(certificate_);
    EVP_PKEY_free(key_);
}

IssuedCertificate CertificateAuthority::issue(std::string_view name, Role role, int64_t now,
                                              unsigned days, std::string_view csr_pem,
                                              std::string_view issued_by) const {
    if (!is_valid_subject_name(name))
        throw std::invalid_argument("name must be 1 to 64 characters of [A-Za-z0-9._-]");
    if (days < 1 || days > 3650) throw std::invalid_argument("days must be 1 to 3650");
    IssuedCertificate out;
    Ptr<EVP_PKEY> key;
    if (csr_pem.empty()) {
        key.reset(EVP_EC_gen("P-256"));
        if (!key) throw std::runtime_error(openssl_reason("key generation"));
        out.private_key_pem = key_text(key.get());
    } else {
        Ptr<BIO> b = memory(csr_pem);
        Ptr<X509_REQ> req(PEM_read_bio_X509_REQ(b.get(), nullptr, nullptr, nullptr));
        if (!req) {
            ERR_clear_error();
            throw std::invalid_argument("csr is not a PEM certificate request");
        }
        key.reset(X509_REQ_get_pubkey(req.get()));
        if (!key || X509_REQ_verify(req.get(), key.get()) != 1) {
            ERR_clear_error();
            throw std::invalid_argument("csr signature does not verify");
        }
    }
    Ptr<X509> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
        throw std::runtime_error(openssl_reason("certificate"));
    out.info.serial = random_serial(cert.get());
    set_validity(cert.get(), now, now - kBackdate, days);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    add_name_entry(subject, "OU", to_string(role));
    add_name_entry(subject, "CN", name);
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(certificate_)) != 1 ||
        X509_set_pubkey(cert.get(), key.get()) != 1)
        throw std::runtime_error(openssl_reason("certificate"));
    add_extension(cert.get(), certificate_, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), certificate_, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), certificate_, NID_ext_key_usage, "clientAuth");
    add_extension(cert.get(), certificate_, NID_authority_key_identifier, "keyid");
    if (X509_sign(cert.get(), key_, EVP_sha256()) == 0)
        throw std::runtime_error(openssl_reason("certificate signature"));
    out.certificate_pem = certificate_text(cert.get());
    out.info.fingerprint = fingerprint(cert.get());
    out.info.name = name;
    out.info.role = role;
    out.info.not_before = now - kBackdate;
    out.info.not_after = now + int64_t{days} * 86400;
    out.info.issued = now;
    out.info.issued_by = issued_by;
    return out;
}

CertificateAuthority::Pem CertificateAuthority::create(std::string_view name, int64_t now,
                                                       unsigned days) {
    Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
    Ptr<X509> cert(X509_new());
    if (!key || !cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
        throw std::runtime_error(openssl_reason("CA certificate"));
    random_serial(cert.get());
    set_validity(cert.get(), now, now - kBackdate, days);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    add_name_entry(subject, "CN", name);
    if (X509_set_issuer_name(cert.get(), subject) != 1 ||
        X509_set_pubkey(cert.get(), key.get()) != 1)
        throw std::runtime_error(openssl_reason("CA certificate"));
    add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
        throw std::runtime_error(openssl_reason("CA certificate signature"));
    return Pem{certificate_text(cert.get()), key_text(key.get())};
}

}  // namespace nanotime::broker
