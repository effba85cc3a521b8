// aead.hpp - the AEADs of NTS (RFC 8915 §5.1), behind one interface:
//
//   15  AEAD_AES_SIV_CMAC_256 (RFC 5297), mandatory: aead_siv.hpp, composed
//       from OpenSSL's CMAC and AES-128-CTR.
//   30  AEAD_AES_128_GCM_SIV (RFC 8452): aead_gcm_siv.hpp, OpenSSL's own
//       "AES-128-GCM-SIV" cipher when the running OpenSSL has it (3.2 and
//       later) and it passes a known-answer test, else composed from
//       OpenSSL's AES-ECB and a constant-time POLYVAL (polyval.hpp).
//
// Output layout is each RFC's: AES-SIV puts the 16-octet synthetic IV (its
// tag) first, then the ciphertext (RFC 5297, RFC 8915); AES-GCM-SIV puts the
// ciphertext first, then the 16-octet tag (RFC 8452, RFC 5116). Either way
// sealed_length() = 16 + plaintext.
//
// An Aead is an AeadEngine for one algorithm; the callers (cookies, the NTS
// client and server, NTS-KE) only ask Aead::create(id) and the engine's
// key_length() and nts_nonce_length(). Ciphers are fetched once per process
// at first use; an engine owns reusable contexts and allocates nothing per
// call. Not thread-safe: one Aead per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "nts/nts_keys.hpp"
#include "util/result.hpp"

namespace nts {

using nanotime::ntp::Result;
using nanotime::ntp::unexpected;

enum class AeadError : uint8_t {
    UnknownAlgorithm,      // not an IANA number nanotimed knows
    Unsupported,           // known, but this process cannot use it (OpenSSL lacks AES?)
    BadKeyLength,          // key is not key_length() octets
    BadNonceLength,        // the algorithm takes no nonce of that length (GCM-SIV: 12)
    OutputTooSmall,        // the caller's buffer cannot hold the result
    TooShort,              // ciphertext shorter than the 16-octet tag
    TooLong,               // over 2^31 octets (OpenSSL takes int lengths)
    AuthenticationFailed,  // tag does not match: forged, corrupted or wrong key
    CryptoFailure,         // OpenSSL refused an operation (memory exhaustion)
};
const char* to_string(AeadError error);

inline constexpr size_t kAeadTagLength = 16;  // octets, both algorithms

// Associated data as RFC 5297 components (S2V processes each separately;
// GCM-SIV, which has one associated-data string, takes their concatenation).
using AdComponents = std::span<const std::span<const uint8_t>>;

// One algorithm's seal and open.
class AeadEngine {
  public:
    virtual ~AeadEngine() = default;
    virtual size_t key_length() const = 0;
    // The nonce NTS sends with this algorithm (RFC 8915 §5.6: as the AEAD
    // requires): 16 for AES-SIV (any length works; 16 is RFC 8915's floor),
    // 12 for GCM-SIV (the only length it takes).
    virtual size_t nts_nonce_length() const = 0;
    // Whether a received NTS nonce of @length is acceptable: AES-SIV >= 16,
    // GCM-SIV exactly 12.
    virtual bool nts_nonce_acceptable(size_t length) const = 0;
    // Short description for logs and reports, e.g. "composed" or "OpenSSL".
    virtual const char* implementation() const = 0;
    // Writes the sealed form (sealed_length(plaintext.size()) octets) to
    // @out and returns that length. Lengths are checked by Aead.
    virtual Result<size_t, AeadError> seal(std::span<const uint8_t> key,
                                           std::span<const uint8_t> nonce, AdComponents associated,
                                           std::span<const uint8_t> plaintext,
                                           std::span<uint8_t> out) = 0;
    // Checks and decrypts into @out; returns the plaintext length. On
    // failure @out holds no plaintext (it is cleared).
    virtual Result<size_t, AeadError> open(std::span<const uint8_t> key,
                                           std::span<const uint8_t> nonce, AdComponents associated,
                                           std::span<const uint8_t> sealed,
                                           std::span<uint8_t> out) = 0;
};

// Whether this process can seal and open with @algorithm: 15 when OpenSSL
// has CMAC and AES-128-CTR, 30 when it has AES-128-ECB (or its own GCM-SIV).
bool aead_supported(uint16_t algorithm);
// Whether the running OpenSSL offers its own AES-128-GCM-SIV (fetch
// succeeds; OpenSSL 3.0: false). Aead::create(30) uses it then, if it also
// passes the RFC 8452 known-answer test; otherwise the composed engine.
bool openssl_offers_gcm_siv();
// The id for a name aead_name() gives (case-insensitive), or nullopt.
std::optional<uint16_t> aead_from_name(std::string_view name);

class Aead {
  public:
    // An engine for @algorithm, or UnknownAlgorithm / Unsupported.
    static Result<Aead, AeadError> create(uint16_t algorithm);
    // For tests: an engine forced onto one path. @native: OpenSSL's own
    // cipher (Unsupported when it lacks it); otherwise the composed one.
    static Result<Aead, AeadError> create_gcm_siv(bool native);

    Aead(Aead&&) noexcept;
    Aead& operator=(Aead&&) noexcept;
    ~Aead();

    uint16_t algorithm() const { return algorithm_; }
    size_t key_length() const { return engine_->key_length(); }
    size_t nts_nonce_length() const { return engine_->nts_nonce_length(); }
    bool nts_nonce_acceptable(size_t length) const { return engine_->nts_nonce_acceptable(length); }
    const char* implementation() const { return engine_->implementation(); }
    static size_t sealed_length(size_t plaintext) { return kAeadTagLength + plaintext; }

    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> plaintext,
                                   std::span<uint8_t> out);
    Result<size_t, AeadError> open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> sealed,
                                   std::span<uint8_t> out);

    // The same with one associated-data component (NTS: the packet prefix).
    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   std::span<const uint8_t> associated,
                                   std::span<const uint8_t> plaintext, std::span<uint8_t> out);
    Result<size_t, AeadError> open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   std::span<const uint8_t> associated,
                                   std::span<const uint8_t> sealed, std::span<uint8_t> out);

  private:
    Aead(uint16_t algorithm, std::unique_ptr<AeadEngine> engine);

    uint16_t algorithm_;
    std::unique_ptr<AeadEngine> engine_;
};

}  // namespace nts
