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
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nts/ke_exporter.hpp"
#include "nts/ke_records.hpp"
#include "nts/nts_keys.hpp"

namespace nts {

// Makes one cookie sealing @keys for the NTP server (cookie.hpp's job).
// Returns an empty vector if it cannot (no cookie key yet, AEAD failure).
class CookieSource {
  public:
    virtual ~CookieSource() = default;
    virtual std::vector<uint8_t> make_cookie(const NtsKeys& keys) = 0;
};

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
};

// How the exchange ended, for logs and counters.
enum class KeServerOutcome : uint8_t {
    Pending,           // the request is not complete yet
    KeysIssued,        // NTPv4 + AEAD agreed, cookies sent
    NoCommonProtocol,  // empty Next Protocol answered
    NoCommonAead,      // empty AEAD answered
    ErrorSent,         // an Error record answered (error_code(), reason())
};

std::string_view to_string(KeServerOutcome outcome);

// What the transport does after feed().
struct KeServerAction {
    std::vector<uint8_t> write;      // plaintext to send, may be empty
    bool close_after_write = false;  // then close the TLS session and the connection
};

class KeServerSession {
  public:
    // @cookies must outlive the session.
    KeServerSession(KeServerConfig config, KeyExporter exporter, CookieSource& cookies);

    // Decrypted request octets, in any chunking. The response comes back
    // once, with close_after_write; later calls (data after End of
    // Message) return nothing to write and close_after_write set.
    KeServerAction feed(std::span<const uint8_t> bytes);

    // True once End of Message arrived or the request was refused: the
    // transport stops its request timer.
    bool request_complete() const { return responded_; }
    size_t request_bytes() const { return decoder_.message_bytes(); }
    KeServerOutcome outcome() const { return outcome_; }
    // For ErrorSent: the code sent and why.
    std::optional<KeErrorCode> error_code() const { return error_code_; }
    std::string_view reason() const { return reason_; }
    const std::optional<NtsKeys>& keys() const { return keys_; }
    size_t ignored_records() const { return ignored_records_; }  // unknown non-critical, cookies

  private:
    // One request record: nullopt, or why the request is refused.
    std::optional<std::string_view> take(const Record& record);
    std::vector<uint8_t> refuse(KeErrorCode code, std::string_view reason);
    std::vector<uint8_t> respond();  // at End of Message
    KeServerAction finish(std::vector<uint8_t> response);

    KeServerConfig config_;
    KeyExporter exporter_;
    CookieSource& cookies_;
    RecordDecoder decoder_;
    // What the request said so far.
    std::optional<std::vector<uint16_t>> protocols_;
    std::optional<std::vector<uint16_t>> aeads_;
    bool client_server_ = false;  // client sent a Server / Port record (advisory, ignored)
    bool client_port_ = false;
    bool responded_ = false;
    KeServerOutcome outcome_ = KeServerOutcome::Pending;
    std::optional<KeErrorCode> error_code_;
    std::string_view reason_;
    std::optional<NtsKeys> keys_;
    size_t ignored_records_ = 0;
};

}  // namespace nts
