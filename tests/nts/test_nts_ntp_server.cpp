// The NTP server with NTS enabled: NTS requests get authenticated replies
// the client accepts, NTSN kiss-o'-deaths or nothing; plain requests are
// unchanged.
#include <gtest/gtest.h>

#include "nts_exchange.hpp"
#include "packet/codec.hpp"
#include "server/ntp_server.hpp"

namespace nts {
namespace {

using namespace nanotime::ntp;

const SocketAddress kClient{IpAddress::v4(192, 0, 2, 50), 40000};
const NtpInstant kReceive = NtpInstant::from_unix(Nanoseconds(test::kNow * kNanosPerSecond));

SystemState synced() {
    SystemState s;
    s.stratum = 2;
    s.reference_id = 0xc0000201;
    s.reference_time = kReceive;
    s.has_reference_time = true;
    return s;
}

ServerConfig open_config() {
    ServerConfig c;
    c.access.allow(*Cidr::parse("192.0.2.0/24"));
    return c;
}

struct NtsNtpServer : ::testing::Test {
    test::Exchange x;
    SplitMix64 random{3};
    NtpServer server{open_config(), random};
    void SetUp() override { server.enable_nts(*x.server); }
    ServerResponse handle(const std::vector<uint8_t>& request) {
        return server.handle(request, kClient, kReceive, kReceive, synced());
    }
};

TEST_F(NtsNtpServer, AuthenticReplyTheClientAccepts) {
    const auto request = x.request();
    const auto r = handle(request);
    ASSERT_EQ(r.decision, ServerDecision::Reply);
    EXPECT_GT(r.bytes().size(), kHeaderLength);
    EXPECT_LE(r.bytes().size(), request.size());
    const auto header = parse_header(r.bytes());
    ASSERT_TRUE(header.has_value());
    EXPECT_NE(header->stratum, 0);  // not a kiss-o'-death
    EXPECT_EQ(header->origin_time, parse_header(request)->transmit_time);
    const std::vector<uint8_t> reply(r.bytes().begin(), r.bytes().end());
    auto verdict = x.client->check_response(reply);
    ASSERT_TRUE(verdict.has_value()) << to_string(verdict.error());
    EXPECT_EQ(*verdict, ResponseVerdict::Authentic);
    EXPECT_EQ(server.counters().replied, 1u);
    EXPECT_EQ(server.counters().extension_fields_ignored, 0u);
}

TEST_F(NtsNtpServer, UnopenableCookieGetsAnNtsnKissOfDeath) {
    const auto request = x.request();
    auto other = std::make_shared<KeyStore>();
    SplitMix64 r{77};
    other->rotate(test::kNow, r);
    x.server->set_key_store(other);
    const auto reply = handle(request);
    ASSERT_EQ(reply.decision, ServerDecision::KissOfDeath);
    const auto header = parse_header(reply.bytes());
    EXPECT_EQ(header->stratum, 0);
    EXPECT_EQ(header->reference_id, kKissNtsNak);
    EXPECT_EQ(server.counters().nts_nak, 1u);
    const std::vector<uint8_t> bytes(reply.bytes().begin(), reply.bytes().end());
    EXPECT_EQ(*x.client->check_response(bytes), ResponseVerdict::Nak);
}

TEST_F(NtsNtpServer, TamperedRequestIsDroppedAndCounted) {
    auto request = x.request();
    request[20] ^= 1;  // reference timestamp: inside the authenticated header
    const auto r = handle(request);
    EXPECT_EQ(r.decision, ServerDecision::Drop);
    EXPECT_TRUE(r.bytes().empty());
    EXPECT_EQ(server.counters().nts_dropped, 1u);
    EXPECT_EQ(x.server->counters().auth_failed, 1u);
}

TEST_F(NtsNtpServer, RateLimitedNtsRequestIsDroppedNotKissed) {
    RateLimitConfig limit;
    limit.burst = 1;
    ServerConfig config = open_config();
    config.rate_limit = limit;
    NtpServer limited(config, random);
    limited.enable_nts(*x.server);
    int replies = 0, kisses = 0;
    for (int i = 0; i < 4; ++i) {
        const auto r = limited.handle(x.request(), kClient, kReceive, kReceive, synced());
        replies += r.decision == ServerDecision::Reply;
        kisses += r.decision == ServerDecision::KissOfDeath;
    }
    EXPECT_EQ(replies, 1);
    EXPECT_EQ(kisses, 0);
    EXPECT_EQ(limited.counters().rate_limited_dropped, 3u);
}

TEST_F(NtsNtpServer, PlainRequestsStay48Octets) {
    const auto head = test::client_header();
    const auto r = handle({head.begin(), head.end()});
    ASSERT_EQ(r.decision, ServerDecision::Reply);
    EXPECT_EQ(r.bytes().size(), kHeaderLength);
    // NTS fields without NTS enabled are unknown fields: a plain reply.
    NtpServer plain(open_config(), random);
    const auto request = x.request();
    const auto p = plain.handle(request, kClient, kReceive, kReceive, synced());
    ASSERT_EQ(p.decision, ServerDecision::Reply);
    EXPECT_EQ(p.bytes().size(), kHeaderLength);
    EXPECT_GT(plain.counters().extension_fields_ignored, 0u);
}

}  // namespace
}  // namespace nts
