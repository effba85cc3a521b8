// ke_client.hpp - the client side of one NTS-KE exchange (RFC 8915 §4) as a
// sans-IO state machine: it builds the request, takes the decrypted
// response in any chunking and turns it into what NTS-protected NTP needs
// (AEAD, keys, cookies, where to send NTP) or a typed failure. Keys come
// from a KeyExporter callback (the TLS session's exporter); the machine does
// no TLS and no cryptography itself.
//
// A response is accepted only if it has exactly one Next Protocol record
// naming NTPv4, exactly one AEAD record naming one algorithm the request
// offered, at most one Server and one Port record, at least one cookie, no
// Error, no Warning (none is defined, and an unrecognized one aborts,
// §4.1.4), no unknown critical record, and ends with End of Message within
// the size limit. Anything after End of Message is ignored.
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

inline constexpr uint16_t kDefaultNtpPort = 123;

struct KeClientConfig {
    // The KE server's host name: where NTP goes unless the response says
    // otherwise.
    std::string ke_host;
    // Offered in this order of preference; each must have a known key
    // length (aead_key_length), else the session fails with InvalidConfig.
    std::vector<uint16_t> aead_algorithms{std::begin(kDefaultAeadPreference),
                                          std::end(kDefaultAeadPreference)};
    // Optional NTPv4 Server / Port Negotiation records in the request
    // (§4.1.7-8: the server may honour them).
    std::optional<std::string> request_ntp_server;
    std::optional<uint16_t> request_ntp_port;
    size_t max_response_bytes = kDefaultMaxResponseBytes;  // octets up to End of Message
};

enum class KeClientError : uint8_t {
    InvalidConfig,         // no AEAD, an unknown AEAD id, or a bad server name to request
    ServerError,           // an Error record (code in KeClientFailure::code)
    UnrecognizedWarning,   // a Warning record (code in KeClientFailure::code)
    UnrecognizedCritical,  // a critical record of unknown type
    Malformed,             // bad framing or body, a repeated or contradictory record
    ResponseTooLong,       // over max_response_bytes before End of Message
    MissingEndOfMessage,   // the server closed before End of Message
    NoNextProtocol,        // no Next Protocol record
    NoCommonProtocol,      // Next Protocol record with no id (the server has no NTPv4)
    ProtocolNotNtpv4,      // Next Protocol names something the client did not offer
    NoAead,                // no AEAD record
    NoCommonAead,          // empty AEAD record
    AeadNotOffered,        // AEAD record naming an algorithm the client did not offer
    NoCookies,             // no New Cookie record
    KeyExportFailed,       // the exporter gave no keys
};

std::string_view to_string(KeClientError error);

struct KeClientFailure {
    KeClientError error = KeClientError::Malformed;
    uint16_t code = 0;                  // ServerError, UnrecognizedWarning: the code sent
    std::optional<RecordError> record;  // Malformed: what the decoder refused
    std::string_view detail;            // one line for the log
};

struct KeClientResult {
    NtsKeys keys;  // keys.aead is the negotiated algorithm
    std::vector<std::vector<uint8_t>> cookies;
    std::string ntp_server;  // from the response, else the KE host
    uint16_t ntp_port = kDefaultNtpPort;
    size_t ignored_records = 0;  // unknown non-critical records
};

enum class KeClientStatus : uint8_t { NeedMore, Done, Failed };

class KeClientSession {
  public:
    KeClientSession(KeClientConfig config, KeyExporter exporter);

    // The request to write once the TLS handshake is done. Empty if the
    // configuration is invalid (then status() is Failed).
    const std::vector<uint8_t>& request() const { return request_; }

    // Decrypted response octets, in any chunking. Once Done or Failed,
    // further octets change nothing.
    KeClientStatus feed(std::span<const uint8_t> bytes);
    // The server closed the connection (close_notify or EOF): a response
    // without End of Message fails with MissingEndOfMessage.
    KeClientStatus peer_closed();

    KeClientStatus status() const { return status_; }
    // Valid when status() is Done / Failed.
    const KeClientResult& result() const { return result_; }
    const KeClientFailure& failure() const { return failure_; }
    size_t response_bytes() const { return decoder_.message_bytes(); }

  private:
    KeClientStatus fail(KeClientError error, std::string_view detail, uint16_t code = 0);
    // One response record: Failed, or NeedMore to go on.
    KeClientStatus take(const Record& record);
    KeClientStatus complete();  // at End of Message

    KeClientConfig config_;
    KeyExporter exporter_;
    std::vector<uint8_t> request_;
    RecordDecoder decoder_;
    KeClientStatus status_ = KeClientStatus::NeedMore;
    std::optional<std::vector<uint16_t>> protocols_;
    std::optional<std::vector<uint16_t>> aeads_;
    std::optional<std::string> server_;
    std::optional<uint16_t> port_;
    KeClientResult result_;
    KeClientFailure failure_;
};

}  // namespace nts
