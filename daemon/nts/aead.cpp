// aead.cpp - AES-SIV-CMAC-256 seal/open: RFC 5297's S2V over OpenSSL's
// CMAC and its CTR mode over OpenSSL's AES-128-CTR (see aead.hpp).
#include "nts/aead.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace nts {
namespace {

constexpr size_t kSivKeyLength = 32;  // K1 (S2V, CMAC) ‖ K2 (CTR), AES-128 each
constexpr size_t kHalfKey = kSivKeyLength / 2;
constexpr size_t kBlock = 16;

// Fetched once per process, at first use, and kept for the life of the
// process. Not in static initialisers: every nanotimed links this file, and
// a client without NTS must not pay for OpenSSL's provider set-up in its
// resident set (tests/bench/client-rss.sh). A first fetch under the seccomp
// filter makes no system call but futex (util/digest.cpp).
EVP_CIPHER* fetch_cipher(const char* name) noexcept {
    return EVP_CIPHER_fetch(nullptr, name, nullptr);
}
EVP_MAC* fetch_mac(const char* name) noexcept {
    return EVP_MAC_fetch(nullptr, name, nullptr);
}
bool offered(const char* cipher) noexcept {
    EVP_CIPHER* c = fetch_cipher(cipher);
    EVP_CIPHER_free(c);
    return c != nullptr;
}
EVP_CIPHER* aes_ctr() noexcept {
    static EVP_CIPHER* const cipher = fetch_cipher("AES-128-CTR");
    return cipher;
}
EVP_MAC* cmac_mac() noexcept {
    static EVP_MAC* const mac = fetch_mac("CMAC");
    return mac;
}

// RFC 5297 §2.3 dbl(): shift left by one bit, xor 0x87 into the last octet
// if the top bit fell off - through a mask, not a branch, so that the time
// taken does not depend on the secret value.
void dbl(std::array<uint8_t, kBlock>& d) {
    const uint8_t carry = d[0] >> 7;
    for (size_t i = 0; i + 1 < kBlock; ++i) {
        d[i] = static_cast<uint8_t>(d[i] << 1 | d[i + 1] >> 7);
    }
    d[kBlock - 1] = static_cast<uint8_t>(d[kBlock - 1] << 1);
    d[kBlock - 1] ^= static_cast<uint8_t>(0x87 & (0 - carry));
}

}  // namespace

const char* to_string(AeadError error) {
    switch (error) {
        case AeadError::UnknownAlgorithm:
            return "unknown AEAD algorithm";
        case AeadError::Unsupported:
            return "AEAD algorithm not supported by this build";
        case AeadError::BadKeyLength:
            return "wrong AEAD key length";
        case AeadError::OutputTooSmall:
            return "output buffer too small";
        case AeadError::TooShort:
            return "ciphertext shorter than the tag";
        case AeadError::TooLong:
            return "plaintext too long";
        case AeadError::AuthenticationFailed:
            return "authentication failed";
        case AeadError::CryptoFailure:
            return "OpenSSL failure";
    }
    return "unknown AEAD error";
}

bool aead_supported(uint16_t algorithm) {
    return algorithm == static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256) &&
           aes_ctr() != nullptr && cmac_mac() != nullptr;
}

bool openssl_offers_gcm_siv() {
    static const bool offers = offered("AES-128-GCM-SIV");
    return offers;
}

void Aead::CipherCtxFree::operator()(evp_cipher_ctx_st* ctx) const {
    EVP_CIPHER_CTX_free(ctx);
}
void Aead::MacCtxFree::operator()(evp_mac_ctx_st* ctx) const {
    EVP_MAC_CTX_free(ctx);
}

Aead::Aead(uint16_t algorithm, std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher,
           std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac)
    : algorithm_(algorithm), cipher_(std::move(cipher)), cmac_(std::move(cmac)) {}
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;
Aead::~Aead() = default;

Result<Aead, AeadError> Aead::create(uint16_t algorithm) {
    if (!aead_key_length(algorithm)) return unexpected(AeadError::UnknownAlgorithm);
    if (!aead_supported(algorithm)) return unexpected(AeadError::Unsupported);
    std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher(EVP_CIPHER_CTX_new());
    std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac(EVP_MAC_CTX_new(cmac_mac()));
    if (!cipher || !cmac) return unexpected(AeadError::CryptoFailure);
    // Bound to AES-128-CTR once; each call only sets key and counter.
    if (EVP_EncryptInit_ex2(cipher.get(), aes_ctr(), nullptr, nullptr, nullptr) != 1) {
        return unexpected(AeadError::CryptoFailure);
    }
    // The CMAC's block cipher is set once here: passing it at every
    // EVP_MAC_init would fetch it again each time.
    char cbc[] = "AES-128-CBC";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cbc, 0),
                                 OSSL_PARAM_END};
    if (EVP_MAC_CTX_set_params(cmac.get(), params) != 1) {
        return unexpected(AeadError::CryptoFailure);
    }
    return Aead(algorithm, std::move(cipher), std::move(cmac));
}

bool Aead::cmac(std::span<const uint8_t> message, std::span<uint8_t, kAeadTagLength> out) {
    size_t length = 0;
    return EVP_MAC_init(cmac_.get(), nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(cmac_.get(), message.data(), message.size()) == 1 &&
           EVP_MAC_final(cmac_.get(), out.data(), &length, out.size()) == 1 &&
           length == kAeadTagLength;
}

Result<bool, AeadError> Aead::s2v(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                  AdComponents associated, std::span<const uint8_t> plaintext,
                                  std::span<uint8_t, kAeadTagLength> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    if (EVP_MAC_init(cmac_.get(), key.data(), kHalfKey, nullptr) != 1) {
        return unexpected(AeadError::CryptoFailure);
    }
    std::array<uint8_t, kBlock> d{};
    std::array<uint8_t, kBlock> mac{};
    const std::array<uint8_t, kBlock> zero{};
    if (!cmac(zero, d)) return unexpected(AeadError::CryptoFailure);
    auto absorb = [&](std::span<const uint8_t> component) {
        if (!cmac(component, mac)) return false;
        dbl(d);
        for (size_t i = 0; i < kBlock; ++i) d[i] ^= mac[i];
        return true;
    };
    for (std::span<const uint8_t> component : associated) {
        if (!absorb(component)) return unexpected(AeadError::CryptoFailure);
    }
    if (!nonce.empty() && !absorb(nonce)) return unexpected(AeadError::CryptoFailure);
    bool ok = false;
    if (plaintext.size() >= kBlock) {
        // T = Sn xorend D.
        if (EVP_MAC_init(cmac_.get(), nullptr, 0, nullptr) != 1) {
            return unexpected(AeadError::CryptoFailure);
        }
        const size_t head = plaintext.size() - kBlock;
        std::array<uint8_t, kBlock> tail{};
        for (size_t i = 0; i < kBlock; ++i) tail[i] = plaintext[head + i] ^ d[i];
        size_t length = 0;
        ok = EVP_MAC_update(cmac_.get(), plaintext.data(), head) == 1 &&
             EVP_MAC_update(cmac_.get(), tail.data(), tail.size()) == 1 &&
             EVP_MAC_final(cmac_.get(), out.data(), &length, out.size()) == 1 &&
             length == kAeadTagLength;
    } else {
        // T = dbl(D) xor pad(Sn), pad = Sn ‖ 0x80 ‖ zeros.
        dbl(d);
        for (size_t i = 0; i < plaintext.size(); ++i) d[i] ^= plaintext[i];
        d[plaintext.size()] ^= 0x80;
        ok = cmac(d, out);
    }
    if (!ok) return unexpected(AeadError::CryptoFailure);
    return true;
}

bool Aead::ctr(std::span<const uint8_t> key, std::span<const uint8_t, kAeadTagLength> v,
               std::span<const uint8_t> in, uint8_t* out) {
    // RFC 5297 §2.6: the counter starts at V with bits 63 and 31 cleared.
    std::array<uint8_t, kBlock> q{};
    std::copy(v.begin(), v.end(), q.begin());
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    int n = 0;
    int last = 0;
    return EVP_EncryptInit_ex2(cipher_.get(), nullptr, key.data() + kHalfKey, q.data(), nullptr) ==
               1 &&
           EVP_EncryptUpdate(cipher_.get(), out, &n, in.data(), static_cast<int>(in.size())) == 1 &&
           EVP_EncryptFinal_ex(cipher_.get(), out + n, &last) == 1 &&
           static_cast<size_t>(n) + static_cast<size_t>(last) == in.size();
}

Result<size_t, AeadError> Aead::seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> plaintext,
                                     std::span<uint8_t> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    const size_t total = sealed_length(plaintext.size());
    if (out.size() < total) return unexpected(AeadError::OutputTooSmall);
    if (plaintext.size() > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    std::span<uint8_t, kAeadTagLength> tag(out.data(), kAeadTagLength);
    auto v = s2v(key, nonce, associated, plaintext, tag);
    if (!v) return unexpected(v.error());
    if (!plaintext.empty() && !ctr(key, tag, plaintext, out.data() + kAeadTagLength)) {
        return unexpected(AeadError::CryptoFailure);
    }
    return total;
}

Result<size_t, AeadError> Aead::open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> sealed,
                                     std::span<uint8_t> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    if (sealed.size() < kAeadTagLength) return unexpected(AeadError::TooShort);
    const size_t length = sealed.size() - kAeadTagLength;
    if (out.size() < length) return unexpected(AeadError::OutputTooSmall);
    if (length > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    const std::span<const uint8_t, kAeadTagLength> tag(sealed.data(), kAeadTagLength);
    if (length > 0 && !ctr(key, tag, sealed.subspan(kAeadTagLength), out.data())) {
        return unexpected(AeadError::CryptoFailure);
    }
    // The plaintext is authentic only if it hashes back to the tag.
    std::array<uint8_t, kAeadTagLength> expected{};
    auto v = s2v(key, nonce, associated, out.first(length), expected);
    if (!v || CRYPTO_memcmp(expected.data(), tag.data(), kAeadTagLength) != 0) {
        OPENSSL_cleanse(out.data(), length);
        return unexpected(v ? AeadError::AuthenticationFailed : v.error());
    }
    return length;
}

Result<size_t, AeadError> Aead::seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     std::span<const uint8_t> associated,
                                     std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
    const std::span<const uint8_t> components[] = {associated};
    return seal(key, nonce, components, plaintext, out);
}

Result<size_t, AeadError> Aead::open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     std::span<const uint8_t> associated,
                                     std::span<const uint8_t> sealed, std::span<uint8_t> out) {
    const std::span<const uint8_t> components[] = {associated};
    return open(key, nonce, components, sealed, out);
}

}  // namespace nts
