// NTS-KE server, the time-source side of the NTS pool draft: Supported lists
// and Fixed Key Requests from an authenticated pool (client certificate +
// token), refusals to everyone else, Keep Alive sessions and their bounds,
// NTP Server Deny. Requests are written out record by record by hand.
#include <gtest/gtest.h>

#include "ke_test_support.hpp"
#include "nts/ke_pool_records.hpp"
#include "nts/ke_server.hpp"

namespace nts {
namespace {

using test::Bytes;
using test::cat;
using test::eom;
using test::FakeCookieSource;
using test::rec;
using test::text;

constexpr char kToken[] = "3f1c9a-pool-token";

Bytes u16s(std::initializer_list<uint16_t> ids) {
    Bytes body;
    for (const uint16_t id : ids) {
        body.push_back(static_cast<uint8_t>(id >> 8));
        body.push_back(static_cast<uint8_t>(id & 0xff));
    }
    return body;
}
Bytes auth(std::string_view token = kToken) {
    return rec(false, 14, text(token));
}
Bytes keep_alive() {
    return rec(false, 8, {});
}
Bytes fixed_key(uint8_t c2s, uint8_t s2c, size_t length = 32) {
    Bytes body(length, c2s);
    body.resize(2 * length, s2c);
    return rec(true, 12, body);
}
// What ntpd-rs's pool sends: Authentication, Fixed Key, Next Protocol, AEAD.
Bytes fixed_key_request(uint16_t aead = 15, size_t length = 32, uint16_t protocol = 0) {
    return cat({auth(), fixed_key(0xc2, 0x5c, length), rec(true, 1, u16s({protocol})),
                rec(true, 4, u16s({aead})), eom()});
}
Bytes support_request() {
    return cat({auth(), rec(true, 9, {}), rec(true, 10, {}), eom()});
}

KeServerConfig pool_config(size_t max_requests = 1000) {
    KeServerConfig c;
    c.pool.enabled = true;
    c.pool.tokens = PoolTokens({"another-token", kToken});
    c.pool.max_requests = max_requests;
    return c;
}

// The responses in @bytes, each as its records.
std::vector<std::vector<Record>> responses_of(const Bytes& bytes) {
    std::vector<std::vector<Record>> out;
    RecordDecoder decoder(kDefaultMaxResponseBytes);
    decoder.feed(bytes);
    out.emplace_back();
    for (;;) {
        auto next = decoder.next();
        EXPECT_TRUE(next);
        if (!next || !next->has_value()) break;
        out.back().push_back(**next);
        if ((*next)->is(RecordType::EndOfMessage)) {
            decoder.restart();
            out.emplace_back();
        }
    }
    if (out.back().empty()) out.pop_back();
    return out;
}

struct Pool {
    explicit Pool(PoolPeer peer = PoolPeer::CertificateVerified,
                  KeServerConfig config = pool_config(), bool admit = true)
        : session(std::move(config), test::failing_exporter(), cookies, peer, [this, admit] {
              ++gate_calls;
              return admit;
          }) {}
    FakeCookieSource cookies;
    int gate_calls = 0;
    KeServerSession session;
};

bool has_type(const std::vector<Record>& records, uint16_t type) {
    return std::any_of(records.begin(), records.end(),
                       [type](const Record& r) { return r.type == type; });
}

std::optional<uint16_t> error_code_of(const std::vector<Record>& records) {
    if (records.size() != 2 || !records[0].is(RecordType::Error)) return std::nullopt;
    return read_u16(records[0].body);
}

TEST(KePoolServer, SupportedListsNameNtpv4AndEachAeadWithItsKeyLength) {
    Pool pool;
    const auto action = pool.session.feed(support_request());
    EXPECT_TRUE(action.close_after_write);
    const auto responses = responses_of(action.write);
    ASSERT_EQ(responses.size(), 1u);
    const auto& r = responses[0];
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0], (Record{true, 9, u16s({0})}));
    const auto algorithms = read_supported_algorithms(r[1].body);
    ASSERT_TRUE(algorithms);
    EXPECT_EQ(*algorithms, (std::vector<AlgorithmDescription>{{30, 16}, {15, 32}}));
    EXPECT_TRUE(r[1].critical);
    EXPECT_TRUE(r[2].is(RecordType::EndOfMessage));
    EXPECT_EQ(pool.session.outcome(), KeServerOutcome::PoolSupportSent);
    ASSERT_EQ(action.answered.size(), 1u);
    EXPECT_TRUE(action.answered[0].pool_request);
    EXPECT_EQ(pool.cookies.calls, 0);
}

TEST(KePoolServer, FixedKeyRequestGetsCookiesForTheGivenKeysWithoutKeyExport) {
    for (const auto& [aead, length] : {std::pair<uint16_t, size_t>{15, 32}, {30, 16}}) {
        Pool pool;  // its exporter fails: cookies can only come from the given keys
        const auto action = pool.session.feed(fixed_key_request(aead, length));
        EXPECT_TRUE(action.close_after_write);
        const auto responses = responses_of(action.write);
        ASSERT_EQ(responses.size(), 1u);
        const auto& r = responses[0];
        ASSERT_EQ(r.size(), 11u) << aead;
        EXPECT_EQ(r[0], (Record{true, 1, u16s({0})}));
        EXPECT_EQ(r[1], (Record{true, 4, u16s({aead})}));
        for (size_t i = 2; i < 10; ++i) {
            ASSERT_TRUE(r[i].is(RecordType::NewCookie));
            EXPECT_EQ(r[i].body[0], aead);
            EXPECT_EQ(r[i].body[1], 0xc2);  // C2S
            EXPECT_EQ(r[i].body[2], 0x5c);  // S2C
        }
        EXPECT_FALSE(has_type(r, 8));
        EXPECT_EQ(pool.session.outcome(), KeServerOutcome::PoolKeysIssued);
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::None);
        EXPECT_EQ(pool.cookies.calls, 8);
    }
}

TEST(KePoolServer, ConfiguredServerAndPortRecordsGoWithFixedKeyCookies) {
    KeServerConfig c = pool_config();
    c.ntp_server = "ntp.example.net";
    c.ntp_port = 1123;
    Pool pool(PoolPeer::CertificateVerified, c);
    const auto r = responses_of(pool.session.feed(fixed_key_request()).write).at(0);
    EXPECT_EQ(r[2], (Record{true, 6, text("ntp.example.net")}));
    EXPECT_EQ(r[3], (Record{true, 7, u16s({1123})}));
}

TEST(KePoolServer, WithoutTheCertificateThePoolRecordsAreUnrecognizedCritical) {
    for (const PoolPeer peer : {PoolPeer::NoCertificate, PoolPeer::CertificateRejected}) {
        for (const Bytes& request : {fixed_key_request(), support_request()}) {
            Pool pool(peer);
            const auto action = pool.session.feed(request);
            EXPECT_TRUE(action.close_after_write);
            const auto responses = responses_of(action.write);
            ASSERT_EQ(responses.size(), 1u);
            EXPECT_EQ(error_code_of(responses[0]), 0);
            EXPECT_EQ(pool.session.pool_refusal(), peer == PoolPeer::NoCertificate
                                                       ? PoolRefusal::NoCertificate
                                                       : PoolRefusal::CertificateRejected);
            ASSERT_EQ(action.answered.size(), 1u);
            EXPECT_TRUE(action.answered[0].pool_request);
            EXPECT_EQ(pool.cookies.calls, 0);
        }
    }
}

TEST(KePoolServer, PoolRoleOffRefusesEvenAVerifiedPeer) {
    KeServerConfig c = pool_config();
    c.pool.enabled = false;
    Pool pool(PoolPeer::CertificateVerified, c);
    const auto r = responses_of(pool.session.feed(fixed_key_request()).write).at(0);
    EXPECT_EQ(error_code_of(r), 0);
    EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::NoCertificate);
}

TEST(KePoolServer, WrongOrMissingTokenIsBadRequest) {
    const Bytes wrong = cat({auth("3f1c9a-pool-tokeN"), fixed_key(1, 2), rec(true, 1, u16s({0})),
                             rec(true, 4, u16s({15})), eom()});
    const Bytes missing =
        cat({fixed_key(1, 2), rec(true, 1, u16s({0})), rec(true, 4, u16s({15})), eom()});
    const Bytes support_missing = cat({rec(true, 9, {}), keep_alive(), eom()});
    for (const Bytes& request : {wrong, missing, support_missing}) {
        Pool pool;
        const auto action = pool.session.feed(request);
        EXPECT_TRUE(action.close_after_write);
        EXPECT_EQ(error_code_of(responses_of(action.write).at(0)), 1);
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::BadToken);
        EXPECT_EQ(pool.cookies.calls, 0);
        EXPECT_EQ(pool.gate_calls, 0);
    }
}

TEST(KePoolServer, UnsupportedAeadOrProtocolGetsTheRfc8915Answer) {
    {
        Pool pool;  // 17 = AES-SIV-CMAC-512: not ours
        const auto r = responses_of(pool.session.feed(fixed_key_request(17, 64)).write).at(0);
        ASSERT_EQ(r.size(), 3u);
        EXPECT_EQ(r[0], (Record{true, 1, u16s({0})}));
        EXPECT_EQ(r[1], (Record{true, 4, {}}));
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::UnsupportedAead);
        EXPECT_EQ(pool.session.outcome(), KeServerOutcome::NoCommonAead);
    }
    {
        KeServerConfig c = pool_config();
        c.aead_algorithms = {15};  // 30 is known but not configured
        Pool pool(PoolPeer::CertificateVerified, c);
        const auto r = responses_of(pool.session.feed(fixed_key_request(30, 16)).write).at(0);
        EXPECT_EQ(r.at(1), (Record{true, 4, {}}));
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::UnsupportedAead);
    }
    {
        Pool pool;
        const auto r = responses_of(pool.session.feed(fixed_key_request(15, 32, 1)).write).at(0);
        ASSERT_EQ(r.size(), 2u);
        EXPECT_EQ(r[0], (Record{true, 1, {}}));
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::UnsupportedProtocol);
    }
}

TEST(KePoolServer, MalformedPoolRequestsAreBadRequest) {
    const Bytes short_key = fixed_key_request(15, 16);  // AES-SIV-CMAC-256 wants 2 x 32
    const Bytes two_aeads = cat(
        {auth(), fixed_key(1, 2), rec(true, 1, u16s({0})), rec(true, 4, u16s({15, 30})), eom()});
    const Bytes no_protocol = cat({auth(), fixed_key(1, 2), rec(true, 4, u16s({15})), eom()});
    const Bytes two_keys = cat({auth(), fixed_key(1, 2), fixed_key(1, 2), eom()});
    const Bytes two_tokens = cat({auth(), auth(), rec(true, 9, {}), eom()});
    const Bytes support_and_negotiation =
        cat({auth(), rec(true, 9, {}), rec(true, 1, u16s({0})), rec(true, 4, u16s({15})), eom()});
    for (const Bytes& request :
         {short_key, two_aeads, no_protocol, two_keys, two_tokens, support_and_negotiation}) {
        Pool pool;
        const auto action = pool.session.feed(request);
        EXPECT_TRUE(action.close_after_write);
        EXPECT_EQ(error_code_of(responses_of(action.write).at(0)), 1);
        EXPECT_EQ(pool.session.pool_refusal(), PoolRefusal::Malformed);
        EXPECT_EQ(pool.cookies.calls, 0);
    }
}

TEST(KePoolServer, KeepAliveSessionServesSeveralRequestsThenTheLastCloses) {
    Pool pool(PoolPeer::CertificateVerified, pool_config(3));
    // 1: Supported lists with Keep Alive.
    auto action = pool.session.feed(cat({auth(), rec(true, 10, {}), keep_alive(), eom()}));
    EXPECT_FALSE(action.close_after_write);
    auto r = responses_of(action.write);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(has_type(r[0], 8));
    EXPECT_TRUE(pool.session.request_complete());
    EXPECT_TRUE(pool.session.kept_alive());
    // 2: a Fixed Key Request with Keep Alive, in two pieces.
    const Bytes second = cat({auth(), fixed_key(7, 8), rec(true, 1, u16s({0})),
                              rec(true, 4, u16s({15})), keep_alive(), eom()});
    action = pool.session.feed(std::span<const uint8_t>(second).first(10));
    EXPECT_TRUE(action.write.empty());
    action = pool.session.feed(std::span<const uint8_t>(second).subspan(10));
    EXPECT_FALSE(action.close_after_write);
    r = responses_of(action.write);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(has_type(r[0], 8));
    EXPECT_EQ(r[0][2].body[1], 7);
    // 3: the third is the last this session may carry: no Keep Alive, close.
    action = pool.session.feed(cat({auth(), fixed_key(9, 9), rec(true, 1, u16s({0})),
                                    rec(true, 4, u16s({15})), keep_alive(), eom()}));
    EXPECT_TRUE(action.close_after_write);
    r = responses_of(action.write);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_FALSE(has_type(r[0], 8));
    EXPECT_EQ(pool.session.requests_answered(), 3u);
    EXPECT_EQ(pool.gate_calls, 1);
    // Nothing more is read.
    action = pool.session.feed(support_request());
    EXPECT_TRUE(action.write.empty());
    EXPECT_TRUE(action.answered.empty());
}

TEST(KePoolServer, PipelinedKeepAliveRequestsAreAnsweredInOrder) {
    Pool pool;
    const Bytes first = cat({auth(), rec(true, 9, {}), keep_alive(), eom()});
    const Bytes second = fixed_key_request();
    const auto action = pool.session.feed(cat({first, second}));
    EXPECT_TRUE(action.close_after_write);
    const auto r = responses_of(action.write);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_TRUE(has_type(r[0], 9));
    EXPECT_TRUE(has_type(r[0], 8));
    EXPECT_EQ(r[1].size(), 11u);
    ASSERT_EQ(action.answered.size(), 2u);
    EXPECT_EQ(action.answered[0].outcome, KeServerOutcome::PoolSupportSent);
    EXPECT_TRUE(action.answered[0].keep_alive);
    EXPECT_EQ(action.answered[1].outcome, KeServerOutcome::PoolKeysIssued);
}

TEST(KePoolServer, PipelinedRequestsLongerTogetherThanTheLimitAreNotCutWhateverTheChunking) {
    // Each request fits the limit, the two together do not: octets past
    // the first request are the second's, not an overflow of the first
    // (found by fuzz_nts_pool: fed whole, the second was cut).
    KeServerConfig c = pool_config();
    c.max_request_bytes = 200;
    Bytes deny_padding;
    for (int i = 0; i < 20; ++i) deny_padding = cat({deny_padding, rec(false, 13, text("a.b"))});
    const Bytes first = cat({auth(), rec(true, 9, {}), keep_alive(), deny_padding, eom()});
    const Bytes second = cat({auth(), rec(true, 10, {}), deny_padding, eom()});
    ASSERT_LE(first.size(), c.max_request_bytes);
    ASSERT_GT(first.size() + second.size(), c.max_request_bytes);
    const Bytes stream = cat({first, second});
    Pool whole(PoolPeer::CertificateVerified, c);
    const auto at_once = whole.session.feed(stream);
    Pool split(PoolPeer::CertificateVerified, c);
    Bytes written;
    for (const uint8_t b : stream) {
        const auto a = split.session.feed({&b, 1});
        written.insert(written.end(), a.write.begin(), a.write.end());
    }
    EXPECT_EQ(at_once.write, written);
    const auto r = responses_of(at_once.write);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_TRUE(has_type(r[0], 9));
    EXPECT_TRUE(has_type(r[1], 10));
    EXPECT_TRUE(at_once.close_after_write);
}

TEST(KePoolServer, KeepAliveRefusedByTheGateOrForAPlainRequestCloses) {
    {
        Pool pool(PoolPeer::CertificateVerified, pool_config(), false);
        const auto action = pool.session.feed(cat({auth(), rec(true, 9, {}), keep_alive(), eom()}));
        EXPECT_TRUE(action.close_after_write);
        EXPECT_FALSE(has_type(responses_of(action.write).at(0), 8));
        EXPECT_EQ(pool.gate_calls, 1);
    }
    {
        // An RFC 8915 request with Keep Alive: keys come from this session,
        // which therefore is not kept (draft: Keep Alive only with pool records).
        FakeCookieSource cookies;
        KeServerSession s(pool_config(), test::fake_exporter(), cookies,
                          PoolPeer::CertificateVerified, [] { return true; });
        const auto action =
            s.feed(cat({rec(true, 1, u16s({0})), rec(true, 4, u16s({15})), keep_alive(), eom()}));
        EXPECT_TRUE(action.close_after_write);
        EXPECT_EQ(s.outcome(), KeServerOutcome::KeysIssued);
        EXPECT_FALSE(has_type(responses_of(action.write).at(0), 8));
    }
}

TEST(KePoolServer, KeptAliveSessionNeverExportsKeys) {
    FakeCookieSource cookies;
    KeServerSession s(pool_config(), test::fake_exporter(), cookies, PoolPeer::CertificateVerified,
                      [] { return true; });
    auto action = s.feed(cat({auth(), rec(true, 9, {}), keep_alive(), eom()}));
    ASSERT_FALSE(action.close_after_write);
    action = s.feed(cat({rec(true, 1, u16s({0})), rec(true, 4, u16s({15})), eom()}));
    EXPECT_TRUE(action.close_after_write);
    EXPECT_EQ(error_code_of(responses_of(action.write).at(0)), 1);
    EXPECT_EQ(cookies.calls, 0);
}

TEST(KePoolServer, PlainClientsAreUnaffectedByPoolNonCriticalRecords) {
    // Keep Alive and Authentication from a client without a pool
    // certificate are unknown non-critical records: ignored, normal answer, close.
    FakeCookieSource cookies;
    int gate_calls = 0;
    KeServerSession s(pool_config(), test::fake_exporter(), cookies, PoolPeer::NoCertificate,
                      [&gate_calls] { return ++gate_calls > 0; });
    const auto action = s.feed(
        cat({auth(), keep_alive(), rec(true, 1, u16s({0})), rec(true, 4, u16s({15})), eom()}));
    EXPECT_TRUE(action.close_after_write);
    EXPECT_EQ(s.outcome(), KeServerOutcome::KeysIssued);
    EXPECT_EQ(s.ignored_records(), 2u);
    EXPECT_EQ(gate_calls, 0);
    EXPECT_FALSE(has_type(responses_of(action.write).at(0), 8));
}

TEST(KePoolServer, NtpServerDenyIsCheckedAndCountedButTheAnswerStands) {
    FakeCookieSource cookies;
    KeServerConfig c;
    c.ntp_server = "ntp.example.net";
    KeServerSession s(c, test::fake_exporter(), cookies);
    const auto action = s.feed(
        cat({rec(true, 1, u16s({0})), rec(true, 4, u16s({15})),
             rec(false, 13, text("ntp.example.net")), rec(false, 13, text("192.0.2.7")), eom()}));
    EXPECT_EQ(s.outcome(), KeServerOutcome::KeysIssued);
    EXPECT_EQ(s.denied_servers(), (std::vector<std::string>{"ntp.example.net", "192.0.2.7"}));
    ASSERT_EQ(action.answered.size(), 1u);
    EXPECT_EQ(action.answered[0].denied_servers, 2u);
    // A malformed one is a Bad Request.
    KeServerSession bad(c, test::fake_exporter(), cookies);
    const auto refused = bad.feed(cat({rec(true, 1, u16s({0})), rec(true, 4, u16s({15})),
                                       rec(false, 13, text("not a name")), eom()}));
    EXPECT_EQ(error_code_of(responses_of(refused.write).at(0)), 1);
}

}  // namespace
}  // namespace nts
