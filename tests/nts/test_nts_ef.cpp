// NTS extension fields: the byte ranges the parser reports, the writer's
// layout, and the structural rules.
#include <gtest/gtest.h>

#include <vector>

#include "nts/nts_ef.hpp"

namespace nts {
namespace {

std::vector<uint8_t> header() {
    std::vector<uint8_t> p(kNtpHeaderLength, 0);
    p[0] = 0x23;
    return p;
}

void put_field(std::vector<uint8_t>& p, uint16_t type, size_t body_length, uint8_t fill = 0xab) {
    const size_t length = 4 + body_length;
    p.push_back(static_cast<uint8_t>(type >> 8));
    p.push_back(static_cast<uint8_t>(type));
    p.push_back(static_cast<uint8_t>(length >> 8));
    p.push_back(static_cast<uint8_t>(length));
    p.insert(p.end(), body_length, fill);
}

void put_authenticator(std::vector<uint8_t>& p, size_t nonce, size_t ciphertext,
                       size_t body_length) {
    const size_t at = p.size();
    put_field(p, 0x0404, body_length, 0);
    p[at + 4] = static_cast<uint8_t>(nonce >> 8);
    p[at + 5] = static_cast<uint8_t>(nonce);
    p[at + 6] = static_cast<uint8_t>(ciphertext >> 8);
    p[at + 7] = static_cast<uint8_t>(ciphertext);
}

std::vector<uint8_t> valid_request() {
    auto p = header();
    put_field(p, 0x0104, 32);
    put_field(p, 0x0204, 104, 0xcc);
    put_field(p, 0x0304, 100, 0);  // a placeholder of the wrong length
    put_field(p, 0x0304, 104, 0);
    put_field(p, 0x0304, 104, 0);
    put_field(p, 0x7777, 12);  // unknown
    put_authenticator(p, 16, 16, 36);
    return p;
}

TEST(NtsExtensionFields, ReportsEveryRangeExactly) {
    const auto p = valid_request();
    const auto f = parse_nts_fields(p);
    ASSERT_TRUE(f.has_value()) << to_string(f.error());
    EXPECT_EQ(f->unique_id.data(), p.data() + 52);
    EXPECT_EQ(f->unique_id.size(), 32u);
    EXPECT_EQ(f->cookie.data(), p.data() + 88);  // 48 + 36 + 4
    EXPECT_EQ(f->cookie.size(), 104u);
    EXPECT_EQ(f->placeholders, 2u);
    EXPECT_EQ(f->unknown_fields, 1u);
    ASSERT_TRUE(f->has_authenticator);
    EXPECT_EQ(f->authenticator_offset, p.size() - 40);
    EXPECT_EQ(f->nonce.data(), p.data() + f->authenticator_offset + 8);
    EXPECT_EQ(f->nonce.size(), 16u);
    EXPECT_EQ(f->ciphertext.data(), p.data() + f->authenticator_offset + 24);
    EXPECT_EQ(f->ciphertext.size(), 16u);
}

TEST(NtsExtensionFields, WriterProducesWhatTheParserReads) {
    std::vector<uint8_t> p(512, 0xee);
    std::fill(p.begin(), p.begin() + kNtpHeaderLength, 0);
    FieldWriter w(p, kNtpHeaderLength);
    const std::vector<uint8_t> uid(32, 1), cookie(101, 2);
    ASSERT_TRUE(w.add(FieldType::UniqueIdentifier, uid));
    ASSERT_TRUE(w.add(FieldType::Cookie, cookie));  // padded to 104
    ASSERT_TRUE(w.add_zeros(FieldType::CookiePlaceholder, 104));
    auto slot = w.add_authenticator(18, 17);  // both padded to 20
    ASSERT_TRUE(slot.has_value());
    EXPECT_EQ(slot->associated.size(), 48u + 36 + 108 + 108);
    EXPECT_EQ(w.size(), 48u + 36 + 108 + 108 + 48);
    p.resize(w.size());
    const auto f = parse_nts_fields(p);
    ASSERT_TRUE(f.has_value()) << to_string(f.error());
    EXPECT_EQ(f->cookie.size(), 104u);
    EXPECT_EQ(f->cookie[100], 2);
    EXPECT_EQ(f->cookie[101], 0);  // zero padding
    EXPECT_EQ(f->placeholders, 1u);
    EXPECT_EQ(f->nonce.data(), slot->nonce.data());
    EXPECT_EQ(f->ciphertext.data(), slot->ciphertext.data());
    EXPECT_EQ(f->ciphertext.size(), 17u);
    // Too small a buffer: nothing written.
    std::vector<uint8_t> small(60);
    FieldWriter tight(small, kNtpHeaderLength);
    EXPECT_FALSE(tight.add(FieldType::UniqueIdentifier, uid));
    EXPECT_EQ(tight.size(), kNtpHeaderLength);
    EXPECT_FALSE(tight.add_authenticator(16, 16).has_value());
}

struct BadCase {
    const char* name;
    std::vector<uint8_t> packet;
    EfError error;
};

TEST(NtsExtensionFields, StructuralRulesAreEnforced) {
    std::vector<BadCase> cases;
    auto p = header();
    p.resize(47);
    cases.push_back({"no header", p, EfError::TooShort});
    p = header();
    put_field(p, 0x0104, 32);
    p.resize(p.size() - 4);
    cases.push_back({"truncated", p, EfError::FieldTruncated});
    p = header();
    put_field(p, 0x0104, 8);
    cases.push_back({"field of 12", p, EfError::FieldTooShort});
    p = header();
    put_field(p, 0x0104, 34);
    cases.push_back({"misaligned", p, EfError::FieldMisaligned});
    p = header();
    put_field(p, 0x0104, 32);
    p.insert(p.end(), 8, 0);
    cases.push_back({"8 trailing octets", p, EfError::FieldTooShort});
    p = header();
    put_field(p, 0x0104, 28);
    cases.push_back({"short uid", p, EfError::ShortUniqueId});
    p = header();
    put_field(p, 0x0104, 32);
    put_field(p, 0x0104, 32);
    cases.push_back({"two uids", p, EfError::DuplicateUniqueId});
    p = header();
    put_field(p, 0x0204, 104);
    put_field(p, 0x0204, 104);
    cases.push_back({"two cookies", p, EfError::DuplicateCookie});
    p = header();
    put_authenticator(p, 16, 16, 36);
    put_authenticator(p, 16, 16, 36);
    cases.push_back({"two authenticators", p, EfError::FieldAfterAuthenticator});
    p = header();
    put_authenticator(p, 16, 16, 36);
    put_field(p, 0x0104, 32);
    cases.push_back({"field after authenticator", p, EfError::FieldAfterAuthenticator});
    p = header();
    put_authenticator(p, 8, 16, 36);
    cases.push_back({"nonce of 8 (GCM-SIV takes 12, AES-SIV 16)", p, EfError::ShortNonce});
    p = header();
    put_authenticator(p, 16, 12, 36);
    cases.push_back({"ciphertext of 12", p, EfError::ShortCiphertext});
    p = header();
    put_authenticator(p, 16, 17, 36);
    cases.push_back({"ciphertext past the field", p, EfError::AuthenticatorMalformed});
    p = header();
    put_authenticator(p, 0xffff, 0xffff, 36);
    cases.push_back({"huge lengths", p, EfError::AuthenticatorMalformed});
    for (const auto& c : cases) {
        const auto f = parse_nts_fields(c.packet);
        ASSERT_FALSE(f.has_value()) << c.name;
        EXPECT_EQ(f.error(), c.error) << c.name << ": " << to_string(f.error());
    }
}

TEST(NtsExtensionFields, OversizeAuthenticatorPaddingIsAccepted) {
    auto p = header();
    put_field(p, 0x0104, 32);
    put_authenticator(p, 16, 16, 36 + 64);  // additional padding
    const auto f = parse_nts_fields(p);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->ciphertext.size(), 16u);
}

TEST(NtsExtensionFields, InnerFieldsAreWalkedStrictly) {
    std::vector<uint8_t> inner;
    put_field(inner, 0x0204, 104);
    put_field(inner, 0x0204, 100);
    size_t seen = 0;
    auto n = for_each_field(inner, [&](uint16_t type, std::span<const uint8_t> body) {
        EXPECT_EQ(type, 0x0204);
        seen += body.size();
    });
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 2u);
    EXPECT_EQ(seen, 204u);
    inner.push_back(0);
    EXPECT_FALSE(for_each_field(inner, [](uint16_t, std::span<const uint8_t>) {}).has_value());
}

}  // namespace
}  // namespace nts
