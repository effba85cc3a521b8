// AES-SIV-CMAC-256 against RFC 5297 Appendix A, the empty-plaintext S2V path
// against an independent implementation, and the failure cases.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>

#include "nts/aead.hpp"
#include "nts/aead_siv.hpp"
#include "test_support.hpp"
#include "util/random.hpp"

namespace nts {
namespace {

using test::hex;
using test::to_hex;

// RFC 5297 A.1: deterministic (no nonce), one AD component.
const auto kA1Key = hex("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
const auto kA1Ad = hex("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
const auto kA1Plain = hex("11223344 55667788 99aabbcc ddee");
const auto kA1Output = hex("85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c");

// RFC 5297 A.2: nonce-based, two AD components, then the nonce.
const auto kA2Key = hex("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f");
const auto kA2Ad1 = hex(
    "00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100");
const auto kA2Ad2 = hex("10203040 50607080 90a0");
const auto kA2Nonce = hex("09f91102 9d74e35b d84156c5 635688c0");
const auto kA2Plain =
    hex("74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 696e6720 "
        "5349562d 414553");
const auto kA2Output =
    hex("7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 dba77ceb 094fa663 "
        "b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d");

Aead make() {
    auto aead = Aead::create(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256));
    EXPECT_TRUE(aead.has_value());
    return std::move(*aead);
}

std::vector<uint8_t> seal(Aead& aead, const std::vector<uint8_t>& key,
                          const std::vector<uint8_t>& nonce, AdComponents ad,
                          const std::vector<uint8_t>& plain) {
    std::vector<uint8_t> out(Aead::sealed_length(plain.size()));
    auto n = aead.seal(key, nonce, ad, plain, out);
    EXPECT_TRUE(n.has_value());
    return out;
}

TEST(NtsAead, Rfc5297A1Deterministic) {
    Aead aead = make();
    const std::span<const uint8_t> ad[] = {kA1Ad};
    EXPECT_EQ(to_hex(seal(aead, kA1Key, {}, ad, kA1Plain)), to_hex(kA1Output));
    std::vector<uint8_t> plain(kA1Plain.size());
    auto n = aead.open(kA1Key, {}, ad, kA1Output, plain);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, kA1Plain.size());
    EXPECT_EQ(plain, kA1Plain);
}

TEST(NtsAead, Rfc5297A2NonceBased) {
    Aead aead = make();
    const std::span<const uint8_t> ad[] = {kA2Ad1, kA2Ad2};
    EXPECT_EQ(to_hex(seal(aead, kA2Key, kA2Nonce, ad, kA2Plain)), to_hex(kA2Output));
    std::vector<uint8_t> plain(kA2Plain.size());
    auto n = aead.open(kA2Key, kA2Nonce, ad, kA2Output, plain);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(plain, kA2Plain);
}

TEST(NtsAead, S2vAloneGivesTheVectorsTags) {
    // A.1 takes S2V's short-final branch, A.2 the xorend one.
    auto engine = AesSivCmac256::create();
    ASSERT_TRUE(engine.has_value());
    AesSivCmac256& aead = **engine;
    std::array<uint8_t, kAeadTagLength> v{};
    const std::span<const uint8_t> ad1[] = {kA1Ad};
    ASSERT_TRUE(aead.s2v(kA1Key, {}, ad1, kA1Plain, v).has_value());
    EXPECT_EQ(to_hex({v.begin(), v.end()}), to_hex({kA1Output.begin(), kA1Output.begin() + 16}));
    const std::span<const uint8_t> ad2[] = {kA2Ad1, kA2Ad2};
    ASSERT_TRUE(aead.s2v(kA2Key, kA2Nonce, ad2, kA2Plain, v).has_value());
    EXPECT_EQ(to_hex({v.begin(), v.end()}), to_hex({kA2Output.begin(), kA2Output.begin() + 16}));
}

TEST(NtsAead, EmptyPlaintextMatchesIndependentImplementation) {
    // Expected tags from pyca/cryptography 48 (AESSIV.encrypt(b"", [ad..., nonce])).
    Aead aead = make();
    const std::span<const uint8_t> two[] = {kA2Ad1, kA2Ad2};
    EXPECT_EQ(to_hex(seal(aead, kA2Key, kA2Nonce, two, {})), "86562183257fdf3130419a0a5d3ef6b8");
    const std::span<const uint8_t> one[] = {kA2Ad1};
    EXPECT_EQ(to_hex(seal(aead, kA2Key, kA2Nonce, one, {})), "4cf1e6f9180dca7683caaa9c7bb70ec6");
    EXPECT_EQ(to_hex(seal(aead, kA2Key, kA2Nonce, AdComponents{}, {})),
              "f3fa509d8c494d191f2b6c4c24015866");
    std::vector<uint8_t> none;
    auto tag = hex("86562183257fdf3130419a0a5d3ef6b8");
    EXPECT_TRUE(aead.open(kA2Key, kA2Nonce, two, tag, none).has_value());
    tag[15] ^= 1;
    auto bad = aead.open(kA2Key, kA2Nonce, two, tag, none);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), AeadError::AuthenticationFailed);
}

// OpenSSL's own AES-128-SIV cipher as the oracle (it cannot do empty
// plaintexts, which the vectors above cover).
std::vector<uint8_t> openssl_siv(const std::vector<uint8_t>& key, const std::vector<uint8_t>& nonce,
                                 const std::vector<std::vector<uint8_t>>& ad,
                                 const std::vector<uint8_t>& plain) {
    EVP_CIPHER* siv = EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::vector<uint8_t> out(16 + plain.size());
    int n = 0;
    EXPECT_EQ(EVP_EncryptInit_ex2(ctx, siv, key.data(), nullptr, nullptr), 1);
    for (const auto& a : ad) {
        EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &n, a.data(), static_cast<int>(a.size())), 1);
    }
    if (!nonce.empty()) {
        EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &n, nonce.data(), static_cast<int>(nonce.size())),
                  1);
    }
    EXPECT_EQ(
        EVP_EncryptUpdate(ctx, out.data() + 16, &n, plain.data(), static_cast<int>(plain.size())),
        1);
    EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + 16 + n, &n), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data()), 1);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(siv);
    return out;
}

TEST(NtsAead, AgreesWithOpenSslSivOnRandomInputs) {
    Aead aead = make();
    nanotime::ntp::SplitMix64 random(2026);
    auto bytes = [&](size_t n) {
        std::vector<uint8_t> b(n);
        for (auto& x : b) x = static_cast<uint8_t>(random.next_u64());
        return b;
    };
    for (int round = 0; round < 300; ++round) {
        const auto key = bytes(32);
        const auto nonce = bytes(round % 3 == 0 ? 0 : 16 + round % 5);
        std::vector<std::vector<uint8_t>> ad;
        // Non-empty components: OpenSSL's EVP refuses an empty AAD update.
        for (int i = 0; i < round % 4; ++i) ad.push_back(bytes(1 + random.uniform(300)));
        const auto plain = bytes(1 + random.uniform(round % 2 ? 40 : 1100));
        std::vector<std::span<const uint8_t>> components(ad.begin(), ad.end());
        const auto expected = openssl_siv(key, nonce, ad, plain);
        EXPECT_EQ(seal(aead, key, nonce, components, plain), expected) << "round " << round;
        std::vector<uint8_t> opened(plain.size());
        auto n = aead.open(key, nonce, components, expected, opened);
        ASSERT_TRUE(n.has_value()) << "round " << round;
        EXPECT_EQ(opened, plain) << "round " << round;
    }
}

TEST(NtsAead, EveryFlippedBitIsRejected) {
    Aead aead = make();
    const std::span<const uint8_t> ad[] = {kA2Ad1, kA2Ad2};
    std::vector<uint8_t> plain(kA2Plain.size());
    for (size_t i = 0; i < kA2Output.size() * 8; i += 7) {
        auto sealed = kA2Output;
        sealed[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
        auto n = aead.open(kA2Key, kA2Nonce, ad, sealed, plain);
        ASSERT_FALSE(n.has_value()) << "bit " << i;
        EXPECT_EQ(n.error(), AeadError::AuthenticationFailed);
        EXPECT_EQ(plain, std::vector<uint8_t>(plain.size(), 0)) << "plaintext left behind";
    }
}

TEST(NtsAead, WrongNonceAdOrKeyIsRejected) {
    Aead aead = make();
    std::vector<uint8_t> plain(kA2Plain.size());
    const std::span<const uint8_t> ad[] = {kA2Ad1, kA2Ad2};
    auto nonce = kA2Nonce;
    nonce[0] ^= 1;
    EXPECT_FALSE(aead.open(kA2Key, nonce, ad, kA2Output, plain).has_value());
    const std::span<const uint8_t> swapped[] = {kA2Ad2, kA2Ad1};
    EXPECT_FALSE(aead.open(kA2Key, kA2Nonce, swapped, kA2Output, plain).has_value());
    const std::span<const uint8_t> joined[] = {kA2Ad1};
    EXPECT_FALSE(aead.open(kA2Key, kA2Nonce, joined, kA2Output, plain).has_value());
    auto key = kA2Key;
    key[31] ^= 1;
    EXPECT_FALSE(aead.open(key, kA2Nonce, ad, kA2Output, plain).has_value());
    // The context is reusable after failures.
    EXPECT_TRUE(aead.open(kA2Key, kA2Nonce, ad, kA2Output, plain).has_value());
    EXPECT_EQ(plain, kA2Plain);
}

TEST(NtsAead, BadArgumentsAreTypedErrors) {
    Aead aead = make();
    std::vector<uint8_t> out(64);
    std::vector<uint8_t> short_key(16);
    EXPECT_EQ(aead.seal(short_key, kA2Nonce, kA2Ad1, kA2Plain, out).error(),
              AeadError::BadKeyLength);
    std::vector<uint8_t> small(10);
    EXPECT_EQ(aead.seal(kA2Key, kA2Nonce, kA2Ad1, kA2Plain, small).error(),
              AeadError::OutputTooSmall);
    EXPECT_EQ(aead.open(kA2Key, kA2Nonce, kA2Ad1, std::vector<uint8_t>(15), out).error(),
              AeadError::TooShort);
    EXPECT_EQ(Aead::create(999).error(), AeadError::UnknownAlgorithm);
}

TEST(NtsAead, NamesAndSupport) {
    EXPECT_TRUE(aead_supported(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256)));
    EXPECT_TRUE(aead_supported(static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv)));
    EXPECT_FALSE(aead_supported(16));
    EXPECT_STREQ(aead_name(15), "AES-SIV-CMAC-256");
    EXPECT_STREQ(aead_name(30), "AES-128-GCM-SIV");
    EXPECT_EQ(aead_name(16), nullptr);
    EXPECT_EQ(aead_from_name("aes-128-gcm-siv"), 30);
    EXPECT_EQ(aead_from_name("AES-SIV-CMAC-256"), 15);
    EXPECT_EQ(aead_from_name("AES-128-SIV"), std::nullopt);
    auto siv = make();
    EXPECT_EQ(siv.key_length(), 32u);
    EXPECT_EQ(siv.nts_nonce_length(), 16u);
    EXPECT_FALSE(siv.nts_nonce_acceptable(15));
}

}  // namespace
}  // namespace nts
