// aead_gcm_siv.cpp - AES-128-GCM-SIV seal/open, composed from AES-ECB and
// POLYVAL, and OpenSSL's own cipher where it has one (see aead_gcm_siv.hpp).
#include "nts/aead_gcm_siv.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "nts/polyval.hpp"

namespace nts {
namespace {

constexpr size_t kBlock = 16;
constexpr size_t kKeyLength = Aes128GcmSivComposed::kKeyLength;
constexpr size_t kNonceLength = Aes128GcmSivComposed::kNonceLength;
// Counter blocks encrypted per ECB call: 256 octets of keystream.
constexpr size_t kCtrBatch = 16;

// Fetched once per process at first use, kept for its life (aead_siv.cpp
// says why not in static initialisers).
EVP_CIPHER* aes_ecb() noexcept {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
    return cipher;
}
EVP_CIPHER* native_gcm_siv() noexcept {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-GCM-SIV", nullptr);
    return cipher;
}

void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t load_le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ECB over whole blocks with a context keyed by the caller.
bool ecb(evp_cipher_ctx_st* ctx, const uint8_t* in, size_t length, uint8_t* out) {
    int n = 0;
    return EVP_EncryptUpdate(ctx, out, &n, in, static_cast<int>(length)) == 1 &&
           static_cast<size_t>(n) == length;
}

bool key_ecb(evp_cipher_ctx_st* ctx, const uint8_t* key) {
    return EVP_EncryptInit_ex2(ctx, nullptr, key, nullptr, nullptr) == 1;
}

bool checks_lengths(std::span<const uint8_t> key, std::span<const uint8_t> nonce) {
    return key.size() == kKeyLength && nonce.size() == kNonceLength;
}

}  // namespace

// ---- composed ----

bool Aes128GcmSivComposed::available() {
    return aes_ecb() != nullptr;
}

void Aes128GcmSivComposed::CipherCtxFree::operator()(evp_cipher_ctx_st* ctx) const {
    EVP_CIPHER_CTX_free(ctx);
}

Aes128GcmSivComposed::Aes128GcmSivComposed(CipherCtx key_gen, CipherCtx record)
    : key_gen_(std::move(key_gen)), record_(std::move(record)) {}
Aes128GcmSivComposed::~Aes128GcmSivComposed() = default;

Result<std::unique_ptr<Aes128GcmSivComposed>, AeadError> Aes128GcmSivComposed::create() {
    if (!available()) return unexpected(AeadError::Unsupported);
    CipherCtx key_gen(EVP_CIPHER_CTX_new());
    CipherCtx record(EVP_CIPHER_CTX_new());
    if (!key_gen || !record) return unexpected(AeadError::CryptoFailure);
    // Bound to AES-128-ECB without padding once; each call only sets keys.
    for (evp_cipher_ctx_st* ctx : {key_gen.get(), record.get()}) {
        if (EVP_EncryptInit_ex2(ctx, aes_ecb(), nullptr, nullptr, nullptr) != 1 ||
            EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
            return unexpected(AeadError::CryptoFailure);
        }
    }
    return std::unique_ptr<Aes128GcmSivComposed>(
        new Aes128GcmSivComposed(std::move(key_gen), std::move(record)));
}

bool Aes128GcmSivComposed::derive(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                  std::span<uint8_t, 16> auth) {
    // RFC 8452 §4: four blocks LE32(i) ‖ nonce, the first half of each
    // encrypted block kept.
    std::array<uint8_t, 4 * kBlock> in{};
    std::array<uint8_t, 4 * kBlock> out{};
    for (uint32_t i = 0; i < 4; ++i) {
        store_le32(in.data() + i * kBlock, i);
        std::copy(nonce.begin(), nonce.end(), in.begin() + i * kBlock + 4);
    }
    std::array<uint8_t, kKeyLength> encryption{};
    const bool ok = key_ecb(key_gen_.get(), key.data()) &&
                    ecb(key_gen_.get(), in.data(), in.size(), out.data());
    if (ok) {
        std::copy_n(out.begin(), 8, auth.begin());
        std::copy_n(out.begin() + kBlock, 8, auth.begin() + 8);
        std::copy_n(out.begin() + 2 * kBlock, 8, encryption.begin());
        std::copy_n(out.begin() + 3 * kBlock, 8, encryption.begin() + 8);
    }
    const bool keyed = ok && key_ecb(record_.get(), encryption.data());
    OPENSSL_cleanse(out.data(), out.size());
    OPENSSL_cleanse(encryption.data(), encryption.size());
    return keyed;
}

bool Aes128GcmSivComposed::tag(std::span<const uint8_t, 16> auth, std::span<const uint8_t> nonce,
                               AdComponents associated, std::span<const uint8_t> plaintext,
                               std::span<uint8_t, kAeadTagLength> out) {
    Polyval polyval(auth);
    size_t associated_length = 0;
    for (std::span<const uint8_t> component : associated) {
        polyval.update(component);
        associated_length += component.size();
    }
    polyval.pad();
    polyval.update(plaintext);
    polyval.pad();
    std::array<uint8_t, kBlock> lengths{};
    store_le64(lengths.data(), uint64_t{associated_length} * 8);
    store_le64(lengths.data() + 8, uint64_t{plaintext.size()} * 8);
    polyval.update(lengths);
    std::array<uint8_t, kBlock> s{};
    polyval.digest(s);
    for (size_t i = 0; i < kNonceLength; ++i) s[i] ^= nonce[i];
    s[kBlock - 1] &= 0x7f;
    const bool ok = ecb(record_.get(), s.data(), s.size(), out.data());
    OPENSSL_cleanse(s.data(), s.size());
    return ok;
}

bool Aes128GcmSivComposed::ctr(std::span<const uint8_t, kAeadTagLength> tag,
                               std::span<const uint8_t> in, uint8_t* out) {
    std::array<uint8_t, kBlock> counter{};
    std::copy(tag.begin(), tag.end(), counter.begin());
    counter[kBlock - 1] |= 0x80;
    uint32_t count = load_le32(counter.data());
    std::array<uint8_t, kCtrBatch * kBlock> blocks{};
    std::array<uint8_t, kCtrBatch * kBlock> stream{};
    bool ok = true;
    for (size_t at = 0; ok && at < in.size(); at += blocks.size()) {
        const size_t length = std::min(blocks.size(), in.size() - at);
        const size_t n = (length + kBlock - 1) / kBlock;
        for (size_t b = 0; b < n; ++b) {
            std::copy(counter.begin() + 4, counter.end(), blocks.begin() + b * kBlock + 4);
            store_le32(blocks.data() + b * kBlock, count++);  // wraps mod 2^32 (RFC 8452 §4)
        }
        ok = ecb(record_.get(), blocks.data(), n * kBlock, stream.data());
        for (size_t i = 0; ok && i < length; ++i) out[at + i] = in[at + i] ^ stream[i];
    }
    OPENSSL_cleanse(stream.data(), stream.size());
    return ok;
}

Result<size_t, AeadError> Aes128GcmSivComposed::seal(std::span<const uint8_t> key,
                                                     std::span<const uint8_t> nonce,
                                                     AdComponents associated,
                                                     std::span<const uint8_t> plaintext,
                                                     std::span<uint8_t> out) {
    if (key.size() != kKeyLength) return unexpected(AeadError::BadKeyLength);
    if (nonce.size() != kNonceLength) return unexpected(AeadError::BadNonceLength);
    const size_t total = Aead::sealed_length(plaintext.size());
    if (out.size() < total) return unexpected(AeadError::OutputTooSmall);
    if (plaintext.size() > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    std::array<uint8_t, 16> auth{};
    std::span<uint8_t, kAeadTagLength> tag_out(out.data() + plaintext.size(), kAeadTagLength);
    const bool ok = derive(key, nonce, auth) && tag(auth, nonce, associated, plaintext, tag_out) &&
                    ctr(tag_out, plaintext, out.data());
    OPENSSL_cleanse(auth.data(), auth.size());
    if (!ok) {
        OPENSSL_cleanse(out.data(), total);
        return unexpected(AeadError::CryptoFailure);
    }
    return total;
}

Result<size_t, AeadError> Aes128GcmSivComposed::open(std::span<const uint8_t> key,
                                                     std::span<const uint8_t> nonce,
                                                     AdComponents associated,
                                                     std::span<const uint8_t> sealed,
                                                     std::span<uint8_t> out) {
    if (key.size() != kKeyLength) return unexpected(AeadError::BadKeyLength);
    if (nonce.size() != kNonceLength) return unexpected(AeadError::BadNonceLength);
    if (sealed.size() < kAeadTagLength) return unexpected(AeadError::TooShort);
    const size_t length = sealed.size() - kAeadTagLength;
    if (out.size() < length) return unexpected(AeadError::OutputTooSmall);
    if (length > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    const std::span<const uint8_t, kAeadTagLength> received(sealed.data() + length, kAeadTagLength);
    std::array<uint8_t, 16> auth{};
    std::array<uint8_t, kAeadTagLength> expected{};
    const bool ok = derive(key, nonce, auth) && ctr(received, sealed.first(length), out.data()) &&
                    tag(auth, nonce, associated, out.first(length), expected);
    OPENSSL_cleanse(auth.data(), auth.size());
    // The plaintext is authentic only if it hashes back to the tag.
    if (!ok || CRYPTO_memcmp(expected.data(), received.data(), kAeadTagLength) != 0) {
        OPENSSL_cleanse(out.data(), length);
        return unexpected(ok ? AeadError::AuthenticationFailed : AeadError::CryptoFailure);
    }
    return length;
}

// ---- OpenSSL's own ----

void Aes128GcmSivNative::CipherCtxFree::operator()(evp_cipher_ctx_st* ctx) const {
    EVP_CIPHER_CTX_free(ctx);
}

Aes128GcmSivNative::Aes128GcmSivNative(std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> ctx)
    : ctx_(std::move(ctx)) {}
Aes128GcmSivNative::~Aes128GcmSivNative() = default;

Result<std::unique_ptr<Aes128GcmSivNative>, AeadError> Aes128GcmSivNative::create() {
    if (native_gcm_siv() == nullptr) return unexpected(AeadError::Unsupported);
    std::unique_ptr<evp_cipher_ctx_st, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return unexpected(AeadError::CryptoFailure);
    std::unique_ptr<Aes128GcmSivNative> engine(new Aes128GcmSivNative(std::move(ctx)));
    if (!engine->passes_known_answers()) return unexpected(AeadError::Unsupported);
    return engine;
}

std::span<const uint8_t> Aes128GcmSivNative::joined(AdComponents associated) {
    if (associated.size() == 1) return associated.front();
    joined_.clear();
    for (std::span<const uint8_t> c : associated) joined_.insert(joined_.end(), c.begin(), c.end());
    return joined_;
}

Result<size_t, AeadError> Aes128GcmSivNative::seal(std::span<const uint8_t> key,
                                                   std::span<const uint8_t> nonce,
                                                   AdComponents associated,
                                                   std::span<const uint8_t> plaintext,
                                                   std::span<uint8_t> out) {
    if (key.size() != kKeyLength) return unexpected(AeadError::BadKeyLength);
    if (!checks_lengths(key, nonce)) return unexpected(AeadError::BadNonceLength);
    const size_t total = Aead::sealed_length(plaintext.size());
    if (out.size() < total) return unexpected(AeadError::OutputTooSmall);
    if (plaintext.size() > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    const std::span<const uint8_t> ad = joined(associated);
    int n = 0;
    int last = 0;
    const bool ok =
        EVP_EncryptInit_ex2(ctx_.get(), native_gcm_siv(), key.data(), nonce.data(), nullptr) == 1 &&
        (ad.empty() ||
         EVP_EncryptUpdate(ctx_.get(), nullptr, &n, ad.data(), static_cast<int>(ad.size())) == 1) &&
        EVP_EncryptUpdate(ctx_.get(), out.data(), &n, plaintext.data(),
                          static_cast<int>(plaintext.size())) == 1 &&
        static_cast<size_t>(n) == plaintext.size() &&
        EVP_EncryptFinal_ex(ctx_.get(), out.data() + n, &last) == 1 && last == 0 &&
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, kAeadTagLength,
                            out.data() + plaintext.size()) == 1;
    if (!ok) {
        OPENSSL_cleanse(out.data(), total);
        return unexpected(AeadError::CryptoFailure);
    }
    return total;
}

Result<size_t, AeadError> Aes128GcmSivNative::open(std::span<const uint8_t> key,
                                                   std::span<const uint8_t> nonce,
                                                   AdComponents associated,
                                                   std::span<const uint8_t> sealed,
                                                   std::span<uint8_t> out) {
    if (key.size() != kKeyLength) return unexpected(AeadError::BadKeyLength);
    if (!checks_lengths(key, nonce)) return unexpected(AeadError::BadNonceLength);
    if (sealed.size() < kAeadTagLength) return unexpected(AeadError::TooShort);
    const size_t length = sealed.size() - kAeadTagLength;
    if (out.size() < length) return unexpected(AeadError::OutputTooSmall);
    if (length > static_cast<size_t>(INT32_MAX)) return unexpected(AeadError::TooLong);
    const std::span<const uint8_t> ad = joined(associated);
    std::array<uint8_t, kAeadTagLength> tag{};
    std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(length), kAeadTagLength, tag.begin());
    int n = 0;
    int last = 0;
    const bool setup =
        EVP_DecryptInit_ex2(ctx_.get(), native_gcm_siv(), key.data(), nonce.data(), nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, kAeadTagLength, tag.data()) == 1 &&
        (ad.empty() ||
         EVP_DecryptUpdate(ctx_.get(), nullptr, &n, ad.data(), static_cast<int>(ad.size())) == 1);
    if (!setup) return unexpected(AeadError::CryptoFailure);
    // A failing update or final step is the tag not matching.
    const bool ok = EVP_DecryptUpdate(ctx_.get(), out.data(), &n, sealed.data(),
                                      static_cast<int>(length)) == 1 &&
                    static_cast<size_t>(n) == length &&
                    EVP_DecryptFinal_ex(ctx_.get(), out.data() + n, &last) == 1 && last == 0;
    if (!ok) {
        OPENSSL_cleanse(out.data(), length);
        return unexpected(AeadError::AuthenticationFailed);
    }
    return length;
}

// RFC 8452 C.1: the first vector (empty plaintext and associated data) and
// the eighth (8-octet plaintext, 1-octet associated data), sealed and opened.
bool Aes128GcmSivNative::passes_known_answers() {
    std::array<uint8_t, kKeyLength> key{0x01};
    std::array<uint8_t, kNonceLength> nonce{0x03};
    const std::array<uint8_t, 16> empty_sealed = {0xdc, 0x20, 0xe2, 0xd8, 0x3f, 0x25, 0x70, 0x5b,
                                                  0xb4, 0x9e, 0x43, 0x9e, 0xca, 0x56, 0xde, 0x25};
    const std::array<uint8_t, 8> plain = {0x02};
    const std::array<uint8_t, 1> ad = {0x01};
    const std::array<uint8_t, 24> sealed = {0x1e, 0x6d, 0xab, 0xa3, 0x56, 0x69, 0xf4, 0x27,
                                            0x3b, 0x0a, 0x1a, 0x25, 0x60, 0x96, 0x9c, 0xdf,
                                            0x79, 0x0d, 0x99, 0x75, 0x9a, 0xbd, 0x15, 0x08};
    std::array<uint8_t, 24> out{};
    std::array<uint8_t, 8> opened{};
    const std::span<const uint8_t> none[] = {std::span<const uint8_t>()};
    const std::span<const uint8_t> one[] = {ad};
    auto a = seal(key, nonce, none, {}, out);
    const bool empty_ok =
        a && *a == 16 && std::equal(empty_sealed.begin(), empty_sealed.end(), out.begin());
    auto b = open(key, nonce, none, empty_sealed, opened);
    auto c = seal(key, nonce, one, plain, out);
    const bool plain_ok = c && *c == 24 && out == sealed;
    auto d = open(key, nonce, one, sealed, opened);
    return empty_ok && b && *b == 0 && plain_ok && d && *d == 8 && opened == plain;
}

}  // namespace nts
