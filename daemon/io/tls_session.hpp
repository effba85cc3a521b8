// tls_session.hpp - TLS 1.3 as a sans-IO object: OpenSSL 3 driven through a
// memory BIO pair, so that no handshake, read or write ever blocks or touches
// a socket.
//
// The event loop (or a test) moves bytes: ciphertext that came from the peer
// goes in with feed(), plaintext for the application comes out of
// take_plaintext(), plaintext the application wants to send goes in with
// write(), and ciphertext to put on the wire comes out of take_ciphertext().
// Nothing else is needed: the handshake advances inside feed() and write().
// The result of the handshake is readable once handshake_done(): the ALPN
// protocol chosen and exported keying material (RFC 5705 / RFC 8446 §7.5,
// SSL_export_keying_material), which NTS-KE (RFC 8915 §5.1) uses to derive
// the NTS keys.
//
// TlsContext holds one SSL_CTX (certificate and key, or trust anchors, ALPN
// list); a server makes one per listener and a TlsSession per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace nanotime::io {

struct TlsServerConfig {
    std::string certificate_pem;  // the chain, leaf first
    std::string private_key_pem;
    // ALPN protocol names the server accepts, in its order of preference.
    // Empty: ALPN is not negotiated. Non-empty: a client offering none of
    // them is refused (no_application_protocol alert, RFC 7301 §3.2).
    std::vector<std::string> alpn;
    // Trust anchors (PEM) for client certificates. Non-empty: the server
    // asks every client for a certificate; the handshake goes on whatever
    // the client sends (or not), and TlsSession::peer_certificate() tells
    // the application what it was and whether it chains to these anchors,
    // so that the application can answer 401 and audit the attempt rather
    // than the client seeing a bare TLS alert.
    std::string client_ca_pem;
};

// The certificate a peer presented, as the handshake left it.
struct PeerCertificate {
    std::string sha256;  // SHA-256 of the DER, lowercase hex (64 digits)
    std::string subject_common_name;
    bool verified = false;     // chains to the anchors, in its validity period
    std::string verify_error;  // OpenSSL's reason when not verified
};

struct TlsClientConfig {
    // Trust anchors (PEM, one or more certificates). Empty: the system's
    // default verify paths.
    std::string trusted_pem;
    std::string server_name;        // SNI and the name the certificate must carry
    std::vector<std::string> alpn;  // offered, in order
    // false: accept certificates outside their validity period (the chain
    // and the name are still checked). For a host whose clock may be wrong
    // until it has synchronised once (chrony's nocerttimecheck): a clock in
    // 1970 sees every certificate as not yet valid.
    bool check_validity_time = true;
    // A client certificate (PEM chain, leaf first) and its key, for servers
    // that authenticate clients (the fleet broker's members); empty: none.
    std::string certificate_pem;
    std::string private_key_pem;
};

// One SSL_CTX, TLS 1.3 only. Throws std::runtime_error with OpenSSL's reason
// when the certificate, key or trust anchors do not load.
class TlsContext {
  public:
    static std::shared_ptr<TlsContext> server(const TlsServerConfig& config);
    static std::shared_ptr<TlsContext> client(const TlsClientConfig& config);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    bool is_server() const { return server_; }
    ssl_ctx_st* native() const { return ctx_; }
    const std::string& server_name() const { return server_name_; }
    // The ALPN list in wire format (length-prefixed names).
    const std::vector<uint8_t>& alpn_wire() const { return alpn_wire_; }

  private:
    TlsContext(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
    ssl_ctx_st* ctx_;
    bool server_;
    std::string server_name_;  // client: SNI + hostname check
    std::vector<uint8_t> alpn_wire_;
};

// One TLS connection, client or server side, as a byte transformer.
class TlsSession {
  public:
    explicit TlsSession(std::shared_ptr<TlsContext> context);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Ciphertext from the peer. Advances the handshake and decrypts what it
    // can. Returns false once the session has failed (see error()); a
    // failed session may still have an alert in take_ciphertext() to send.
    bool feed(std::span<const uint8_t> ciphertext);
    // Plaintext for the peer. Before the handshake completes it is kept and
    // sent once it does. Returns false if the session has failed or closed.
    bool write(std::span<const uint8_t> plaintext);
    // Sends close_notify; write() refuses from then on.
    void close();

    // Drains the decrypted bytes / the ciphertext to send (appends to @out).
    void take_plaintext(std::vector<uint8_t>& out);
    void take_ciphertext(std::vector<uint8_t>& out);
    bool has_ciphertext() const { return !ciphertext_.empty(); }

    bool handshake_done() const { return handshake_done_; }
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    bool peer_closed() const { return peer_closed_; }  // close_notify received
    // The protocol agreed by ALPN; empty before the handshake or without ALPN.
    std::string alpn() const;
    // The TLS 1.3 cipher suite agreed (IANA name, e.g. TLS_AES_128_GCM_SHA256);
    // empty before the handshake.
    std::string cipher_suite() const;
    // The peer's certificate once the handshake is done; none if it sent none.
    std::optional<PeerCertificate> peer_certificate() const;
    // RFC 5705 exporter; nullopt before the handshake or on failure.
    // @context nullopt is "no context", which TLS 1.3 treats like an empty one.
    std::optional<std::vector<uint8_t>> export_keying_material(
        std::string_view label, std::optional<std::span<const uint8_t>> context,
        size_t length) const;

    // Bytes held for this session beyond the BIO contents: plaintext not
    // yet encrypted and the start of a record not yet whole. What a memory
    // bound per connection should count (the BIOs' contents are drained by
    // the caller after every call).
    size_t held_bytes() const { return pending_out_.size() + partial_record_.size(); }

    // Each direction of the memory BIO pair, octets. Small on purpose: the
    // pair is allocated with the session (memory per connection), and data
    // larger than it passes in pieces: a handshake flight with one P-256
    // certificate (~1 KiB) in one or two, at no measurable CPU cost
    // (bench_tls_handshake: 2.38 M instructions per handshake with 4 KiB,
    // 2.37 M with 1 KiB), 6 KiB less per connection.
    static constexpr size_t kBioBufferBytes = 1024;
    // Plaintext capacity kept between messages; above it the buffer is
    // freed once taken, so that an idle connection does not keep the size
    // of the largest message it ever received.
    static constexpr size_t kRetainedPlaintextBytes = 4096;

  private:
    void advance();  // handshake, flush pending writes, read plaintext
    void fail(const char* what);
    void drain_network();  // the BIO's outgoing ciphertext into ciphertext_
    void feed_whole_records(std::span<const uint8_t> records);  // into the SSL

    std::shared_ptr<TlsContext> context_;
    ssl_st* ssl_ = nullptr;
    bio_st* network_ = nullptr;  // our end of the BIO pair
    std::vector<uint8_t> plaintext_;
    std::vector<uint8_t> ciphertext_;
    std::vector<uint8_t> pending_out_;  // written before the handshake completed
    // The start of a record not yet whole. OpenSSL gets whole records only:
    // given part of one it holds a full-size read buffer (~17 KiB) until the
    // rest comes, which is what a client that stops mid-request (or a flood
    // of them) would cost per connection. Here it costs its own length.
    std::vector<uint8_t> partial_record_;
    std::string error_;
    bool handshake_done_ = false;
    bool peer_closed_ = false;
    bool closed_ = false;
};

}  // namespace nanotime::io
