// The broker's CA and the TLS server's client-certificate verdict: issued
// certificates verify against the CA and carry name, role and fingerprint;
// a certificate from another CA, an expired one, or none are told apart
// (TlsSession::peer_certificate) without failing the handshake.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "broker/certificate_authority.hpp"
#include "io/tls_session.hpp"

namespace nanotime::broker {
namespace {

int64_t now() {
    return static_cast<int64_t>(std::time(nullptr));
}

X509* read_certificate(const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    return x;
}

EVP_PKEY* read_key(const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    return k;
}

// A TLS server with client certificates checked against @ca, a client
// presenting @client (or nothing), the ciphertext shuttled in memory.
std::optional<io::PeerCertificate> handshake(const std::string& ca_pem,
                                             const IssuedCertificate* client) {
    static const auto server_ca = CertificateAuthority::create("server-ca", now(), 2);
    static const CertificateAuthority server_issuer(server_ca.certificate_pem,
                                                    server_ca.private_key_pem);
    static const auto server_cert =
        server_issuer.issue("localhost", Role::Admin, now(), 1, "", "test");
    io::TlsServerConfig s;
    s.certificate_pem = server_cert.certificate_pem;
    s.private_key_pem = server_cert.private_key_pem;
    s.alpn = {"http/1.1"};
    s.client_ca_pem = ca_pem;
    io::TlsClientConfig c;
    c.trusted_pem = server_ca.certificate_pem;
    c.server_name = "";  // the server's certificate is a clientAuth one: no name check here
    c.alpn = {"http/1.1"};
    auto client_ctx = io::TlsContext::client(c);
    SSL_CTX_set_verify(client_ctx->native(), SSL_VERIFY_NONE, nullptr);
    if (client != nullptr) {
        X509* x = read_certificate(client->certificate_pem);
        EVP_PKEY* k = read_key(client->private_key_pem);
        EXPECT_EQ(SSL_CTX_use_certificate(client_ctx->native(), x), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey(client_ctx->native(), k), 1);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    io::TlsSession server(io::TlsContext::server(s));
    io::TlsSession tls_client(client_ctx);
    const uint8_t hello[] = {'x'};
    tls_client.write(hello);
    for (int round = 0; round < 20; ++round) {
        std::vector<uint8_t> ab, ba;
        tls_client.take_ciphertext(ab);
        server.take_ciphertext(ba);
        if (ab.empty() && ba.empty()) break;
        if (!ab.empty()) server.feed(ab);
        if (!ba.empty()) tls_client.feed(ba);
    }
    EXPECT_TRUE(server.handshake_done()) << server.error();
    std::vector<uint8_t> got;
    server.take_plaintext(got);
    EXPECT_EQ(got.size(), 1u) << "the connection carries data whatever the certificate";
    return server.peer_certificate();
}

class BrokerCa : public ::testing::Test {
  protected:
    static inline const CertificateAuthority::Pem pem_ =
        CertificateAuthority::create("nanotime broker CA", now(), 30);
    CertificateAuthority ca_{pem_.certificate_pem, pem_.private_key_pem};
};

TEST_F(BrokerCa, IssuesAClientCertificateThatVerifies) {
    const auto issued = ca_.issue("ntp1", Role::Member, now(), 90, "", "token:1");
    EXPECT_FALSE(issued.private_key_pem.empty());
    EXPECT_EQ(issued.info.name, "ntp1");
    EXPECT_EQ(issued.info.role, Role::Member);
    EXPECT_EQ(issued.info.fingerprint.size(), 64u);
    EXPECT_EQ(issued.info.serial.size(), 32u);
    EXPECT_EQ(issued.info.not_after - issued.info.issued, 90 * 86400);
    X509* cert = read_certificate(issued.certificate_pem);
    X509* ca = read_certificate(ca_.certificate_pem());
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(ca)), 1);
    EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
    EXPECT_EQ(X509_check_ca(cert), 0) << "CA:FALSE";
    X509_free(cert);
    X509_free(ca);

    const auto verdict = handshake(ca_.certificate_pem(), &issued);
    ASSERT_TRUE(verdict);
    EXPECT_TRUE(verdict->verified) << verdict->verify_error;
    EXPECT_EQ(verdict->sha256, issued.info.fingerprint);
    EXPECT_EQ(verdict->subject_common_name, "ntp1");
}

TEST_F(BrokerCa, AnotherCasCertificateIsToldApart) {
    const auto other_pem = CertificateAuthority::create("other CA", now(), 30);
    const CertificateAuthority other(other_pem.certificate_pem, other_pem.private_key_pem);
    const auto foreign = other.issue("ntp1", Role::Admin, now(), 1, "", "x");
    const auto verdict = handshake(ca_.certificate_pem(), &foreign);
    ASSERT_TRUE(verdict);
    EXPECT_FALSE(verdict->verified);
    EXPECT_EQ(verdict->verify_error, "unable to verify the first certificate");
}

TEST_F(BrokerCa, ExpiredCertificateIsToldApart) {
    const auto old = ca_.issue("ntp1", Role::Admin, now() - 10 * 86400, 2, "", "x");
    const auto verdict = handshake(ca_.certificate_pem(), &old);
    ASSERT_TRUE(verdict);
    EXPECT_FALSE(verdict->verified);
    EXPECT_EQ(verdict->verify_error, "certificate has expired");
}

TEST_F(BrokerCa, NoCertificateIsNone) {
    EXPECT_FALSE(handshake(ca_.certificate_pem(), nullptr));
}

TEST_F(BrokerCa, IssuesForARequestWithoutReturningAKey) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509_REQ* req = X509_REQ_new();
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    const std::string csr(data, static_cast<size_t>(n));
    BIO_free(b);
    X509_REQ_free(req);
    const auto issued = ca_.issue("op-alice", Role::Operator, now(), 1, csr, "x");
    EXPECT_TRUE(issued.private_key_pem.empty());
    X509* cert = read_certificate(issued.certificate_pem);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    EXPECT_THROW(ca_.issue("x", Role::Operator, now(), 1, "garbage", "x"), std::invalid_argument);
}

TEST_F(BrokerCa, RefusesBadNamesAndDays) {
    EXPECT_THROW(ca_.issue("", Role::Member, now(), 1, "", "x"), std::invalid_argument);
    EXPECT_THROW(ca_.issue("a/b", Role::Member, now(), 1, "", "x"), std::invalid_argument);
    EXPECT_THROW(ca_.issue(std::string(65, 'a'), Role::Member, now(), 1, "", "x"),
                 std::invalid_argument);
    EXPECT_THROW(ca_.issue("a", Role::Member, now(), 0, "", "x"), std::invalid_argument);
}

TEST(BrokerCaLoad, RefusesANonCaAndAMismatchedKey) {
    const auto a = CertificateAuthority::create("a", now(), 1);
    const auto b = CertificateAuthority::create("b", now(), 1);
    EXPECT_THROW(CertificateAuthority(a.certificate_pem, b.private_key_pem), std::runtime_error);
    const CertificateAuthority ca(a.certificate_pem, a.private_key_pem);
    const auto leaf = ca.issue("leaf", Role::Admin, now(), 1, "", "x");
    try {
        CertificateAuthority bad(leaf.certificate_pem, leaf.private_key_pem);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "broker CA certificate is not a CA (basicConstraints CA:TRUE)");
    }
}

}  // namespace
}  // namespace nanotime::broker
