// AEAD_AES_128_GCM_SIV against every RFC 8452 Appendix C.1 vector, through
// the composed engine and, where the running OpenSSL has its own cipher,
// through that one too; POLYVAL against RFC 8452 Appendix A and C.1; and
// tampering (tag, ciphertext, associated data, nonce, key) refused.
#include <gtest/gtest.h>
#include <openssl/opensslv.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "nts/aead.hpp"
#include "nts/polyval.hpp"
#include "test_support.hpp"

namespace nts {
namespace {

using test::hex;
using test::to_hex;

struct Vector {
    const char* plaintext;
    const char* aad;
    const char* key;
    const char* nonce;
    const char* result;  // ciphertext ‖ tag
};

constexpr const char* kKey1 = "01000000000000000000000000000000";
constexpr const char* kNonce3 = "030000000000000000000000";

// RFC 8452 Appendix C.1, in order.
const Vector kVectors[] = {
    {"", "", kKey1, kNonce3, "dc20e2d83f25705bb49e439eca56de25"},
    {"0100000000000000", "", kKey1, kNonce3, "b5d839330ac7b786578782fff6013b815b287c22493a364c"},
    {"010000000000000000000000", "", kKey1, kNonce3,
     "7323ea61d05932260047d942a4978db357391a0bc4fdec8b0d106639"},
    {"01000000000000000000000000000000", "", kKey1, kNonce3,
     "743f7c8077ab25f8624e2e948579cf77303aaf90f6fe21199c6068577437a0c4"},
    {"01000000000000000000000000000000 02000000000000000000000000000000", "", kKey1, kNonce3,
     "84e07e62ba83a6585417245d7ec413a9fe427d6315c09b57ce45f2e3936a9445"
     "1a8e45dcd4578c667cd86847bf6155ff"},
    {"01000000000000000000000000000000 02000000000000000000000000000000 "
     "03000000000000000000000000000000",
     "", kKey1, kNonce3,
     "3fd24ce1f5a67b75bf2351f181a475c7b800a5b4d3dcf70106b1eea82fa1d64d"
     "f42bf7226122fa92e17a40eeaac1201b5e6e311dbf395d35b0fe39c2714388f8"},
    {"01000000000000000000000000000000 02000000000000000000000000000000 "
     "03000000000000000000000000000000 04000000000000000000000000000000",
     "", kKey1, kNonce3,
     "2433668f1058190f6d43e360f4f35cd8e475127cfca7028ea8ab5c20f7ab2af0"
     "2516a2bdcbc08d521be37ff28c152bba36697f25b4cd169c6590d1dd39566d3f"
     "8a263dd317aa88d56bdf3936dba75bb8"},
    {"0200000000000000", "01", kKey1, kNonce3, "1e6daba35669f4273b0a1a2560969cdf790d99759abd1508"},
    {"020000000000000000000000", "01", kKey1, kNonce3,
     "296c7889fd99f41917f4462008299c5102745aaa3a0c469fad9e075a"},
    {"02000000000000000000000000000000", "01", kKey1, kNonce3,
     "e2b0c5da79a901c1745f700525cb335b8f8936ec039e4e4bb97ebd8c4457441f"},
    {"02000000000000000000000000000000 03000000000000000000000000000000", "01", kKey1, kNonce3,
     "620048ef3c1e73e57e02bb8562c416a319e73e4caac8e96a1ecb2933145a1d71"
     "e6af6a7f87287da059a71684ed3498e1"},
    {"02000000000000000000000000000000 03000000000000000000000000000000 "
     "04000000000000000000000000000000",
     "01", kKey1, kNonce3,
     "50c8303ea93925d64090d07bd109dfd9515a5a33431019c17d93465999a8b005"
     "3201d723120a8562b838cdff25bf9d1e6a8cc3865f76897c2e4b245cf31c51f2"},
    {"02000000000000000000000000000000 03000000000000000000000000000000 "
     "04000000000000000000000000000000 05000000000000000000000000000000",
     "01", kKey1, kNonce3,
     "2f5c64059db55ee0fb847ed513003746aca4e61c711b5de2e7a77ffd02da42fe"
     "ec601910d3467bb8b36ebbaebce5fba30d36c95f48a3e7980f0e7ac299332a80"
     "cdc46ae475563de037001ef84ae21744"},
    {"02000000", "010000000000000000000000", kKey1, kNonce3,
     "a8fe3e8707eb1f84fb28f8cb73de8e99e2f48a14"},
    {"03000000000000000000000000000000 04000000", "01000000000000000000000000000000 0200", kKey1,
     kNonce3, "6bb0fecf5ded9b77f902c7d5da236a4391dd029724afc9805e976f451e6d87f6fe106514"},
    {"03000000000000000000000000000000 0400", "01000000000000000000000000000000 02000000", kKey1,
     kNonce3, "44d0aaf6fb2f1f34add5e8064e83e12a2adabff9b2ef00fb47920cc72a0c0f13b9fd"},
    {"", "", "e66021d5eb8e4f4066d4adb9c33560e4", "f46e44bb3da0015c94f70887",
     "a4194b79071b01a87d65f706e3949578"},
    {"7a806c", "46bb91c3c5", "36864200e0eaf5284d884a0e77d31646", "bae8e37fc83441b16034566b",
     "af60eb711bd85bc1e4d3e0a462e074eea428a8"},
    {"bdc66f146545", "fc880c94a95198874296", "aedb64a6c590bc84d1a5e269e4b47801",
     "afc0577e34699b9e671fdd4f", "bb93a3e34d3cd6a9c45545cfc11f03ad743dba20f966"},
    {"1177441f195495860f", "046787f3ea22c127aaf195d1894728", "d5cc1fd161320b6920ce07787f86743b",
     "275d1ab32f6d1f0434d8848c", "4f37281f7ad12949d01d02fd0cd174c84fc5dae2f60f52fd2b"},
    {"9f572c614b4745914474e7c7", "c9882e5386fd9f92ec489c8fde2be2cf97e74e93",
     "b3fed1473c528b8426a582995929a149", "9e9ad8780c8d63d0ab4149c0",
     "f54673c5ddf710c745641c8bc1dc2f871fb7561da1286e655e24b7b0"},
    {"0d8c8451178082355c9e940fea2f58", "2950a70d5a1db2316fd568378da107b52b0da55210cc1c1b0a",
     "2d4ed87da44102952ef94b02b805249b", "ac80e6f61455bfac8308a2d4",
     "c9ff545e07b88a015f05b274540aa183b3449b9f39552de99dc214a1190b0b"},
    {"6b3db4da3d57aa94842b9803a96e07fb6de7",
     "1860f762ebfbd08284e421702de0de18baa9c9596291b08466f37de21c7f",
     "bde3b2f204d1e9f8b06bc47f9745b3d1", "ae06556fb6aa7890bebc18fe",
     "6298b296e24e8cc35dce0bed484b7f30d5803e377094f04709f64d7b985310a4db84"},
    {"e42a3c02c25b64869e146d7b233987bddfc240871d",
     "7576f7028ec6eb5ea7e298342a94d4b202b370ef9768ec6561c4fe6b7e7296fa859c21",
     "f901cfe8a69615a93fdf7a98cad48179", "6245709fb18853f68d833640",
     "391cc328d484a4f46406181bcd62efd9b3ee197d052d15506c84a9edd65e13e9d24a2a6e70"},
};

// The engines to run the vectors through: the composed one always, the
// native one when the running OpenSSL has it (3.0 does not).
std::vector<std::pair<std::string, Aead>> engines() {
    std::vector<std::pair<std::string, Aead>> out;
    auto composed = Aead::create_gcm_siv(false);
    EXPECT_TRUE(composed.has_value());
    if (composed) out.emplace_back("composed", std::move(*composed));
    auto native = Aead::create_gcm_siv(true);
    if (native) {
        out.emplace_back("native", std::move(*native));
    } else {
        EXPECT_EQ(native.error(), AeadError::Unsupported);
        EXPECT_FALSE(openssl_offers_gcm_siv()) << "OpenSSL has the cipher but it failed the KAT";
    }
    return out;
}

TEST(NtsAeadGcmSiv, EveryRfc8452C1Vector) {
    RecordProperty("openssl", OPENSSL_VERSION_TEXT);
    RecordProperty("native_offered", openssl_offers_gcm_siv() ? "yes" : "no");
    auto all = engines();
    for (auto& [path, aead] : all) {
        size_t index = 0;
        for (const Vector& v : kVectors) {
            ++index;
            const auto plain = hex(v.plaintext), ad = hex(v.aad), key = hex(v.key);
            const auto nonce = hex(v.nonce), expected = hex(v.result);
            const std::span<const uint8_t> components[] = {ad};
            std::vector<uint8_t> out(Aead::sealed_length(plain.size()));
            auto n = aead.seal(key, nonce, components, plain, out);
            ASSERT_TRUE(n.has_value()) << path << " vector " << index;
            EXPECT_EQ(to_hex(out), v.result) << path << " vector " << index;
            std::vector<uint8_t> opened(plain.size());
            auto m = aead.open(key, nonce, components, expected, opened);
            ASSERT_TRUE(m.has_value()) << path << " vector " << index;
            EXPECT_EQ(*m, plain.size());
            EXPECT_EQ(opened, plain) << path << " vector " << index;
        }
        EXPECT_EQ(index, 24u);
    }
    RecordProperty("paths", static_cast<int>(all.size()));
}

TEST(NtsAeadGcmSiv, AssociatedDataComponentsAreJoined) {
    // Vector 15's 18-octet AAD split across components (and an empty one):
    // GCM-SIV sees one string, so the result is the same.
    const Vector& v = kVectors[14];
    const auto plain = hex(v.plaintext), ad = hex(v.aad), key = hex(v.key);
    const auto nonce = hex(v.nonce);
    const std::span<const uint8_t> whole(ad);
    const std::span<const uint8_t> parts[] = {
        whole.first(5), {}, whole.subspan(5, 11), whole.subspan(16)};
    for (auto& [path, aead] : engines()) {
        std::vector<uint8_t> out(Aead::sealed_length(plain.size()));
        ASSERT_TRUE(aead.seal(key, nonce, parts, plain, out).has_value()) << path;
        EXPECT_EQ(to_hex(out), v.result) << path;
    }
}

TEST(NtsAeadGcmSiv, TamperingIsRejected) {
    const Vector& v = kVectors[23];  // 21-octet plaintext, 35-octet AAD
    const auto plain = hex(v.plaintext), ad = hex(v.aad), key = hex(v.key);
    const auto nonce = hex(v.nonce), sealed = hex(v.result);
    for (auto& [path, aead] : engines()) {
        std::vector<uint8_t> out(plain.size());
        auto refused = [&](const std::vector<uint8_t>& k, const std::vector<uint8_t>& n,
                           const std::vector<uint8_t>& a, const std::vector<uint8_t>& s) {
            std::fill(out.begin(), out.end(), 0xaa);
            auto r = aead.open(k, n, std::span<const uint8_t>(a), s, out);
            const bool wiped =
                std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; });
            return !r && r.error() == AeadError::AuthenticationFailed && wiped;
        };
        for (size_t i = 0; i < sealed.size(); ++i) {  // ciphertext and tag octets
            auto s = sealed;
            s[i] ^= 0x01;
            EXPECT_TRUE(refused(key, nonce, ad, s)) << path << " sealed octet " << i;
            s[i] ^= 0x81;
            EXPECT_TRUE(refused(key, nonce, ad, s)) << path << " sealed octet " << i << " top bit";
        }
        for (size_t i = 0; i < ad.size(); ++i) {
            auto a = ad;
            a[i] ^= 0x01;
            EXPECT_TRUE(refused(key, nonce, a, sealed)) << path << " AAD octet " << i;
        }
        for (size_t i = 0; i < nonce.size(); ++i) {
            auto n = nonce;
            n[i] ^= 0x80;
            EXPECT_TRUE(refused(key, n, ad, sealed)) << path << " nonce octet " << i;
        }
        for (size_t i = 0; i < key.size(); ++i) {
            auto k = key;
            k[i] ^= 0x01;
            EXPECT_TRUE(refused(k, nonce, ad, sealed)) << path << " key octet " << i;
        }
        auto shorter = ad;
        shorter.pop_back();
        EXPECT_TRUE(refused(key, nonce, shorter, sealed)) << path << " AAD shortened";
        auto truncated = sealed;
        truncated.pop_back();
        EXPECT_FALSE(aead.open(key, nonce, std::span<const uint8_t>(ad), truncated, out))
            << path << " truncated";
        // Still usable after every failure.
        auto ok = aead.open(key, nonce, std::span<const uint8_t>(ad), sealed, out);
        ASSERT_TRUE(ok.has_value()) << path;
        EXPECT_EQ(out, plain);
    }
}

TEST(NtsAeadGcmSiv, LengthsAreTypedErrors) {
    auto aead = Aead::create(static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv));
    ASSERT_TRUE(aead.has_value());
    EXPECT_EQ(aead->key_length(), 16u);
    EXPECT_EQ(aead->nts_nonce_length(), 12u);
    EXPECT_TRUE(aead->nts_nonce_acceptable(12));
    EXPECT_FALSE(aead->nts_nonce_acceptable(16));
    RecordProperty("implementation", aead->implementation());
    const auto key = hex(kKey1), nonce = hex(kNonce3);
    std::vector<uint8_t> out(64);
    const std::vector<uint8_t> plain(8);
    EXPECT_EQ(
        aead->seal(std::vector<uint8_t>(32), nonce, std::span<const uint8_t>(), plain, out).error(),
        AeadError::BadKeyLength);
    EXPECT_EQ(
        aead->seal(key, std::vector<uint8_t>(16), std::span<const uint8_t>(), plain, out).error(),
        AeadError::BadNonceLength);
    std::vector<uint8_t> small(23);
    EXPECT_EQ(aead->seal(key, nonce, std::span<const uint8_t>(), plain, small).error(),
              AeadError::OutputTooSmall);
    EXPECT_EQ(
        aead->open(key, nonce, std::span<const uint8_t>(), std::vector<uint8_t>(15), out).error(),
        AeadError::TooShort);
}

TEST(NtsAeadGcmSiv, LongMessagesRoundTripAcrossCounterBatches) {
    // Several of the composed engine's 256-octet keystream batches, odd tail.
    auto all = engines();
    const auto key = hex("f901cfe8a69615a93fdf7a98cad48179"),
               nonce = hex("6245709fb18853f68d833640");
    std::vector<uint8_t> plain(1000);
    for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 7 + 3);
    std::vector<std::vector<uint8_t>> sealed_by;
    for (auto& [path, aead] : all) {
        std::vector<uint8_t> sealed(Aead::sealed_length(plain.size()));
        ASSERT_TRUE(aead.seal(key, nonce, std::span<const uint8_t>(), plain, sealed)) << path;
        std::vector<uint8_t> opened(plain.size());
        ASSERT_TRUE(aead.open(key, nonce, std::span<const uint8_t>(), sealed, opened)) << path;
        EXPECT_EQ(opened, plain) << path;
        sealed_by.push_back(sealed);
    }
    for (size_t i = 1; i < sealed_by.size(); ++i) EXPECT_EQ(sealed_by[i], sealed_by[0]);
}

std::string polyval_hex(const std::vector<uint8_t>& h, const std::vector<uint8_t>& input,
                        size_t chunk) {
    std::array<uint8_t, 16> key{};
    std::copy(h.begin(), h.end(), key.begin());
    Polyval p(key);
    for (size_t at = 0; at < input.size(); at += chunk) {
        p.update(std::span(input).subspan(at, std::min(chunk, input.size() - at)));
    }
    std::array<uint8_t, 16> out{};
    p.digest(out);
    return to_hex({out.begin(), out.end()});
}

TEST(NtsPolyval, Rfc8452AppendixAAndC1) {
    // Appendix A: POLYVAL(H, X_1, X_2).
    const auto h = hex("25629347589242761d31f826ba4b757b");
    const auto x = hex("4f4f95668c83dfb6401762bb2d01a262 d1a24ddd2721d006bbe45f20d3c9f362");
    for (size_t chunk : {1, 5, 16, 32}) {
        EXPECT_EQ(polyval_hex(h, x, chunk), "f7a3b47b846119fae5b7866cf5e5b77e") << chunk;
    }
    // C.1, the second vector: record authentication key and POLYVAL input.
    const auto auth = hex("d9b360279694941ac5dbc6987ada7377");
    EXPECT_EQ(
        polyval_hex(auth, hex("01000000000000000000000000000000 00000000000000004000000000000000"),
                    16),
        "eb93b7740962c5e49d2a90a7dc5cec74");
    // C.1, the last one: six blocks.
    EXPECT_EQ(polyval_hex(hex("3724f55f1d22ac0ab830da0b6a995d74"),
                          hex("7576f7028ec6eb5ea7e298342a94d4b2 02b370ef9768ec6561c4fe6b7e7296fa "
                              "859c2100000000000000000000000000 e42a3c02c25b64869e146d7b233987bd "
                              "dfc240871d0000000000000000000000 1801000000000000a800000000000000"),
                          16),
              "4cbba090f03f7d1188ea55749fa6c7bd");
}

}  // namespace
}  // namespace nts
