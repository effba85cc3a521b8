// nts_server.hpp - the server side of NTS-protected NTP (RFC 8915 §5.7),
// sans-IO: request bytes in, verdict out; then the response's extension
// fields written after the 48-octet header the NTP server built.
//
// check() decides, cheapest first:
//   * NotNts: no cookie and no authenticator: a plain NTP request;
//   * Drop (counted by reason): NTS fields that break nts_ef's rules, a
//     missing unique identifier, cookie or authenticator, or an
//     authenticator that does not verify with the cookie's C2S key over
//     the packet up to it. An NTS request never gets an unauthenticated
//     answer, not even a rate-limit kiss-o'-death;
//   * Nak: the cookie does not open (unknown or expired master key, failed
//     authentication, unusable contents): answer with an NTSN kiss-o'-death
//     (stratum 0, reference id "NTSN") carrying the unique identifier and no
//     authenticator (RFC 8915 §5.7), so the client knows to redo NTS-KE;
//   * Authentic: respond() writes the unique identifier echoed and an
//     authenticator whose encrypted fields are fresh cookies (S2C key): one
//     for the cookie and one per placeholder, at most kMaxCookiesPerResponse
//     and never so many that the response outgrows the request.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "nts/aead.hpp"
#include "nts/cookie.hpp"
#include "nts/key_store.hpp"
#include "nts/nts_ef.hpp"
#include "util/random.hpp"

namespace nts {

using nanotime::ntp::RandomSource;

inline constexpr size_t kMaxCookiesPerResponse = 8;
inline constexpr size_t kMaxNtsPacket = 2048;        // octets: the daemon's receive buffer
inline constexpr uint32_t kKissNtsNak = 0x4e54534e;  // "NTSN"

enum class NtsVerdict : uint8_t { NotNts, Authentic, Nak, Drop };

enum class NtsDropReason : uint8_t {
    None,
    Malformed,             // nts_ef rules broken, or larger than kMaxNtsPacket
    MissingField,          // NTS request without UID, cookie or authenticator
    AuthenticationFailed,  // the authenticator does not verify
    NoSealingKey,          // no master key to seal fresh cookies with now
    CryptoFailure,         // OpenSSL failure
};
const char* to_string(NtsDropReason reason);

// Monotonic counters; every NTS request lands in exactly one outcome.
struct NtsServerCounters {
    uint64_t authentic = 0;       // answered with an authenticator
    uint64_t nak = 0;             // answered with an NTSN kiss-o'-death
    uint64_t malformed = 0;       // dropped: broken fields
    uint64_t missing_field = 0;   // dropped: UID, cookie or authenticator absent
    uint64_t auth_failed = 0;     // dropped: authenticator did not verify
    uint64_t no_sealing_key = 0;  // dropped: cannot mint cookies
    uint64_t crypto_failure = 0;  // dropped: OpenSSL failed
    // Why cookies did not open (each also counted in nak):
    uint64_t cookie_unknown_key = 0;
    uint64_t cookie_auth_failed = 0;
    uint64_t cookie_bad_contents = 0;
};

// What check() found; spans point into the request.
struct NtsRequest {
    NtsVerdict verdict = NtsVerdict::NotNts;
    NtsDropReason reason = NtsDropReason::None;
    std::span<const uint8_t> unique_id;
    SessionKeys keys;           // Authentic only
    size_t cookies = 0;         // Authentic: how many fresh cookies to send
    size_t cookie_length = 0;   // octets of the request's cookie
    size_t request_length = 0;  // octets of the whole request
};

class NtsServer {
  public:
    // @random supplies cookie and response nonces (the daemon: getrandom).
    static Result<NtsServer, AeadError> create(std::shared_ptr<const KeyStore> keys,
                                               RandomSource& random);

    // A reloaded key file replaces the store; requests after it use it.
    // Call it on the thread that uses this server (each worker has its own).
    void set_key_store(std::shared_ptr<const KeyStore> keys) { keys_ = std::move(keys); }

    // @request: the whole datagram, already a valid NTPv4 client request.
    // @now: Unix seconds, for master key validity.
    NtsRequest check(std::span<const uint8_t> request, int64_t now);

    // For an Authentic or Nak verdict: writes @header (the reply's 48
    // octets, for a Nak an NTSN kiss-o'-death) and the NTS fields to @out;
    // returns the reply length, never more than the request's. A Drop reason
    // when it cannot (counted; send nothing).
    Result<size_t, NtsDropReason> respond(const NtsRequest& request,
                                          std::span<const uint8_t, kNtpHeaderLength> header,
                                          int64_t now, std::span<uint8_t> out);

    const NtsServerCounters& counters() const { return counters_; }

  private:
    NtsServer(std::shared_ptr<const KeyStore> keys, RandomSource& random, Aead cookie_aead,
              std::optional<Aead> gcm_siv);
    NtsRequest drop(NtsRequest request, NtsDropReason reason);
    // The engine for a session's negotiated AEAD; nullptr if this process
    // has none for it.
    Aead* session_aead(uint16_t algorithm);

    std::shared_ptr<const KeyStore> keys_;
    RandomSource* random_;
    Aead cookie_aead_;             // AES-SIV-CMAC-256: cookies, and the sessions that chose 15
    std::optional<Aead> gcm_siv_;  // the sessions that chose 30
    NtsServerCounters counters_;
    std::array<uint8_t, kMaxNtsPacket> scratch_{};  // plaintexts, per call
};

// Fills @out with random octets from @random.
void fill_random(RandomSource& random, std::span<uint8_t> out);

}  // namespace nts
