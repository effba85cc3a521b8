// NTS cookies: round trip, and every way a cookie fails to open.
#include <gtest/gtest.h>

#include "nts/cookie.hpp"
#include "util/random.hpp"

namespace nts {
namespace {

using nanotime::ntp::SplitMix64;

constexpr int64_t kNow = 1'700'000'000;  // Unix seconds

SessionKeys sample_keys() {
    SessionKeys keys;
    for (size_t i = 0; i < keys.c2s_key.size(); ++i) {
        keys.c2s_key[i] = static_cast<uint8_t>(i);
        keys.s2c_key[i] = static_cast<uint8_t>(0x80 + i);
    }
    return keys;
}

struct CookieTest : ::testing::Test {
    SplitMix64 random{42};
    KeyStore store;
    Aead aead = std::move(*Aead::create(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256)));
    std::array<uint8_t, kCookieNonceLength> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

    void SetUp() override { store.rotate(kNow, random); }

    std::vector<uint8_t> seal(const SessionKeys& keys, int64_t now = kNow) {
        std::vector<uint8_t> cookie(kMaxCookieLength);
        const MasterKey* master = store.sealing_key(now);
        EXPECT_NE(master, nullptr);
        auto n = seal_cookie(aead, *master, nonce, keys, cookie);
        EXPECT_TRUE(n.has_value());
        cookie.resize(n.has_value() ? *n : 0);
        return cookie;
    }
};

TEST_F(CookieTest, RoundTrip) {
    const auto cookie = seal(sample_keys());
    EXPECT_EQ(cookie.size(), 104u);
    auto keys = open_cookie(aead, store, kNow, cookie);
    ASSERT_TRUE(keys.has_value()) << to_string(keys.error());
    EXPECT_EQ(*keys, sample_keys());
}

TEST_F(CookieTest, GcmSivSessionKeysRoundTripInA72OctetCookie) {
    NtsKeys gcm{static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv), std::vector<uint8_t>(16, 7),
                std::vector<uint8_t>(16, 9)};
    const auto keys = SessionKeys::from(gcm);
    ASSERT_TRUE(keys.has_value());
    const auto cookie = seal(*keys);
    EXPECT_EQ(cookie.size(), 72u);
    auto opened = open_cookie(aead, store, kNow, cookie);
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(opened->to_nts_keys(), gcm);
}

TEST_F(CookieTest, EveryTamperedByteFailsAuthenticationOrKeyLookup) {
    const auto cookie = seal(sample_keys());
    for (size_t i = 0; i < cookie.size(); ++i) {
        auto bad = cookie;
        bad[i] ^= 0x40;
        auto keys = open_cookie(aead, store, kNow, bad);
        ASSERT_FALSE(keys.has_value()) << "byte " << i;
        EXPECT_EQ(keys.error(), i < 4 ? CookieError::UnknownKey : CookieError::AuthenticationFailed)
            << "byte " << i;
    }
}

TEST_F(CookieTest, AnotherStoresKeyDoesNotOpenIt) {
    const auto cookie = seal(sample_keys());
    SplitMix64 other_random{7};
    KeyStore other;
    other.rotate(kNow, other_random);
    // Same ids, every key replaced: authentication, not lookup, must fail.
    const std::string ours = store.encode();
    std::string replaced;
    for (size_t pos = 0; pos < ours.size();) {
        const size_t end = ours.find('\n', pos);
        std::string line = ours.substr(pos, end - pos);
        if (line.rfind("key ", 0) == 0)
            line = line.substr(0, line.size() - 64) + std::string(64, 'a');
        replaced += line + "\n";
        pos = end + 1;
    }
    auto wrong_keys = KeyStore::decode(replaced);
    ASSERT_TRUE(wrong_keys.has_value());
    auto keys = open_cookie(aead, *wrong_keys, kNow, cookie);
    ASSERT_FALSE(keys.has_value());
    EXPECT_EQ(keys.error(), CookieError::AuthenticationFailed);
    auto unknown = open_cookie(aead, other, kNow, cookie);
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error(), CookieError::UnknownKey);
}

TEST_F(CookieTest, ImpossibleLengthsAreMalformed) {
    const auto cookie = seal(sample_keys());
    for (size_t length : {size_t{0}, size_t{4}, kMinCookieLength - 1, kMaxCookieLength + 1}) {
        std::vector<uint8_t> bad(cookie.begin(), cookie.begin() + std::min(length, cookie.size()));
        bad.resize(length, 0);
        auto keys = open_cookie(aead, store, kNow, bad);
        ASSERT_FALSE(keys.has_value());
        EXPECT_EQ(keys.error(), CookieError::Malformed) << length;
    }
    std::vector<uint8_t> unaligned(cookie.begin(), cookie.end() - 2);
    EXPECT_EQ(open_cookie(aead, store, kNow, unaligned).error(), CookieError::Malformed);
    // Truncated but still of a possible length: authentication fails.
    std::vector<uint8_t> shorter(cookie.begin(), cookie.end() - 4);
    EXPECT_EQ(open_cookie(aead, store, kNow, shorter).error(), CookieError::AuthenticationFailed);
}

TEST_F(CookieTest, OpensAcrossTheOverlapAndNotAfter) {
    const KeyPolicy policy = store.policy();
    const auto cookie = seal(sample_keys());
    const int64_t last = kNow + (policy.previous_keys + 1) * policy.rotation_interval - 1;
    for (int64_t now = kNow; now <= last; now += policy.rotation_interval / 2) {
        store.rotate(now, random);
        EXPECT_TRUE(open_cookie(aead, store, now, cookie).has_value()) << now - kNow;
    }
    store.rotate(last, random);
    EXPECT_TRUE(open_cookie(aead, store, last, cookie).has_value());
    store.rotate(last + 1, random);
    auto expired = open_cookie(aead, store, last + 1, cookie);
    ASSERT_FALSE(expired.has_value());
    EXPECT_EQ(expired.error(), CookieError::UnknownKey);
}

TEST_F(CookieTest, AReaderThatNeverReloadsRefusesExpiredAndFutureKeys) {
    // A server that loaded the file once and never rotates: validity comes
    // from the key's activation and the policy, not from rotation pruning.
    const auto cookie = seal(sample_keys());
    const auto reader = KeyStore::decode(store.encode());
    ASSERT_TRUE(reader.has_value());
    const KeyPolicy policy = reader->policy();
    const int64_t end = kNow + (policy.previous_keys + 1) * policy.rotation_interval;
    EXPECT_TRUE(open_cookie(aead, *reader, end - 1, cookie).has_value());
    EXPECT_EQ(open_cookie(aead, *reader, end, cookie).error(), CookieError::UnknownKey);
    // Before the interval ahead of its activation (a clock far behind).
    EXPECT_TRUE(open_cookie(aead, *reader, kNow - policy.rotation_interval, cookie).has_value());
    EXPECT_EQ(open_cookie(aead, *reader, kNow - policy.rotation_interval - 1, cookie).error(),
              CookieError::UnknownKey);
}

TEST_F(CookieTest, AuthenticButMalformedContentsAreBadContents) {
    // Sealed with the real master key, so only the contents check stops it.
    const MasterKey& master = *store.sealing_key(kNow);
    auto forge = [&](std::vector<uint8_t> plain) {
        std::vector<uint8_t> cookie = {
            static_cast<uint8_t>(master.id >> 24), static_cast<uint8_t>(master.id >> 16),
            static_cast<uint8_t>(master.id >> 8), static_cast<uint8_t>(master.id)};
        cookie.insert(cookie.end(), nonce.begin(), nonce.end());
        cookie.resize(kCookieHeaderLength + Aead::sealed_length(plain.size()));
        EXPECT_TRUE(aead.seal(master.key, nonce, AdComponents{}, plain,
                              std::span(cookie).subspan(kCookieHeaderLength))
                        .has_value());
        return open_cookie(aead, store, kNow, cookie);
    };
    std::vector<uint8_t> plain(4 + 64, 0x11);
    plain[0] = 0;
    plain[1] = 15;
    plain[2] = plain[3] = 0;
    EXPECT_TRUE(forge(plain).has_value());  // the control: well formed
    plain[3] = 1;                           // reserved octets must be zero
    EXPECT_EQ(forge(plain).error(), CookieError::BadContents);
    plain[3] = 0;
    plain[1] = 30;  // GCM-SIV id with AES-SIV-length keys
    EXPECT_EQ(forge(plain).error(), CookieError::BadContents);
    plain[1] = 99;  // unknown AEAD
    EXPECT_EQ(forge(plain).error(), CookieError::BadContents);
}

TEST_F(CookieTest, AuthenticContentsWithAnUnknownAeadAreRejected) {
    SessionKeys keys = sample_keys();
    keys.aead = 999;
    std::vector<uint8_t> cookie(kMaxCookieLength);
    auto sealed = seal_cookie(aead, *store.sealing_key(kNow), nonce, keys, cookie);
    ASSERT_FALSE(sealed.has_value());
    EXPECT_EQ(sealed.error(), CookieError::BadContents);
}

}  // namespace
}  // namespace nts
