// certificate_authority.hpp - the broker's own CA: issues the client
// certificates members and operators authenticate with (TLS 1.3 mutual
// authentication). What a certificate may do is not in the certificate but
// in the broker's database, keyed by its SHA-256 fingerprint, so a role
// change or a revocation needs no new certificate and no CRL.
//
// Issued certificates: X.509 v3, 128-bit random serial, subject CN = the
// name (member name or operator), OU = the role (for people reading it),
// basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
// clientAuth, signed with SHA-256. The key pair is the caller's (a PKCS#10
// request, whose signature is checked) or made here (EC P-256) and handed
// back once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/broker_store.hpp"
#include "broker/roles.hpp"

struct x509_st;
struct evp_pkey_st;

namespace nanotime::broker {

struct IssuedCertificate {
    std::string certificate_pem;
    std::string private_key_pem;  // empty when the key came in a request (CSR)
    CertificateInfo info;         // for BrokerStore::add_certificate
};

class CertificateAuthority {
  public:
    // Throws std::runtime_error with OpenSSL's reason when the PEMs do not
    // load, the key does not match, or the certificate is not a CA.
    CertificateAuthority(std::string_view certificate_pem, std::string_view private_key_pem);
    ~CertificateAuthority();
    CertificateAuthority(const CertificateAuthority&) = delete;
    CertificateAuthority& operator=(const CertificateAuthority&) = delete;

    // A certificate for @name (1..64 bytes of [A-Za-z0-9._-]) valid from
    // @now - 5 min (clock skew) for @days. @csr_pem empty: a new key.
    // Throws std::invalid_argument for a bad name, days or request.
    IssuedCertificate issue(std::string_view name, Role role, int64_t now, unsigned days,
                            std::string_view csr_pem, std::string_view issued_by) const;

    const std::string& certificate_pem() const { return certificate_pem_; }

    // A new self-signed CA (EC P-256, CA:TRUE) named @name, valid from @now
    // for @days: for `nanotimed --broker-init` and the tests.
    struct Pem {
        std::string certificate_pem;
        std::string private_key_pem;
    };
    static Pem create(std::string_view name, int64_t now, unsigned days);

  private:
    x509_st* certificate_ = nullptr;
    evp_pkey_st* key_ = nullptr;
    std::string certificate_pem_;
};

// Is @name usable as a certificate subject / member name?
bool is_valid_subject_name(std::string_view name);

}  // namespace nanotime::broker
