// NTS-protected NTP end to end on packet bytes: the client's request, the
// server's check and response, the client's check; and every way either
// side must refuse.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "nts_exchange.hpp"
#include "packet/codec.hpp"

namespace nts {
namespace {

using test::Exchange;
using test::kNow;

TEST(NtsExchange, RequestAndResponseRoundTrip) {
    Exchange x;
    const auto request = x.request();
    ASSERT_FALSE(request.empty());
    EXPECT_EQ(x.client->jar().size(), 7u);
    // A full jar: the one cookie spent, so no placeholders; the NTP codec
    // accepts the request as plain NTPv4 with extension fields.
    const auto parsed = nanotime::ntp::parse_packet(request);
    ASSERT_TRUE(parsed.has_value());
    const auto fields = parse_nts_fields(request);
    ASSERT_TRUE(fields.has_value());
    EXPECT_EQ(fields->placeholders, 0u);
    EXPECT_EQ(fields->unique_id.size(), kUniqueIdLength);

    const auto response = x.answer(request);
    ASSERT_FALSE(response.empty());
    EXPECT_LE(response.size(), request.size());
    EXPECT_TRUE(nanotime::ntp::parse_packet(response).has_value());
    auto verdict = x.client->check_response(response);
    ASSERT_TRUE(verdict.has_value()) << to_string(verdict.error());
    EXPECT_EQ(*verdict, ResponseVerdict::Authentic);
    EXPECT_EQ(x.client->jar().size(), 8u);
    EXPECT_EQ(x.server->counters().authentic, 1u);
}

TEST(NtsExchange, PlaceholdersRefillAnEmptyingJarAndResponseNeverOutgrowsRequest) {
    Exchange x(1);
    const auto request = x.request();
    EXPECT_EQ(x.client->jar().size(), 0u);
    EXPECT_EQ(parse_nts_fields(request)->placeholders, 7u);
    const auto response = x.answer(request);
    EXPECT_EQ(response.size(), request.size());  // RFC 8915's sizes balance exactly
    ASSERT_TRUE(x.client->check_response(response).has_value());
    EXPECT_EQ(x.client->jar().size(), 8u);
    // The fresh cookies work.
    for (int i = 0; i < 20; ++i) {
        const auto again = x.request();
        const auto answer = x.answer(again);
        ASSERT_TRUE(x.client->check_response(answer).has_value()) << i;
        EXPECT_EQ(x.client->jar().size(), 8u);
    }
}

TEST(NtsExchange, CookiesAreNeverSentTwice) {
    Exchange x(3);
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < 3; ++i) {
        const auto request = x.request();
        const auto fields = parse_nts_fields(request);
        sent.emplace_back(fields->cookie.begin(), fields->cookie.end());
    }
    EXPECT_NE(sent[0], sent[1]);
    EXPECT_NE(sent[1], sent[2]);
    EXPECT_NE(sent[0], sent[2]);
    std::vector<uint8_t> out(kMaxNtsPacket);
    EXPECT_EQ(x.client->build_request(test::client_header(), out).error(), RequestError::NoCookie);
    EXPECT_TRUE(x.client->needs_key_exchange());
}

TEST(NtsExchange, ReplayedOrDuplicatedResponseIsRejected) {
    Exchange x;
    const auto first = x.request();
    const auto first_answer = x.answer(first);
    ASSERT_TRUE(x.client->check_response(first_answer).has_value());
    EXPECT_EQ(x.client->check_response(first_answer).error(), ResponseError::NoRequest);
    x.request();
    EXPECT_EQ(x.client->check_response(first_answer).error(), ResponseError::UniqueIdMismatch);
}

TEST(NtsExchange, EveryFlippedResponseByteIsRejected) {
    Exchange x;
    const auto request = x.request();
    const auto response = x.answer(request);
    // The header (AD) and every NTS field byte except the authenticator's
    // padding, which RFC 8915 leaves unauthenticated (there is none here).
    for (size_t i = 0; i < response.size(); ++i) {
        auto bad = response;
        bad[i] ^= 0x01;
        EXPECT_FALSE(x.client->check_response(bad).has_value()) << "byte " << i;
    }
    EXPECT_TRUE(x.client->check_response(response).has_value());
}

TEST(NtsExchange, EveryFlippedRequestByteIsDroppedOrNakked) {
    Exchange x;
    const auto request = x.request();
    const auto fields = parse_nts_fields(request);
    const size_t cookie_at = static_cast<size_t>(fields->cookie.data() - request.data());
    for (size_t i = 0; i < request.size(); ++i) {
        auto bad = request;
        bad[i] ^= 0x01;
        const NtsRequest checked = x.server->check(bad, kNow);
        const bool in_cookie = i >= cookie_at && i < cookie_at + fields->cookie.size();
        if (in_cookie) {
            EXPECT_EQ(checked.verdict, NtsVerdict::Nak) << "byte " << i;
        } else {
            EXPECT_NE(checked.verdict, NtsVerdict::Authentic) << "byte " << i;
            EXPECT_NE(checked.verdict, NtsVerdict::Nak) << "byte " << i;
        }
    }
    EXPECT_EQ(x.server->check(request, kNow).verdict, NtsVerdict::Authentic);
}

TEST(NtsExchange, UnknownCookieKeyGetsANakTheClientBelievesOnlyWithItsUid) {
    Exchange x;
    const auto request = x.request();
    // The server lost its keys (new store): the cookie's key id is unknown.
    nanotime::ntp::SplitMix64 other{99};
    auto fresh = std::make_shared<KeyStore>();
    fresh->rotate(kNow, other);
    x.server->set_key_store(fresh);
    const auto nak = x.answer(request);
    ASSERT_FALSE(nak.empty());
    EXPECT_EQ(nak.size(), kNtpHeaderLength + 4 + kUniqueIdLength);
    EXPECT_EQ(x.server->counters().nak, 1u);
    EXPECT_EQ(x.server->counters().cookie_unknown_key, 1u);
    auto forged = nak;
    forged[kNtpHeaderLength + 4] ^= 1;  // someone else's UID
    EXPECT_EQ(x.client->check_response(forged).error(), ResponseError::UniqueIdMismatch);
    auto not_kod = nak;
    not_kod[1] = 2;  // stratum 2, no authenticator
    EXPECT_EQ(x.client->check_response(not_kod).error(), ResponseError::MissingAuthenticator);
    auto verdict = x.client->check_response(nak);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_EQ(*verdict, ResponseVerdict::Nak);
    EXPECT_TRUE(x.client->needs_key_exchange());
}

TEST(NtsExchange, ExpiredCookieIsNakked) {
    Exchange x;
    const auto request = x.request();
    const int64_t later = kNow + 5 * 3600;
    auto rotated = std::make_shared<KeyStore>(*x.store);
    rotated->rotate(later, x.server_random);
    x.server->set_key_store(rotated);
    EXPECT_EQ(x.server->check(request, later).verdict, NtsVerdict::Nak);
}

TEST(NtsExchange, MissingFieldsAreDroppedNeverAnsweredUnauthenticated) {
    Exchange x;
    const auto request = x.request();
    const auto fields = parse_nts_fields(request);
    // Without the authenticator: cut it off.
    std::vector<uint8_t> no_auth(request.begin(), request.begin() + fields->authenticator_offset);
    NtsRequest checked = x.server->check(no_auth, kNow);
    EXPECT_EQ(checked.verdict, NtsVerdict::Drop);
    EXPECT_EQ(checked.reason, NtsDropReason::MissingField);
    // Without the UID: turn it into an unknown field type (then the
    // authenticator no longer verifies either, but the missing UID is first).
    auto no_uid = request;
    no_uid[kNtpHeaderLength] = 0x7f;
    checked = x.server->check(no_uid, kNow);
    EXPECT_EQ(checked.verdict, NtsVerdict::Drop);
    EXPECT_EQ(checked.reason, NtsDropReason::MissingField);
    EXPECT_EQ(x.server->counters().missing_field, 2u);
}

TEST(NtsExchange, WrongKeysFailAuthentication) {
    Exchange x;
    auto keys = x.keys;
    keys.c2s[0] ^= 1;  // the client derived another C2S than the cookie holds
    nanotime::ntp::SplitMix64 random{5};
    const auto request = x.request();
    const auto fields = parse_nts_fields(request);
    std::vector<std::vector<uint8_t>> jar = {{fields->cookie.begin(), fields->cookie.end()}};
    auto client = NtsClient::create(keys, jar, random);
    std::vector<uint8_t> out(kMaxNtsPacket);
    out.resize(*client->build_request(test::client_header(), out));
    const NtsRequest checked = x.server->check(out, kNow);
    EXPECT_EQ(checked.verdict, NtsVerdict::Drop);
    EXPECT_EQ(checked.reason, NtsDropReason::AuthenticationFailed);
    EXPECT_EQ(x.server->counters().auth_failed, 1u);
}

TEST(NtsExchange, PlainRequestIsNotNts) {
    Exchange x;
    const auto header = test::client_header();
    const std::vector<uint8_t> plain(header.begin(), header.end());
    EXPECT_EQ(x.server->check(plain, kNow).verdict, NtsVerdict::NotNts);
}

TEST(NtsExchange, NoSealingKeyDropsAfterChecking) {
    Exchange x;
    const auto request = x.request();
    // A reader whose key file went stale: the cookie's key still opens (it
    // is the one loaded), but at a time when no key may seal any more.
    const int64_t stale = kNow + 4 * 3600 - 1;
    const NtsRequest checked = x.server->check(request, stale);
    ASSERT_EQ(checked.verdict, NtsVerdict::Authentic);
    std::vector<uint8_t> out(kMaxNtsPacket);
    // Sealing key at 'stale' is the NEXT key (activation kNow + 1 h), valid.
    EXPECT_TRUE(
        x.server->respond(checked, test::server_header(request.data()), stale, out).has_value());
    auto empty = std::make_shared<KeyStore>();
    x.server->set_key_store(empty);
    EXPECT_EQ(x.server->respond(checked, test::server_header(request.data()), stale, out).error(),
              NtsDropReason::NoSealingKey);
}

}  // namespace
}  // namespace nts

namespace nts {
namespace {

// The fuzz_nts_ef seeds are real requests for the fixture's server, so the
// fuzzer starts past the cookie and authenticator checks.
TEST(NtsExchange, FuzzSeedsAreAuthenticRequests) {
    for (const char* name :
         {"request-8-cookies.bin", "request-7-placeholders.bin", "request-gcm-siv.bin"}) {
        std::ifstream file(std::string(NANOTIME_SOURCE_DIR) + "/tests/fuzz/corpus/nts_ef/" + name,
                           std::ios::binary);
        ASSERT_TRUE(file) << name;
        const auto head = test::client_header();
        std::vector<uint8_t> packet(head.begin(), head.end());
        packet.insert(packet.end(), std::istreambuf_iterator<char>(file), {});
        Exchange x;
        EXPECT_EQ(x.server->check(packet, kNow).verdict, NtsVerdict::Authentic) << name;
    }
}

}  // namespace
}  // namespace nts

namespace nts {
namespace {

constexpr uint16_t kGcmSiv = static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv);
constexpr uint16_t kSiv = static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256);

TEST(NtsExchange, GcmSivSessionRoundTripsWithTwelveOctetNonces) {
    Exchange x(1, kGcmSiv);
    const auto request = x.request();
    ASSERT_FALSE(request.empty());
    const auto fields = parse_nts_fields(request);
    ASSERT_TRUE(fields.has_value());
    EXPECT_EQ(fields->nonce.size(), 12u);
    EXPECT_EQ(fields->cookie.size(), kMinCookieLength);  // 72: 16-octet keys
    const auto response = x.answer(request);
    ASSERT_FALSE(response.empty());
    EXPECT_EQ(response.size(), request.size());  // sizes still balance exactly
    EXPECT_EQ(parse_nts_fields(response)->nonce.size(), 12u);
    auto verdict = x.client->check_response(response);
    ASSERT_TRUE(verdict.has_value()) << to_string(verdict.error());
    EXPECT_EQ(x.client->jar().size(), 8u);
    // The fresh cookies are GCM-SIV ones and work.
    for (int i = 0; i < 10; ++i) {
        const auto again = x.request();
        EXPECT_EQ(parse_nts_fields(again)->cookie.size(), kMinCookieLength);
        ASSERT_TRUE(x.client->check_response(x.answer(again)).has_value()) << i;
    }
    EXPECT_EQ(x.server->counters().authentic, 11u);
}

TEST(NtsExchange, GcmSivFlippedBytesAreRejected) {
    Exchange x(kJarCapacity, kGcmSiv);
    const auto request = x.request();
    const auto response = x.answer(request);
    ASSERT_FALSE(response.empty());
    const size_t auth_at = parse_nts_fields(response)->authenticator_offset;
    for (size_t i = kNtpHeaderLength; i < response.size(); i += 3) {
        Exchange y(kJarCapacity, kGcmSiv);
        const auto req = y.request();
        auto res = y.answer(req);
        ASSERT_EQ(res.size(), response.size());
        if (i >= auth_at && i < auth_at + 8) continue;  // field header and lengths: malformed
        res[i] ^= 0x10;
        EXPECT_FALSE(y.client->check_response(res).has_value()) << "octet " << i;
    }
    // Every flipped request octet after the header: dropped or NAKed.
    for (size_t i = kNtpHeaderLength; i < request.size(); i += 5) {
        Exchange y(kJarCapacity, kGcmSiv);
        auto req = y.request();
        req[i] ^= 0x04;
        EXPECT_NE(y.server->check(req, kNow).verdict, NtsVerdict::Authentic) << "octet " << i;
    }
}

// An authenticator whose nonce has another length than the session's AEAD
// takes (RFC 8915 §5.6) is dropped as malformed, before any decryption.
std::vector<uint8_t> request_with_nonce(Exchange& x, uint16_t aead, size_t nonce_length) {
    NtsKeys keys = x.keys;
    auto cookie_aead = Aead::create(kSiv);
    std::array<uint8_t, kMaxCookieLength> cookie{};
    std::array<uint8_t, kCookieNonceLength> nonce{};
    const auto n = seal_cookie(*cookie_aead, *x.store->sealing_key(kNow), nonce,
                               *SessionKeys::from(keys), cookie);
    EXPECT_TRUE(n.has_value());
    std::vector<uint8_t> packet(512);
    const auto head = test::client_header();
    std::copy(head.begin(), head.end(), packet.begin());
    FieldWriter w(packet, kNtpHeaderLength);
    EXPECT_TRUE(w.add(FieldType::UniqueIdentifier, std::vector<uint8_t>(32, 7)));
    EXPECT_TRUE(w.add(FieldType::Cookie, std::span(cookie).first(*n)));
    auto slot = w.add_authenticator(nonce_length, kAeadTagLength);
    EXPECT_TRUE(slot.has_value());
    auto engine = Aead::create(aead);
    const auto key = SessionKeys::from(keys);
    auto sealed = engine->seal(key->c2s(), slot->nonce, slot->associated, {}, slot->ciphertext);
    // GCM-SIV refuses to seal with a wrong nonce: the tag stays zero then.
    static_cast<void>(sealed);
    packet.resize(w.size());
    return packet;
}

TEST(NtsExchange, NonceLengthMustFitTheSessionsAead) {
    {
        Exchange x(1, kGcmSiv);
        EXPECT_EQ(x.server->check(request_with_nonce(x, kGcmSiv, 12), kNow).verdict,
                  NtsVerdict::Authentic);
        EXPECT_EQ(x.server->check(request_with_nonce(x, kGcmSiv, 16), kNow).verdict,
                  NtsVerdict::Drop);
        EXPECT_EQ(x.server->counters().malformed, 1u);
    }
    {
        Exchange x(1, kSiv);
        EXPECT_EQ(x.server->check(request_with_nonce(x, kSiv, 16), kNow).verdict,
                  NtsVerdict::Authentic);
        EXPECT_EQ(x.server->check(request_with_nonce(x, kSiv, 12), kNow).verdict,
                  NtsVerdict::Drop);  // AES-SIV: 16 octets at least
        EXPECT_EQ(x.server->counters().malformed, 1u);
        EXPECT_EQ(x.server->counters().auth_failed, 0u);
    }
}

TEST(NtsExchange, OversizeRequestIsDroppedBeforeAnyCrypto) {
    Exchange x;
    const auto request = x.request();
    const auto fields = parse_nts_fields(request);
    // An unknown field before the authenticator takes it past the daemon's
    // receive buffer; the fields themselves are well formed.
    std::vector<uint8_t> big(request.begin(), request.begin() + fields->authenticator_offset);
    const size_t filler = kMaxNtsPacket;
    big.push_back(0x7f);
    big.push_back(0x7f);
    big.push_back(static_cast<uint8_t>((filler + 4) >> 8));
    big.push_back(static_cast<uint8_t>(filler + 4));
    big.insert(big.end(), filler, 0);
    big.insert(big.end(), request.begin() + fields->authenticator_offset, request.end());
    ASSERT_TRUE(parse_nts_fields(big).has_value());
    const NtsRequest checked = x.server->check(big, kNow);
    EXPECT_EQ(checked.verdict, NtsVerdict::Drop);
    EXPECT_EQ(checked.reason, NtsDropReason::Malformed);
}

}  // namespace
}  // namespace nts

namespace nts {
namespace {

TEST(NtsExchange, RespondTrimsCookiesToTheRequestSize) {
    Exchange x;
    const auto request = x.request();  // one cookie, no placeholders
    NtsRequest checked = x.server->check(request, kNow);
    ASSERT_EQ(checked.verdict, NtsVerdict::Authentic);
    checked.cookies = kMaxCookiesPerResponse;  // asks for more than fits
    std::vector<uint8_t> out(kMaxNtsPacket);
    const auto n = x.server->respond(checked, test::server_header(request.data()), kNow, out);
    ASSERT_TRUE(n.has_value());
    EXPECT_LE(*n, request.size());
    out.resize(*n);
    ASSERT_TRUE(x.client->check_response(out).has_value());
    EXPECT_EQ(x.client->jar().size(), kJarCapacity);  // 7 left + 1 new
}

}  // namespace
}  // namespace nts
