// aead_gcm_siv.hpp - AEAD_AES_128_GCM_SIV (RFC 8452, IANA 30): 16-octet key,
// 12-octet nonce, output ciphertext ‖ 16-octet tag. Two engines:
//
// * Aes128GcmSivNative: OpenSSL's own "AES-128-GCM-SIV" cipher (OpenSSL 3.2
//   and later; Debian 12's 3.0 has none). Used only when the fetch succeeds
//   and it reproduces RFC 8452 C.1 vectors (empty and non-empty plaintext)
//   at creation: a provider that misbehaves is never trusted.
// * Aes128GcmSivComposed: RFC 8452 §4 written out over OpenSSL's AES-ECB.
//   Per message: the record keys are AES-128(K, LE32(i) ‖ nonce) for
//   i = 0..3, first 8 octets each (authentication key from 0 and 1,
//   encryption key from 2 and 3); the tag is AES(enc, POLYVAL(auth,
//   pad(AAD) ‖ pad(P) ‖ LE64(bits AAD) ‖ LE64(bits P)) ⊕ nonce, top bit of
//   the last octet cleared); the keystream is AES(enc, counter blocks) from
//   the tag with the top bit set, the counter being the first 32 bits as a
//   LITTLE-endian number (not OpenSSL CTR's big-endian 128-bit one, so the
//   counter blocks are built here and encrypted with ECB). POLYVAL is
//   polyval.hpp's constant-time one; the tag compare is CRYPTO_memcmp.
#pragma once

#include <memory>
#include <vector>

#include "nts/aead.hpp"

struct evp_cipher_ctx_st;

namespace nts {

class Aes128GcmSivComposed final : public AeadEngine {
  public:
    static constexpr size_t kKeyLength = 16;
    static constexpr size_t kNonceLength = 12;

    static bool available();  // OpenSSL has AES-128-ECB
    static Result<std::unique_ptr<Aes128GcmSivComposed>, AeadError> create();
    ~Aes128GcmSivComposed() override;

    size_t key_length() const override { return kKeyLength; }
    size_t nts_nonce_length() const override { return kNonceLength; }
    bool nts_nonce_acceptable(size_t length) const override { return length == kNonceLength; }
    const char* implementation() const override {
        return "composed (AES-128-ECB + constant-time POLYVAL)";
    }
    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> plaintext,
                                   std::span<uint8_t> out) override;
    Result<size_t, AeadError> open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> sealed,
                                   std::span<uint8_t> out) override;

  private:
    struct CipherCtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const;
    };
    using CipherCtx = std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree>;
    Aes128GcmSivComposed(CipherCtx key_gen, CipherCtx record);
    // Derives the record keys from @key and @nonce; keys record_ under the
    // encryption key and writes the authentication key to @auth.
    bool derive(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                std::span<uint8_t, 16> auth);
    // The tag over @associated and @plaintext (record_ keyed).
    bool tag(std::span<const uint8_t, 16> auth, std::span<const uint8_t> nonce,
             AdComponents associated, std::span<const uint8_t> plaintext,
             std::span<uint8_t, kAeadTagLength> out);
    // @in ⊕ keystream from @tag into @out (record_ keyed).
    bool ctr(std::span<const uint8_t, kAeadTagLength> tag, std::span<const uint8_t> in,
             uint8_t* out);

    CipherCtx key_gen_;  // AES-128-ECB under the key-generating key
    CipherCtx record_;   // AES-128-ECB under the record encryption key
};

class Aes128GcmSivNative final : public AeadEngine {
  public:
    // OpenSSL's own cipher, or Unsupported when it lacks it or it fails
    // the known-answer test.
    static Result<std::unique_ptr<Aes128GcmSivNative>, AeadError> create();
    ~Aes128GcmSivNative() override;

    size_t key_length() const override { return Aes128GcmSivComposed::kKeyLength; }
    size_t nts_nonce_length() const override { return Aes128GcmSivComposed::kNonceLength; }
    bool nts_nonce_acceptable(size_t length) const override {
        return length == Aes128GcmSivComposed::kNonceLength;
    }
    const char* implementation() const override { return "OpenSSL AES-128-GCM-SIV"; }
    Result<size_t, AeadError> seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> plaintext,
                                   std::span<uint8_t> out) override;
    Result<size_t, AeadError> open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   AdComponents associated, std::span<const uint8_t> sealed,
                                   std::span<uint8_t> out) override;

  private:
    struct CipherCtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const;
    };
    explicit Aes128GcmSivNative(std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> ctx);
    // OpenSSL's GCM-SIV takes its associated data in one piece: several
    // components are joined here first (NTS passes one; this rarely grows).
    std::span<const uint8_t> joined(AdComponents associated);
    bool passes_known_answers();

    std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> ctx_;
    std::vector<uint8_t> joined_;
};

}  // namespace nts
