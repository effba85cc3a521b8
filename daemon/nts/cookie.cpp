// cookie.cpp - sealing and opening NTS cookies (layout in cookie.hpp).
#include "nts/cookie.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace nts {
namespace {

constexpr size_t kPlainHeader = 4;  // the AEAD id and two zero octets
constexpr size_t kMaxPlain = kPlainHeader + 2 * kMaxSessionKeyLength;

}  // namespace

std::optional<SessionKeys> SessionKeys::from(const NtsKeys& keys) {
    const auto length = aead_key_length(keys.aead);
    if (!length || keys.c2s.size() != *length || keys.s2c.size() != *length) return std::nullopt;
    SessionKeys out;
    out.aead = keys.aead;
    out.key_length = static_cast<uint8_t>(*length);
    std::copy(keys.c2s.begin(), keys.c2s.end(), out.c2s_key.begin());
    std::copy(keys.s2c.begin(), keys.s2c.end(), out.s2c_key.begin());
    return out;
}

NtsKeys SessionKeys::to_nts_keys() const {
    return NtsKeys{aead, {c2s().begin(), c2s().end()}, {s2c().begin(), s2c().end()}};
}

const char* to_string(CookieError error) {
    switch (error) {
        case CookieError::Malformed:
            return "cookie has an impossible length";
        case CookieError::UnknownKey:
            return "cookie sealed with an unknown or expired master key";
        case CookieError::AuthenticationFailed:
            return "cookie failed authentication";
        case CookieError::BadContents:
            return "cookie contents are not an AEAD id, zero and two keys";
        case CookieError::NoSealingKey:
            return "no master key to seal cookies with";
        case CookieError::CryptoFailure:
            return "OpenSSL failure";
    }
    return "unknown cookie error";
}

size_t cookie_length(uint16_t aead) {
    const auto length = aead_key_length(aead);
    return length ? kCookieHeaderLength + kAeadTagLength + kPlainHeader + 2 * *length : 0;
}

Result<size_t, CookieError> seal_cookie(Aead& aead, const MasterKey& master,
                                        std::span<const uint8_t, kCookieNonceLength> nonce,
                                        const SessionKeys& keys, std::span<uint8_t> out) {
    const size_t total = cookie_length(keys.aead);
    if (total == 0 || aead_key_length(keys.aead) != keys.key_length) {
        return unexpected(CookieError::BadContents);
    }
    if (out.size() < total) return unexpected(CookieError::CryptoFailure);
    std::array<uint8_t, kMaxPlain> plain{};
    plain[0] = static_cast<uint8_t>(keys.aead >> 8);
    plain[1] = static_cast<uint8_t>(keys.aead);
    std::copy(keys.c2s().begin(), keys.c2s().end(), plain.begin() + kPlainHeader);
    std::copy(keys.s2c().begin(), keys.s2c().end(), plain.begin() + kPlainHeader + keys.key_length);
    const size_t plain_length = kPlainHeader + 2 * size_t{keys.key_length};
    out[0] = static_cast<uint8_t>(master.id >> 24);
    out[1] = static_cast<uint8_t>(master.id >> 16);
    out[2] = static_cast<uint8_t>(master.id >> 8);
    out[3] = static_cast<uint8_t>(master.id);
    std::copy(nonce.begin(), nonce.end(), out.begin() + 4);
    auto sealed = aead.seal(master.key, nonce, AdComponents{},
                            std::span<const uint8_t>(plain.data(), plain_length),
                            out.subspan(kCookieHeaderLength));
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!sealed) return unexpected(CookieError::CryptoFailure);
    return total;
}

Result<SessionKeys, CookieError> open_cookie(Aead& aead, const KeyStore& store, int64_t now,
                                             std::span<const uint8_t> cookie) {
    if (cookie.size() < kMinCookieLength || cookie.size() > kMaxCookieLength ||
        cookie.size() % 4 != 0) {
        return unexpected(CookieError::Malformed);
    }
    const uint32_t id = static_cast<uint32_t>(cookie[0]) << 24 |
                        static_cast<uint32_t>(cookie[1]) << 16 |
                        static_cast<uint32_t>(cookie[2]) << 8 | cookie[3];
    const MasterKey* master = store.opening_key(id, now);
    if (master == nullptr) return unexpected(CookieError::UnknownKey);
    std::array<uint8_t, kMaxPlain> plain{};
    auto opened = aead.open(master->key, cookie.subspan(4, kCookieNonceLength), AdComponents{},
                            cookie.subspan(kCookieHeaderLength), plain);
    if (!opened) {
        return unexpected(opened.error() == AeadError::AuthenticationFailed
                              ? CookieError::AuthenticationFailed
                              : CookieError::CryptoFailure);
    }
    SessionKeys keys;
    keys.aead = static_cast<uint16_t>(plain[0] << 8 | plain[1]);
    const auto length = aead_key_length(keys.aead);
    const bool consistent =
        length && plain[2] == 0 && plain[3] == 0 && *opened == kPlainHeader + 2 * *length;
    if (consistent) {
        keys.key_length = static_cast<uint8_t>(*length);
        std::copy_n(plain.begin() + kPlainHeader, *length, keys.c2s_key.begin());
        std::copy_n(plain.begin() + kPlainHeader + *length, *length, keys.s2c_key.begin());
    }
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!consistent) return unexpected(CookieError::BadContents);
    return keys;
}

}  // namespace nts
