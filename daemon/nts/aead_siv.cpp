// aead_siv.cpp - AES-SIV-CMAC-256 seal/open: RFC 5297's S2V over OpenSSL's
// CMAC and its CTR mode over OpenSSL's AES-128-CTR (see aead_siv.hpp).
#include "nts/aead_siv.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace nts {
namespace {

constexpr size_t kSivKeyLength = AesSivCmac256::kKeyLength;
constexpr size_t kHalfKey = kSivKeyLength / 2;
constexpr size_t kBlock = 16;

// Fetched once per process, at first use, and kept for the life of the
// process. Not in static initialisers: every nanotimed links this file, and
// a client without NTS must not pay for OpenSSL's provider set-up in its
// resident set (tests/bench/client-rss.sh). A first fetch under the seccomp
// filter makes no system call but futex (util/digest.cpp).
EVP_CIPHER* aes_ctr() noexcept {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
    return cipher;
}
EVP_MAC* cmac_mac() noexcept {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
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

bool AesSivCmac256::available() {
    return aes_ctr() != nullptr && cmac_mac() != nullptr;
}

void AesSivCmac256::CipherCtxFree::operator()(evp_cipher_ctx_st* ctx) const {
    EVP_CIPHER_CTX_free(ctx);
}
void AesSivCmac256::MacCtxFree::operator()(evp_mac_ctx_st* ctx) const {
    EVP_MAC_CTX_free(ctx);
}

AesSivCmac256::AesSivCmac256(std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> cipher,
                             std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac)
    : cipher_(std::move(cipher)), cmac_(std::move(cmac)) {}
AesSivCmac256::~AesSivCmac256() = default;

Result<std::unique_ptr<AesSivCmac256>, AeadError> AesSivCmac256::create() {
    if (!available()) return unexpected(AeadError::Unsupported);
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
    return std::unique_ptr<AesSivCmac256>(new AesSivCmac256(std::move(cipher), std::move(cmac)));
}

bool AesSivCmac256::cmac(std::span<const uint8_t> message, std::span<uint8_t, kAeadTagLength> out) {
    size_t length = 0;
    return EVP_MAC_init(cmac_.get(), nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(cmac_.get(), message.data(), message.size()) == 1 &&
           EVP_MAC_final(cmac_.get(), out.data(), &length, out.size()) == 1 &&
           length == kAeadTagLength;
}

Result<bool, AeadError> AesSivCmac256::s2v(std::span<const uint8_t> key,
                                           std::span<const uint8_t> nonce, AdComponents associated,
                                           std::span<const uint8_t> plaintext,
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

bool AesSivCmac256::ctr(std::span<const uint8_t> key, std::span<const uint8_t, kAeadTagLength> v,
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

Result<size_t, AeadError> AesSivCmac256::seal(std::span<const uint8_t> key,
                                              std::span<const uint8_t> nonce,
                                              AdComponents associated,
                                              std::span<const uint8_t> plaintext,
                                              std::span<uint8_t> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    const size_t total = Aead::sealed_length(plaintext.size());
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

Result<size_t, AeadError> AesSivCmac256::open(std::span<const uint8_t> key,
                                              std::span<const uint8_t> nonce,
                                              AdComponents associated,
                                              std::span<const uint8_t> sealed,
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

}  // namespace nts
