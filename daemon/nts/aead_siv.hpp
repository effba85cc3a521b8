// aead_siv.hpp - AEAD_AES_SIV_CMAC_256 (RFC 5297, IANA 15), the AEAD every
// NTS implementation has (RFC 8915 §5.1), composed from OpenSSL 3
// primitives: S2V over EVP_MAC "CMAC" (AES-128-CBC, key K1) and CTR over
// EVP "AES-128-CTR" (key K2).
//
// Output: the 16-octet synthetic IV (the tag) first, then the ciphertext.
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
#pragma once

#include <memory>

#include "nts/aead.hpp"

struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace nts {

class AesSivCmac256 final : public AeadEngine {
  public:
    static constexpr size_t kKeyLength = 32;  // K1 (S2V, CMAC) ‖ K2 (CTR)

    // Whether OpenSSL has CMAC and AES-128-CTR.
    static bool available();
    static Result<std::unique_ptr<AesSivCmac256>, AeadError> create();
    ~AesSivCmac256() override;

    size_t key_length() const override { return kKeyLength; }
    size_t nts_nonce_length() const override { return 16; }
    bool nts_nonce_acceptable(size_t length) const override { return length >= 16; }
    const char* implementation() const override { return "composed (CMAC + AES-128-CTR)"; }
    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> plaintext,
                                   std::span<uint8_t> out) override;
    Result<size_t, AeadError> open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> sealed,
                                   std::span<uint8_t> out) override;

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
    AesSivCmac256(std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher,
                  std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac);
    bool cmac(std::span<const uint8_t> message, std::span<uint8_t, kAeadTagLength> out);
    // AES-128-CTR of @in under the second half of @key from counter Q(@v).
    bool ctr(std::span<const uint8_t> key, std::span<const uint8_t, kAeadTagLength> v,
             std::span<const uint8_t> in, uint8_t* out);

    std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher_;  // AES-128-CTR, K2 per call
    std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac_;          // CMAC, K1 per call
};

}  // namespace nts
