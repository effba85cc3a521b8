// nts_client.hpp - the client side of NTS-protected NTP (RFC 8915 §5.7),
// sans-IO: the NTS fields of each request, and the check of each response.
//
// A request carries a fresh 32-octet unique identifier, one cookie from the
// jar (never one sent before: cookies would link the client's requests),
// placeholders asking for enough cookies to refill the jar to 8, and an
// authenticator over the whole packet with the C2S key and no encrypted
// fields. A response is accepted only if it echoes the identifier of the
// one outstanding request (a replayed or stale response does not) and its
// authenticator verifies with S2C; the cookies in its encrypted fields go
// into the jar. An NTSN kiss-o'-death without an authenticator is believed
// only when it echoes that identifier: then the client must redo NTS-KE.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "nts/aead.hpp"
#include "nts/cookie.hpp"
#include "nts/nts_ef.hpp"
#include "util/random.hpp"

namespace nts {

using nanotime::ntp::RandomSource;

inline constexpr size_t kJarCapacity = 8;
// Cookies are the server's opaque bytes; chrony's and ours are 100-104.
inline constexpr size_t kMaxJarCookieLength = 256;

// Up to kJarCapacity cookies, handed out oldest first, each exactly once.
class CookieJar {
  public:
    struct Cookie {
        std::array<uint8_t, kMaxJarCookieLength> bytes{};
        size_t length = 0;
        std::span<const uint8_t> view() const { return {bytes.data(), length}; }
    };

    // Keeps @cookie (when full, the oldest makes room). False, and nothing
    // kept, for an empty cookie, one longer than kMaxJarCookieLength or one
    // whose length is not a multiple of 4 (it could not travel unpadded).
    bool add(std::span<const uint8_t> cookie);
    // Removes and returns the oldest cookie.
    std::optional<Cookie> take();
    size_t size() const { return count_; }
    // Octets of the cookie take() hands out next; 0 when empty.
    size_t front_length() const { return count_ > 0 ? slots_[head_].length : 0; }
    void clear() { count_ = 0; }

  private:
    std::array<Cookie, kJarCapacity> slots_{};
    size_t head_ = 0;  // oldest
    size_t count_ = 0;
};

enum class RequestError : uint8_t {
    NoCookie,        // jar empty: NTS-KE needed
    BufferTooSmall,  // @out cannot hold the request
    CryptoFailure,   // OpenSSL failure
};

enum class ResponseVerdict : uint8_t {
    Authentic,  // authenticator verified; new cookies are in the jar
    Nak,        // NTSN kiss-o'-death for our request: redo NTS-KE
};

enum class ResponseError : uint8_t {
    Malformed,  // NTS fields break nts_ef's rules
    NoRequest,  // nothing outstanding (a duplicate or replay)
    MissingUniqueId,
    UniqueIdMismatch,      // not the response to our outstanding request
    MissingAuthenticator,  // and not an NTSN kiss-o'-death
    AuthenticationFailed,  // S2C authenticator did not verify
    BadEncryptedFields,    // authentic, but the plaintext is not fields
};
const char* to_string(ResponseError error);

class NtsClient {
  public:
    // @keys from NTS-KE (keys.aead: the negotiated AEAD), @cookies the ones
    // it gave.
    static Result<NtsClient, AeadError> create(const NtsKeys& keys,
                                               std::span<const std::vector<uint8_t>> cookies,
                                               RandomSource& random);

    // Writes @header then the NTS fields into @out; returns the length.
    // Forgets any earlier outstanding request.
    Result<size_t, RequestError> build_request(std::span<const uint8_t, kNtpHeaderLength> header,
                                               std::span<uint8_t> out);

    // Checks @response (whole datagram) against the outstanding request.
    // The NTP checks of the header (origin timestamp, ...) are the caller's.
    Result<ResponseVerdict, ResponseError> check_response(std::span<const uint8_t> response);

    const CookieJar& jar() const { return jar_; }
    // The AEAD NTS-KE agreed (IANA id).
    uint16_t aead() const { return keys_.aead; }
    // Whether the client needs NTS-KE before its next request.
    bool needs_key_exchange() const { return nak_ || jar_.size() == 0; }

  private:
    NtsClient(const SessionKeys& keys, RandomSource& random, Aead aead);

    SessionKeys keys_;
    RandomSource* random_;
    Aead aead_;
    CookieJar jar_;
    std::array<uint8_t, kUniqueIdLength> unique_id_{};
    bool outstanding_ = false;
    bool nak_ = false;
    std::array<uint8_t, 2048> scratch_{};  // decrypted response fields
};

}  // namespace nts
