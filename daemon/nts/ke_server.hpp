// ke_server.hpp - the server side of one NTS-KE exchange (RFC 8915 §4) as a
// sans-IO state machine: fed the decrypted octets of the client's request,
// it returns the response to write, and then that the connection is to be
// closed. It does no TLS and no cryptography itself: key material comes from
// a KeyExporter callback (the TLS session's exporter) and cookies from a
// CookieSource, so tests drive it with fakes.
//
// What the response is (first rule that applies):
//   * the request is malformed (bad framing or body, over the size limit,
//     a required record missing or repeated, an Error or Warning record in
//     a request): Error 1 (Bad Request), End of Message;
//   * the request has a critical record of unknown type: Error 0;
//   * the client offers no protocol the server speaks (NTPv4 = 0): a Next
//     Protocol record with no ids, End of Message (§4.1.2), no cookies;
//   * no AEAD algorithm in common: Next Protocol {0}, an empty AEAD record,
//     End of Message, no cookies;
//   * key export or cookie making fails: Error 2 (Internal Server Error);
//   * otherwise: Next Protocol {0}, AEAD {chosen}, the configured NTPv4
//     Server and Port records if any, cookie_count New Cookie records, End
//     of Message.
// The AEAD is the first of the server's list that the client offered.
// Errors are answered as soon as they are seen: after a framing error the
// rest of the stream cannot be read, and the first problem is the one the
// client is told (chrony answers an unknown critical record before Next
// Protocol with Error 0 the same way).
//
// The NTS pool's records (ke_pool_records.hpp; the time-source side of
// draft-ietf-ntp-nts-keyexchange-pool-00), when KeServerConfig::pool is
// enabled and the peer is an authenticated pool:
//   * the peer must have presented a TLS client certificate that chains to
//     the pool CA (the transport says so: PoolPeer). Otherwise a Supported
//     list or Fixed Key Request is an unrecognized critical record (Error 0,
//     as the draft suggests), and Keep Alive and Authentication are unknown
//     non-critical records, ignored;
//   * every pool request carries an Authentication record with one of the
//     configured tokens (PoolTokens, constant time); missing or wrong:
//     Error 1;
//   * Supported Next Protocol List / Supported Algorithm List (no Next
//     Protocol, AEAD or Fixed Key record with them, else Error 1): answered
//     with the protocols (NTPv4) and the AEADs with their key lengths;
//   * Fixed Key Request: exactly one Next Protocol and one AEAD id, the body
//     C2S ‖ S2C of that AEAD's key length (else Error 1). A protocol other
//     than NTPv4: empty Next Protocol record; an AEAD the server does not
//     use: Next Protocol {0} and an empty AEAD record (RFC 8915 §4.1.2,
//     §4.1.5). Otherwise the normal response, with cookies that seal the
//     given keys (no key export from this TLS session);
//   * Keep Alive with a pool request: the response carries Keep Alive and
//     the session waits for the next request, up to max_requests per
//     session and while the KeepAliveGate admits it. A kept-alive session
//     never exports keys: an RFC 8915 request there is Error 1;
//   * NTP Server Deny (any client): well formed or Error 1; the draft lets
//     a server ignore it, and this one has only its own NTP server to name,
//     so it is counted (denied_servers()) and the response is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nts/ke_exporter.hpp"
#include "nts/ke_pool_records.hpp"
#include "nts/ke_records.hpp"
#include "nts/nts_keys.hpp"
#include "nts/pool_tokens.hpp"

namespace nts {

// Makes one cookie sealing @keys for the NTP server (cookie.hpp's job).
// Returns an empty vector if it cannot (no cookie key yet, AEAD failure).
class CookieSource {
  public:
    virtual ~CookieSource() = default;
    virtual std::vector<uint8_t> make_cookie(const NtsKeys& keys) = 0;
};

// What the TLS layer says about the peer's client certificate.
enum class PoolPeer : uint8_t {
    NoCertificate,        // none sent (or the pool role is off)
    CertificateRejected,  // sent, but it does not chain to the pool CA (or is expired)
    CertificateVerified,  // chains to the pool CA
};

// The time-source side of the NTS pool draft.
struct KePoolConfig {
    bool enabled = false;  // [nts_ke] pool_ca set
    PoolTokens tokens;     // accepted Authentication tokens
    // Requests one Keep Alive session may carry; the last one's response
    // has no Keep Alive and closes.
    size_t max_requests = 1000;
};

// Admits a session to Keep Alive (the transport's cap on long-lived
// sessions); called once per session, when it would first be kept open.
using KeepAliveGate = std::function<bool()>;

struct KeServerConfig {
    // The AEAD ids the server accepts, in its order of preference (the
    // first of these the client offered wins). Ids without a known key
    // length, or that the AEAD layer cannot use (aead_supported), are never
    // chosen.
    std::vector<uint16_t> aead_algorithms{std::begin(kDefaultAeadPreference),
                                          std::end(kDefaultAeadPreference)};
    // Where clients are to send NTP ("NTS-KE on one host, NTP on others",
    // with a shared cookie key store). Unset: the client's default, this
    // host and port 123. The name must pass valid_server_name().
    std::optional<std::string> ntp_server;
    std::optional<uint16_t> ntp_port;
    size_t cookie_count = 8;                             // RFC 8915 §4: SHOULD send 8
    size_t max_request_bytes = kDefaultMaxRequestBytes;  // octets up to End of Message
    KePoolConfig pool;
};

// How the exchange ended, for logs and counters.
enum class KeServerOutcome : uint8_t {
    Pending,           // the request is not complete yet
    KeysIssued,        // NTPv4 + AEAD agreed, cookies sent
    NoCommonProtocol,  // empty Next Protocol answered
    NoCommonAead,      // empty AEAD answered
    ErrorSent,         // an Error record answered (error_code(), reason())
    PoolSupportSent,   // a pool's Supported list request answered
    PoolKeysIssued,    // a pool's Fixed Key Request: cookies for its keys sent
};

std::string_view to_string(KeServerOutcome outcome);

// Why a pool request (Supported list or Fixed Key Request) was refused.
enum class PoolRefusal : uint8_t {
    None,
    NoCertificate,        // no client certificate (or the pool role is off): Error 0
    CertificateRejected,  // a certificate not from the pool CA: Error 0
    BadToken,             // Authentication missing or not a configured token: Error 1
    Malformed,            // mixed records, not one protocol/AEAD, wrong key length: Error 1
    UnsupportedProtocol,  // Fixed Key for a protocol other than NTPv4: empty Next Protocol
    UnsupportedAead,      // Fixed Key for an AEAD the server does not use: empty AEAD
    Internal,             // the cookie source failed: Error 2
};

std::string_view to_string(PoolRefusal refusal);

// One answered request, for counters (a Keep Alive session answers several).
struct KeRequestResult {
    KeServerOutcome outcome = KeServerOutcome::Pending;
    std::optional<KeErrorCode> error_code;
    bool pool_request = false;  // had a Supported list or Fixed Key record
    PoolRefusal pool_refusal = PoolRefusal::None;
    bool keep_alive = false;  // the response kept the session open
    size_t denied_servers = 0;
};

// What the transport does after feed().
struct KeServerAction {
    std::vector<uint8_t> write;             // plaintext to send, may be empty
    bool close_after_write = false;         // then close the TLS session and the connection
    std::vector<KeRequestResult> answered;  // the requests @write answers, in order
};

class KeServerSession {
  public:
    // @cookies must outlive the session. @peer: the client certificate's
    // verdict against the pool CA; @keep_alive admits the session to Keep
    // Alive (null: never).
    KeServerSession(KeServerConfig config, KeyExporter exporter, CookieSource& cookies,
                    PoolPeer peer = PoolPeer::NoCertificate, KeepAliveGate keep_alive = {});

    // Decrypted request octets, in any chunking. The response comes back
    // once, with close_after_write; later calls (data after End of
    // Message) return nothing to write and close_after_write set. In a
    // Keep Alive session each request gets its response without
    // close_after_write, until the last.
    KeServerAction feed(std::span<const uint8_t> bytes);

    // True once End of Message arrived or the request was refused: the
    // transport stops its request timer.
    bool request_complete() const { return responded_ || requests_answered_ > 0; }
    size_t request_bytes() const { return decoder_.message_bytes(); }
    KeServerOutcome outcome() const { return outcome_; }
    // For ErrorSent: the code sent and why.
    std::optional<KeErrorCode> error_code() const { return error_code_; }
    std::string_view reason() const { return reason_; }
    const std::optional<NtsKeys>& keys() const { return keys_; }
    size_t ignored_records() const { return ignored_records_; }  // unknown non-critical, cookies
    // The last request's pool verdict and NTP Server Deny names.
    PoolRefusal pool_refusal() const { return pool_refusal_; }
    const std::vector<std::string>& denied_servers() const { return denied_; }
    bool kept_alive() const { return kept_alive_; }  // Keep Alive granted at least once
    size_t requests_answered() const { return requests_answered_; }

  private:
    // One request record: nullopt, or the error code and why the request is refused.
    struct Refusal {
        KeErrorCode code;
        std::string_view reason;
    };
    std::optional<Refusal> take(const Record& record);
    std::optional<Refusal> take_pool(const Record& record);
    std::vector<uint8_t> refuse(KeErrorCode code, std::string_view reason);
    std::vector<uint8_t> refuse_pool(PoolRefusal why, KeErrorCode code, std::string_view reason);
    std::vector<uint8_t> respond();  // at End of Message
    std::vector<uint8_t> respond_pool();
    std::vector<uint8_t> respond_support();
    std::vector<uint8_t> respond_fixed_key();
    // Next Protocol {0}, AEAD {@aead}, Server/Port, cookies for @keys, Keep
    // Alive if granted, End of Message; or Error 2.
    std::vector<uint8_t> issue(uint16_t aead, const NtsKeys& keys);
    bool grant_keep_alive();
    void start_request();  // forget what the previous request said
    void finish(KeServerAction& action, std::vector<uint8_t> response);

    KeServerConfig config_;
    KeyExporter exporter_;
    CookieSource& cookies_;
    PoolPeer peer_;
    KeepAliveGate keep_alive_gate_;
    RecordDecoder decoder_;
    // What the request said so far.
    std::optional<std::vector<uint16_t>> protocols_;
    std::optional<std::vector<uint16_t>> aeads_;
    bool client_server_ = false;  // client sent a Server / Port record (advisory, ignored)
    bool client_port_ = false;
    bool wants_protocols_ = false;                   // Supported Next Protocol List
    bool wants_algorithms_ = false;                  // Supported Algorithm List
    std::optional<std::vector<uint8_t>> fixed_key_;  // Fixed Key Request body
    bool keep_alive_requested_ = false;
    std::optional<std::string> token_;  // Authentication body
    std::vector<std::string> denied_;   // NTP Server Deny names
    bool keep_alive_granted_ = false;   // this response carries Keep Alive
    bool refused_pool_record_ = false;  // a critical pool record from a non-pool peer
    bool kept_alive_ = false;           // the session was admitted to Keep Alive
    size_t requests_answered_ = 0;
    PoolRefusal pool_refusal_ = PoolRefusal::None;
    bool responded_ = false;
    KeServerOutcome outcome_ = KeServerOutcome::Pending;
    std::optional<KeErrorCode> error_code_;
    std::string_view reason_;
    std::optional<NtsKeys> keys_;
    size_t ignored_records_ = 0;
};

}  // namespace nts
