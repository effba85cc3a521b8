// aead.cpp - AES-SIV-CMAC-256 seal/open over OpenSSL 3 (see aead.hpp).
#include "nts/aead.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>

namespace nts {
namespace {

constexpr size_t kSivKeyLength = 32;  // K1 (S2V, CMAC) ‖ K2 (CTR), AES-128 each
constexpr size_t kHalfKey = kSivKeyLength / 2;
constexpr size_t kBlock = 16;

// Fetched once per process, before the daemon installs its seccomp filter
// (as util/digest.cpp), and kept for the life of the process.
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
EVP_CIPHER* const kAesSiv = fetch_cipher("AES-128-SIV");
EVP_MAC* const kCmac = fetch_mac("CMAC");
const bool kGcmSivOffered = offered("AES-128-GCM-SIV");

// RFC 5297 §2.3 dbl(): shift left by one bit, xor 0x87 into the last octet
// if the top bit fell off.
void dbl(std::array<uint8_t, kBlock>& d) {
    const uint8_t carry = d[0] >> 7;
    for (size_t i = 0; i + 1 < kBlock; ++i) {
        d[i] = static_cast<uint8_t>(d[i] << 1 | d[i + 1] >> 7);
    }
    d[kBlock - 1] = static_cast<uint8_t>(d[kBlock - 1] << 1);
    if (carry) d[kBlock - 1] ^= 0x87;
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
        case AeadError::AuthenticationFailed:
            return "authentication failed";
        case AeadError::CryptoFailure:
            return "OpenSSL failure";
    }
    return "unknown AEAD error";
}

bool aead_supported(uint16_t algorithm) {
    return algorithm == static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256) && kAesSiv != nullptr &&
           kCmac != nullptr;
}

bool openssl_offers_gcm_siv() {
    return kGcmSivOffered;
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
    std::unique_ptr<evp_mac_ctx_st, MacCtxFree> cmac(EVP_MAC_CTX_new(kCmac));
    if (!cipher || !cmac) return unexpected(AeadError::CryptoFailure);
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
        // T = Sn xorend D: only a long final component; not needed by seal/open
        // (OpenSSL does those) but kept so the vectors check every branch.
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

Result<size_t, AeadError> Aead::seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> plaintext,
                                     std::span<uint8_t> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    const size_t total = sealed_length(plaintext.size());
    if (out.size() < total) return unexpected(AeadError::OutputTooSmall);
    std::span<uint8_t, kAeadTagLength> tag(out.data(), kAeadTagLength);
    if (plaintext.empty()) {
        auto v = s2v(key, nonce, associated, plaintext, tag);
        if (!v) return unexpected(v.error());
        return total;
    }
    EVP_CIPHER_CTX* ctx = cipher_.get();
    int n = 0;
    bool ok = EVP_EncryptInit_ex2(ctx, kAesSiv, key.data(), nullptr, nullptr) == 1;
    for (std::span<const uint8_t> component : associated) {
        ok = ok && EVP_EncryptUpdate(ctx, nullptr, &n, component.data(),
                                     static_cast<int>(component.size())) == 1;
    }
    if (!nonce.empty()) {
        ok = ok &&
             EVP_EncryptUpdate(ctx, nullptr, &n, nonce.data(), static_cast<int>(nonce.size())) == 1;
    }
    ok = ok && EVP_EncryptUpdate(ctx, out.data() + kAeadTagLength, &n, plaintext.data(),
                                 static_cast<int>(plaintext.size())) == 1;
    ok = ok && static_cast<size_t>(n) == plaintext.size();
    ok = ok && EVP_EncryptFinal_ex(ctx, out.data() + kAeadTagLength + n, &n) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kAeadTagLength, out.data()) == 1;
    if (!ok) return unexpected(AeadError::CryptoFailure);
    return total;
}

Result<size_t, AeadError> Aead::open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> sealed,
                                     std::span<uint8_t> out) {
    if (key.size() != kSivKeyLength) return unexpected(AeadError::BadKeyLength);
    if (sealed.size() < kAeadTagLength) return unexpected(AeadError::TooShort);
    const size_t length = sealed.size() - kAeadTagLength;
    if (out.size() < length) return unexpected(AeadError::OutputTooSmall);
    if (length == 0) {
        std::array<uint8_t, kAeadTagLength> expected{};
        auto v = s2v(key, nonce, associated, {}, expected);
        if (!v) return unexpected(v.error());
        if (CRYPTO_memcmp(expected.data(), sealed.data(), kAeadTagLength) != 0) {
            return unexpected(AeadError::AuthenticationFailed);
        }
        return size_t{0};
    }
    EVP_CIPHER_CTX* ctx = cipher_.get();
    int n = 0;
    bool ok = EVP_DecryptInit_ex2(ctx, kAesSiv, key.data(), nullptr, nullptr) == 1;
    // SIV checks the tag while it decrypts, so it is set first.
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kAeadTagLength,
                                   const_cast<uint8_t*>(sealed.data())) == 1;
    for (std::span<const uint8_t> component : associated) {
        ok = ok && EVP_DecryptUpdate(ctx, nullptr, &n, component.data(),
                                     static_cast<int>(component.size())) == 1;
    }
    if (!nonce.empty()) {
        ok = ok &&
             EVP_DecryptUpdate(ctx, nullptr, &n, nonce.data(), static_cast<int>(nonce.size())) == 1;
    }
    if (!ok) return unexpected(AeadError::CryptoFailure);
    const bool authentic = EVP_DecryptUpdate(ctx, out.data(), &n, sealed.data() + kAeadTagLength,
                                             static_cast<int>(length)) == 1 &&
                           static_cast<size_t>(n) == length &&
                           EVP_DecryptFinal_ex(ctx, out.data() + n, &n) == 1;
    if (!authentic) {
        OPENSSL_cleanse(out.data(), length);
        return unexpected(AeadError::AuthenticationFailed);
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
