// tls_session.cpp - TLS 1.3 over a memory BIO pair with OpenSSL 3 (see
// tls_session.hpp): contexts from PEM in memory, the handshake and record
// layer driven by the bytes the caller moves.
#include "io/tls_session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace nanotime::io {
namespace {

// OpenSSL's reason for the last failure on this thread (and clears the queue).
std::string openssl_reason(const char* what) {
    std::string text = what;
    unsigned long code = 0;
    bool first = true;
    while ((code = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        text += first ? ": " : "; ";
        text += buf;
        first = false;
    }
    return text;
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memory_bio(const std::string& pem) {
    return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::vector<uint8_t> alpn_wire_format(const std::vector<std::string>& names) {
    std::vector<uint8_t> wire;
    for (const std::string& n : names) {
        if (n.empty() || n.size() > 255) throw std::runtime_error("ALPN name of length 1..255");
        wire.push_back(static_cast<uint8_t>(n.size()));
        wire.insert(wire.end(), n.begin(), n.end());
    }
    return wire;
}

// The server's TLS 1.3 suites in its order of preference.
constexpr const char* kServerCipherSuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

SSL_CTX* new_tls13_context(const SSL_METHOD* method) {
    SSL_CTX* ctx = SSL_CTX_new(method);
    if (ctx == nullptr) throw std::runtime_error(openssl_reason("SSL_CTX_new"));
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    // Partial writes: a record that does not fit the BIO is finished by the
    // next SSL_write with the rest (the session keeps the rest itself).
    // Released buffers: the SSL's own read and write buffers (~17 KiB each)
    // are freed whenever they are empty, so an idle or half-done connection
    // (thousands, under a flood) does not keep them.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

// Server side of ALPN: the first of the server's names the client offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void* arg) {
    const auto* wire = static_cast<const std::vector<uint8_t>*>(arg);
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, wire->data(), static_cast<unsigned>(wire->size()),
                              in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

// The chain (leaf first) and its key into @ctx: a server's, or a client's
// certificate for servers that ask for one.
void use_certificate_and_key(SSL_CTX* ctx, const std::string& certificate_pem,
                             const std::string& private_key_pem) {
    BioPtr certs = memory_bio(certificate_pem);
    X509* leaf = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
    if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf) != 1) {
        X509_free(leaf);
        throw std::runtime_error(openssl_reason("TLS certificate"));
    }
    X509_free(leaf);
    while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            throw std::runtime_error(openssl_reason("TLS certificate chain"));
        }
    }
    ERR_clear_error();  // the end of the PEM list reads as an error
    BioPtr key_bio = memory_bio(private_key_pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        EVP_PKEY_free(key);
        throw std::runtime_error(openssl_reason("TLS private key"));
    }
    EVP_PKEY_free(key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        throw std::runtime_error(openssl_reason("TLS private key does not match the certificate"));
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::server(const TlsServerConfig& config) {
    std::shared_ptr<TlsContext> c(new TlsContext(new_tls13_context(TLS_server_method()), true));
    SSL_CTX* ctx = c->ctx_;
    use_certificate_and_key(ctx, config.certificate_pem, config.private_key_pem);
    // No session tickets: nothing here resumes sessions, and each ticket
    // would cost a record per connection.
    SSL_CTX_set_num_tickets(ctx, 0);
    // The chain is what the certificate file holds: no chain built from
    // the (empty) trust store on every handshake.
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
    // TLS_AES_128_GCM_SHA256 first, whatever the client's order: its key
    // schedule and transcript hash are SHA-256, which CPUs compute in
    // hardware (SHA-NI), where SHA-384 is software; ~6 % of a handshake's
    // CPU (tests/bench/bench_tls_handshake). Still any of TLS 1.3's three
    // suites for a client that offers only another.
    if (SSL_CTX_set_ciphersuites(ctx, kServerCipherSuites) != 1)
        throw std::runtime_error(openssl_reason("TLS 1.3 cipher suites"));
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    c->alpn_wire_ = alpn_wire_format(config.alpn);
    if (!c->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &c->alpn_wire_);
    if (!config.client_ca_pem.empty()) {
        X509_STORE* store = SSL_CTX_get_cert_store(ctx);
        BioPtr pem = memory_bio(config.client_ca_pem);
        int loaded = 0;
        while (X509* cert = PEM_read_bio_X509(pem.get(), nullptr, nullptr, nullptr)) {
            const int ok = X509_STORE_add_cert(store, cert);
            X509_free(cert);
            if (ok != 1) throw std::runtime_error(openssl_reason("TLS client CA"));
            ++loaded;
        }
        ERR_clear_error();
        if (loaded == 0) throw std::runtime_error("TLS client CA: no certificate in the PEM");
        // Ask for a certificate, never fail the handshake over it: the
        // verdict stays in SSL_get_verify_result for peer_certificate().
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    }
    return c;
}

std::shared_ptr<TlsContext> TlsContext::client(const TlsClientConfig& config) {
    std::shared_ptr<TlsContext> c(new TlsContext(new_tls13_context(TLS_client_method()), false));
    SSL_CTX* ctx = c->ctx_;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (config.trusted_pem.empty()) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            throw std::runtime_error(openssl_reason("TLS default trust store"));
    } else {
        X509_STORE* store = SSL_CTX_get_cert_store(ctx);
        BioPtr pem = memory_bio(config.trusted_pem);
        int loaded = 0;
        while (X509* cert = PEM_read_bio_X509(pem.get(), nullptr, nullptr, nullptr)) {
            const int ok = X509_STORE_add_cert(store, cert);
            X509_free(cert);
            if (ok != 1) throw std::runtime_error(openssl_reason("TLS trust anchor"));
            ++loaded;
        }
        ERR_clear_error();
        if (loaded == 0) throw std::runtime_error("TLS trust anchors: no certificate in the PEM");
    }
    if (!config.check_validity_time)
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_NO_CHECK_TIME);
    if (!config.certificate_pem.empty())
        use_certificate_and_key(ctx, config.certificate_pem, config.private_key_pem);
    c->server_name_ = config.server_name;
    c->alpn_wire_ = alpn_wire_format(config.alpn);
    // SSL_CTX_set_alpn_protos returns 0 on success.
    if (!c->alpn_wire_.empty() &&
        SSL_CTX_set_alpn_protos(ctx, c->alpn_wire_.data(),
                                static_cast<unsigned>(c->alpn_wire_.size())) != 0) {
        throw std::runtime_error(openssl_reason("TLS ALPN list"));
    }
    return c;
}

TlsContext::~TlsContext() {
    SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(std::shared_ptr<TlsContext> context) : context_(std::move(context)) {
    ssl_ = SSL_new(context_->native());
    BIO* internal = nullptr;
    // kBioBufferBytes each way instead of OpenSSL's default 17 KiB: both are
    // allocated up front, and an NTS-KE exchange moves ~1.5 KiB each way. A
    // larger flight or record passes in pieces (advance() drains between
    // writes, feed() writes as much as the BIO takes).
    if (ssl_ == nullptr ||
        BIO_new_bio_pair(&internal, kBioBufferBytes, &network_, kBioBufferBytes) != 1) {
        SSL_free(ssl_);
        throw std::runtime_error(openssl_reason("TLS session"));
    }
    SSL_set_bio(ssl_, internal, internal);  // the SSL owns the internal end
    if (context_->is_server()) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
        const std::string& name = context_->server_name();
        if (!name.empty() && (SSL_set_tlsext_host_name(ssl_, name.c_str()) != 1 ||
                              SSL_set1_host(ssl_, name.c_str()) != 1)) {
            fail("TLS server name");
        }
        advance();  // the ClientHello
    }
}

TlsSession::~TlsSession() {
    SSL_free(ssl_);
    BIO_free(network_);
}

void TlsSession::fail(const char* what) {
    if (error_.empty()) error_ = openssl_reason(what);
    ERR_clear_error();
}

void TlsSession::drain_network() {
    uint8_t buf[4096];
    for (;;) {
        const int n = BIO_read(network_, buf, sizeof buf);
        if (n <= 0) break;
        ciphertext_.insert(ciphertext_.end(), buf, buf + n);
    }
}

namespace {

// The length of the longest prefix of @data made of whole TLS records
// (RFC 8446 §5.1: type, legacy version, 16-bit length, then that many
// octets). What does not look like a record header (a content type outside
// 20..24, a major version other than 3, or a length no record may have) ends
// the scan with everything counted as whole: OpenSSL gets it at once and
// refuses it, rather than waiting for more of something that is not TLS.
size_t whole_records(std::span<const uint8_t> data) {
    constexpr size_t kHeader = 5;
    constexpr size_t kMaxBody = 16384 + 2048;  // RFC 5246 §6.2.3, the largest of any version
    size_t at = 0;
    while (data.size() - at >= 1) {
        const uint8_t type = data[at];
        if (type < 20 || type > 24) return data.size();
        if (data.size() - at >= 2 && data[at + 1] != 3) return data.size();
        if (data.size() - at < kHeader) break;
        const size_t body = (static_cast<size_t>(data[at + 3]) << 8) | data[at + 4];
        if (body > kMaxBody) return data.size();
        if (data.size() - at < kHeader + body) break;
        at += kHeader + body;
    }
    return at;
}

}  // namespace

bool TlsSession::feed(std::span<const uint8_t> ciphertext) {
    if (failed()) return false;
    if (partial_record_.empty()) {
        const size_t whole = whole_records(ciphertext);
        feed_whole_records(ciphertext.first(whole));
        ciphertext = ciphertext.subspan(whole);
        if (!failed()) partial_record_.assign(ciphertext.begin(), ciphertext.end());
        return !failed();
    }
    partial_record_.insert(partial_record_.end(), ciphertext.begin(), ciphertext.end());
    const size_t whole = whole_records(partial_record_);
    if (whole == 0) return true;
    std::vector<uint8_t> records;
    if (whole == partial_record_.size()) {
        records.swap(partial_record_);  // the capacity goes with it
    } else {
        records.assign(partial_record_.begin(),
                       partial_record_.begin() + static_cast<ptrdiff_t>(whole));
        partial_record_.erase(partial_record_.begin(),
                              partial_record_.begin() + static_cast<ptrdiff_t>(whole));
        partial_record_.shrink_to_fit();
    }
    feed_whole_records(records);
    return !failed();
}

void TlsSession::feed_whole_records(std::span<const uint8_t> ciphertext) {
    while (!failed() && !ciphertext.empty()) {
        const int n = BIO_write(network_, ciphertext.data(), static_cast<int>(ciphertext.size()));
        if (n <= 0) {
            // The BIO is full and advance() consumed nothing: the SSL will
            // not read (it failed or the peer closed). Drop the rest.
            break;
        }
        ciphertext = ciphertext.subspan(static_cast<size_t>(n));
        advance();
    }
}

bool TlsSession::write(std::span<const uint8_t> plaintext) {
    if (failed() || closed_) return false;
    pending_out_.insert(pending_out_.end(), plaintext.begin(), plaintext.end());
    advance();
    return !failed();
}

void TlsSession::close() {
    if (closed_ || failed()) return;
    closed_ = true;
    if (handshake_done_) {
        ERR_clear_error();
        SSL_shutdown(ssl_);  // queues close_notify; the peer's is not awaited
        drain_network();
    }
}

void TlsSession::advance() {
    ERR_clear_error();
    while (!handshake_done_) {
        const int r = SSL_do_handshake(ssl_);
        if (r == 1) {
            handshake_done_ = true;
            drain_network();
            break;
        }
        const int err = SSL_get_error(ssl_, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            drain_network();  // the alert, if any
            fail("TLS handshake");
            return;
        }
        // A flight larger than the BIO (a long certificate chain) waits in
        // the SSL: drain what the BIO holds and let it write the rest now.
        const bool blocked_on_bio = err == SSL_ERROR_WANT_WRITE && BIO_ctrl_pending(network_) > 0;
        drain_network();
        if (!blocked_on_bio) return;
    }
    // Application data out: as much as the BIO takes, draining it between writes.
    size_t sent = 0;
    while (!closed_ && sent < pending_out_.size()) {
        size_t n = 0;
        if (SSL_write_ex(ssl_, pending_out_.data() + sent, pending_out_.size() - sent, &n) == 1) {
            sent += n;
            drain_network();
            continue;
        }
        const int err = SSL_get_error(ssl_, 0);
        drain_network();
        if (err == SSL_ERROR_WANT_WRITE) continue;  // drained: room again
        if (err == SSL_ERROR_WANT_READ) break;      // key update in progress: after the next feed
        fail("TLS write");
        return;
    }
    pending_out_.erase(pending_out_.begin(), pending_out_.begin() + static_cast<ptrdiff_t>(sent));
    // Application data in.
    uint8_t buf[4096];
    for (;;) {
        size_t n = 0;
        if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
            plaintext_.insert(plaintext_.end(), buf, buf + n);
            continue;
        }
        const int err = SSL_get_error(ssl_, 0);
        if (err == SSL_ERROR_ZERO_RETURN) {
            peer_closed_ = true;
        } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            fail("TLS read");
        }
        break;
    }
    drain_network();
}

void TlsSession::take_plaintext(std::vector<uint8_t>& out) {
    out.insert(out.end(), plaintext_.begin(), plaintext_.end());
    plaintext_.clear();
    // A large message (a broker member's 5 KB state) would otherwise leave
    // its capacity with every idle connection until the session ends.
    if (plaintext_.capacity() > kRetainedPlaintextBytes) plaintext_.shrink_to_fit();
}

void TlsSession::take_ciphertext(std::vector<uint8_t>& out) {
    out.insert(out.end(), ciphertext_.begin(), ciphertext_.end());
    ciphertext_.clear();
}

std::string TlsSession::alpn() const {
    const unsigned char* data = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &data, &len);
    return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), len);
}

std::string TlsSession::cipher_suite() const {
    const SSL_CIPHER* c = handshake_done_ ? SSL_get_current_cipher(ssl_) : nullptr;
    return c == nullptr ? std::string() : std::string(SSL_CIPHER_standard_name(c));
}

std::optional<PeerCertificate> TlsSession::peer_certificate() const {
    if (!handshake_done_ || failed()) return std::nullopt;
    X509* cert = SSL_get0_peer_certificate(ssl_);
    if (cert == nullptr) return std::nullopt;
    PeerCertificate p;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return std::nullopt;
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = 0; i < length; ++i) {
        p.sha256.push_back(kHex[digest[i] >> 4]);
        p.sha256.push_back(kHex[digest[i] & 15]);
    }
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
        p.subject_common_name = cn;
    const long verdict = SSL_get_verify_result(ssl_);
    p.verified = verdict == X509_V_OK;
    if (!p.verified) p.verify_error = X509_verify_cert_error_string(verdict);
    return p;
}

std::optional<std::vector<uint8_t>> TlsSession::export_keying_material(
    std::string_view label, std::optional<std::span<const uint8_t>> context, size_t length) const {
    if (!handshake_done_ || failed()) return std::nullopt;
    std::vector<uint8_t> out(length);
    const std::string label_text(label);
    const int ok = SSL_export_keying_material(
        ssl_, out.data(), out.size(), label_text.data(), label_text.size(),
        context ? context->data() : nullptr, context ? context->size() : 0, context ? 1 : 0);
    if (ok != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    return out;
}

}  // namespace nanotime::io
