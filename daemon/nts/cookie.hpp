// cookie.hpp - NTS cookies (RFC 8915 §6): the server's sealed copy of one
// client's keys, which the client returns in every request so that the
// server keeps no per-client state.
//
// Layout (octets; the format is the server's own business, RFC 8915 §6
// only recommends this shape):
//   0   key id       4   big-endian id of the master key (key_store.hpp)
//   4   nonce       16   fresh random per cookie
//   20  tag         16   AES-SIV-CMAC-256 synthetic IV
//   36  ciphertext  4+2n encrypting: AEAD id (2, big-endian) ‖ 0x0000 ‖
//                        C2S ‖ S2C, n = aead_key_length(AEAD id)
// sealed with the master key, the nonce as S2V's only component besides the
// plaintext (no associated data). 104 octets for an AES-SIV-CMAC-256
// session, 72 for AES-128-GCM-SIV: multiples of 4, so a cookie fills its
// NTP extension field exactly and comes back without padding to strip.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "nts/aead.hpp"
#include "nts/key_store.hpp"
#include "nts/nts_keys.hpp"

namespace nts {

inline constexpr size_t kCookieNonceLength = 16;
inline constexpr size_t kCookieHeaderLength = 4 + kCookieNonceLength;
inline constexpr size_t kMaxSessionKeyLength = 32;
inline constexpr size_t kMaxCookieLength =
    kCookieHeaderLength + kAeadTagLength + 4 + 2 * kMaxSessionKeyLength;  // 104
inline constexpr size_t kMinCookieLength =
    kCookieHeaderLength + kAeadTagLength + 4 + size_t{2} * 16;  // 72

// NtsKeys without the heap: what the server's hot path carries.
struct SessionKeys {
    uint16_t aead = static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256);
    uint8_t key_length = 32;  // aead_key_length(aead)
    std::array<uint8_t, kMaxSessionKeyLength> c2s_key{};
    std::array<uint8_t, kMaxSessionKeyLength> s2c_key{};

    std::span<const uint8_t> c2s() const { return {c2s_key.data(), key_length}; }
    std::span<const uint8_t> s2c() const { return {s2c_key.data(), key_length}; }

    // Nothing if the AEAD is unknown or a key has the wrong length.
    static std::optional<SessionKeys> from(const NtsKeys& keys);
    NtsKeys to_nts_keys() const;

    friend bool operator==(const SessionKeys&, const SessionKeys&) = default;
};

enum class CookieError : uint8_t {
    Malformed,             // length outside [kMinCookieLength, kMaxCookieLength]
                           // or not a multiple of 4
    UnknownKey,            // key id not in the store, or no longer valid
    AuthenticationFailed,  // forged, corrupted, or sealed with another key
    BadContents,           // authentic, but not an AEAD id, zero and two keys
    NoSealingKey,          // the store has no key to seal with at this time
    CryptoFailure,         // OpenSSL failure
};
const char* to_string(CookieError error);

// Octets of a cookie for a session using @aead (0 if unknown).
size_t cookie_length(uint16_t aead);

// Seals @keys under @master with @nonce into @out (cookie_length() octets).
Result<size_t, CookieError> seal_cookie(Aead& aead, const MasterKey& master,
                                        std::span<const uint8_t, kCookieNonceLength> nonce,
                                        const SessionKeys& keys, std::span<uint8_t> out);

// The keys inside @cookie, if a master key valid at @now opens it.
Result<SessionKeys, CookieError> open_cookie(Aead& aead, const KeyStore& store, int64_t now,
                                             std::span<const uint8_t> cookie);

}  // namespace nts
