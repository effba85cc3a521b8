// aead.hpp - the AEAD of NTS (RFC 8915 §5.1): AEAD_AES_SIV_CMAC_256
// (RFC 5297), composed from OpenSSL 3 primitives: S2V over EVP_MAC "CMAC"
// (AES-128-CBC, key K1) and CTR over EVP "AES-128-CTR" (key K2).
//
// Output layout is RFC 5297's and RFC 8915's: the 16-octet synthetic IV
// (the tag) first, then the ciphertext, as long as the plaintext.
//
// The nonce is the last associated-data component of S2V (RFC 5297 §3,
// "nonce-based"). An empty nonce means deterministic mode (no nonce
// component), which only the RFC 5297 A.1 vector uses; NTS always sends one.
//
// Why not OpenSSL's own "AES-128-SIV" cipher: (1) OpenSSL 3.0 refuses an
// empty plaintext with it (its final step fails when no data update ran),
// yet every NTS request without encrypted fields authenticates exactly that;
// (2) it re-keys by building a new CMAC and cipher context inside OpenSSL:
// 32 heap allocations per seal or open (tests/bench/bench_nts), where every
// NTS packet has its own key. Composed here, a call allocates nothing and
// costs a third. OpenSSL's SIV remains the oracle: tests/nts/test_aead.cpp
// checks RFC 5297 A.1/A.2 and compares with it on random inputs.
//
// AEAD_AES_128_GCM_SIV (IANA 30) is not supported: Debian 12's OpenSSL 3.0
// does not offer it; openssl_offers() says whether the running OpenSSL does.
//
// Ciphers are fetched once per process; an Aead owns reusable contexts and
// allocates nothing per call. Not thread-safe: one Aead per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "nts/nts_keys.hpp"
#include "util/result.hpp"

struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace nts {

using nanotime::ntp::Result;
using nanotime::ntp::unexpected;

enum class AeadError : uint8_t {
    UnknownAlgorithm,      // not an IANA number nanotimed knows
    Unsupported,           // known, but nanotimed cannot use it (GCM-SIV)
    BadKeyLength,          // key is not aead_key_length() octets
    OutputTooSmall,        // the caller's buffer cannot hold the result
    TooShort,              // ciphertext shorter than the 16-octet tag
    TooLong,               // over 2^31 octets (OpenSSL takes int lengths)
    AuthenticationFailed,  // tag does not match: forged, corrupted or wrong key
    CryptoFailure,         // OpenSSL refused an operation (memory exhaustion)
};
const char* to_string(AeadError error);

inline constexpr size_t kAeadTagLength = 16;  // synthetic IV, octets

// Whether nanotimed can seal and open with @algorithm (AES-SIV-CMAC-256 only).
bool aead_supported(uint16_t algorithm);
// Whether the running OpenSSL offers AES-128-GCM-SIV (fetch succeeds): the
// fact to report when someone asks for IANA 30. OpenSSL 3.0: false.
bool openssl_offers_gcm_siv();

// Associated data as RFC 5297 components (S2V processes each separately).
using AdComponents = std::span<const std::span<const uint8_t>>;

class Aead {
  public:
    // An engine for @algorithm, or UnknownAlgorithm / Unsupported.
    static Result<Aead, AeadError> create(uint16_t algorithm);

    Aead(Aead&&) noexcept;
    Aead& operator=(Aead&&) noexcept;
    ~Aead();

    uint16_t algorithm() const { return algorithm_; }
    size_t key_length() const { return 32; }
    static size_t sealed_length(size_t plaintext) { return kAeadTagLength + plaintext; }

    // Writes tag ‖ ciphertext (sealed_length(plaintext.size()) octets) to
    // @out and returns that length.
    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> plaintext,
                                   std::span<uint8_t> out);
    // Checks and decrypts tag ‖ ciphertext into @out; returns the plaintext
    // length. On failure @out holds no plaintext (it is cleared).
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

    // S2V (RFC 5297 §2.4) of @associated, @nonce (if not empty) and
    // @plaintext under the first half of @key: the synthetic IV.
    Result<bool, AeadError> s2v(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                AdComponents associated, std::span<const uint8_t> plaintext,
                                std::span<uint8_t, kAeadTagLength> out);

  private:
    struct CipherCtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const;
    };
    struct MacCtxFree {
        void operator()(evp_mac_ctx_st* ctx) const;
    };
    Aead(uint16_t algorithm, std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher,
         std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac);
    bool cmac(std::span<const uint8_t> message, std::span<uint8_t, kAeadTagLength> out);
    // AES-128-CTR of @in under the second half of @key from counter Q(@v).
    bool ctr(std::span<const uint8_t> key, std::span<const uint8_t, kAeadTagLength> v,
             std::span<const uint8_t> in, uint8_t* out);

    uint16_t algorithm_;
    std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher_;  // AES-128-CTR, K2 per call
    std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac_;          // CMAC, K1 per call
};

}  // namespace nts
