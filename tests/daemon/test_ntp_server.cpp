// Server: closed by default, ACL, replies from system state, KoD, counters,
// unknown extension fields ignored, malformed input dropped.
#include <gtest/gtest.h>

#include "packet/codec.hpp"
#include "server/ntp_server.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::kEpoch2026;

const SocketAddress kClient{IpAddress::v4(192, 0, 2, 50), 40000};

std::vector<uint8_t> request(uint8_t version = 4) {
    NtpHeader h;
    h.version = version;
    h.mode = Mode::Client;
    h.poll = 6;
    h.transmit_time = NtpTimestamp{0x1122334455667788ULL};
    const auto b = serialize_header(h);
    return {b.begin(), b.end()};
}

SystemState synced() {
    SystemState s;
    s.leap = LeapIndicator::NoWarning;
    s.stratum = 2;
    s.precision = -24;
    s.root_delay = 0.010;
    s.root_dispersion = 0.020;
    s.reference_id = 0xc0000201;
    s.reference_time = kEpoch2026 - from_seconds(10);
    s.has_reference_time = true;
    return s;
}

ServerConfig open_config() {
    ServerConfig c;
    c.access.allow(*Cidr::parse("192.0.2.0/24"));
    return c;
}

TEST(NtpServer, ClosedUnlessConfigured) {
    SplitMix64 random(1);
    NtpServer server(ServerConfig{}, random);
    auto r = server.handle(request(), kClient, kEpoch2026, kEpoch2026, synced());
    EXPECT_EQ(r.decision, ServerDecision::Drop);
    EXPECT_TRUE(r.bytes().empty());
    EXPECT_EQ(server.counters().denied, 1u);
}

TEST(NtpServer, ReplyCarriesSystemState) {
    SplitMix64 random(2);
    NtpServer server(open_config(), random);
    const NtpInstant rx = kEpoch2026;
    const NtpInstant tx = kEpoch2026 + Nanoseconds(20'000);
    auto r = server.handle(request(), kClient, rx, tx, synced());
    ASSERT_EQ(r.decision, ServerDecision::Reply);
    auto reply = parse_packet(r.bytes());
    ASSERT_TRUE(reply);
    const NtpHeader& h = reply->header;
    EXPECT_EQ(h.mode, Mode::Server);
    EXPECT_EQ(h.version, 4);
    EXPECT_EQ(h.leap, LeapIndicator::NoWarning);
    EXPECT_EQ(h.stratum, 2);
    EXPECT_EQ(h.precision, -24);
    EXPECT_EQ(h.poll, 6);
    EXPECT_EQ(h.reference_id, 0xc0000201U);
    EXPECT_EQ(h.origin_time.raw, 0x1122334455667788ULL);
    EXPECT_EQ(h.receive_time, rx.to_timestamp());
    EXPECT_EQ(h.transmit_time, tx.to_timestamp());
    EXPECT_EQ(h.reference_time, (kEpoch2026 - from_seconds(10)).to_timestamp());
    EXPECT_NEAR(to_seconds(to_duration(h.root_delay)), 0.010, 2e-5);
    // Root dispersion grows by PHI over the 10 s since the update.
    EXPECT_NEAR(to_seconds(to_duration(h.root_dispersion)), 0.020 + kPhi * 10, 2e-5);
    EXPECT_EQ(server.counters().replied, 1u);
}

TEST(NtpServer, UnsynchronizedServerSaysSo) {
    SplitMix64 random(3);
    NtpServer server(open_config(), random);
    auto r = server.handle(request(), kClient, kEpoch2026, kEpoch2026, SystemState{});
    auto h = *parse_header(r.bytes());
    EXPECT_EQ(h.leap, LeapIndicator::Unsynchronized);
    EXPECT_EQ(h.stratum, kMaxStratum);
    EXPECT_EQ(h.reference_id, kRefIdInit);
    EXPECT_TRUE(h.reference_time.is_zero());
}

TEST(NtpServer, LongHoldoverStopsClaimingSynchronization) {
    SplitMix64 random(8);
    NtpServer server(open_config(), random);
    // 0.020 s + 15 ppm * 100000 s = 1.52 s of root dispersion: beyond MAXDIST.
    const NtpInstant later = kEpoch2026 + from_seconds(100000);
    auto r = server.handle(request(), kClient, later, later, synced());
    auto h = *parse_header(r.bytes());
    EXPECT_EQ(h.leap, LeapIndicator::Unsynchronized);
    EXPECT_EQ(h.stratum, kMaxStratum);
}

TEST(NtpServer, AnswersOlderVersionsInKind) {
    SplitMix64 random(4);
    NtpServer server(open_config(), random);
    auto r = server.handle(request(3), kClient, kEpoch2026, kEpoch2026, synced());
    EXPECT_EQ(parse_header(r.bytes())->version, 3);
}

TEST(NtpServer, DropsAndCountsWhatItCannotAnswer) {
    SplitMix64 random(5);
    NtpServer server(open_config(), random);
    EXPECT_EQ(
        server.handle(std::vector<uint8_t>(20), kClient, kEpoch2026, kEpoch2026, synced()).decision,
        ServerDecision::Drop);
    EXPECT_EQ(server.counters().malformed, 1u);
    auto server_mode = request();
    server_mode[0] = static_cast<uint8_t>((server_mode[0] & 0xf8) | 4);
    server.handle(server_mode, kClient, kEpoch2026, kEpoch2026, synced());
    EXPECT_EQ(server.counters().wrong_mode, 1u);
    auto with_mac = request();
    with_mac.resize(48 + 20);
    server.handle(with_mac, kClient, kEpoch2026, kEpoch2026, synced());
    EXPECT_EQ(server.counters().authenticated, 1u);
    server.handle(request(), SocketAddress{IpAddress::v4(198, 51, 100, 1), 123}, kEpoch2026,
                  kEpoch2026, synced());
    EXPECT_EQ(server.counters().denied, 1u);
    EXPECT_EQ(server.counters().received, 4u);
    EXPECT_EQ(server.counters().replied, 0u);
}

TEST(NtpServer, UnknownExtensionFieldsAreIgnored) {
    SplitMix64 random(6);
    NtpServer server(open_config(), random);
    Packet p;
    p.header = *parse_header(request());
    p.extensions.push_back(ExtensionField::with_payload(0x7777, std::vector<uint8_t>(60, 1)));
    auto bytes = *serialize(p);
    auto r = server.handle(bytes, kClient, kEpoch2026, kEpoch2026, synced());
    ASSERT_EQ(r.decision, ServerDecision::Reply);
    EXPECT_EQ(r.bytes().size(), kHeaderLength);  // never larger than the request
    EXPECT_EQ(server.counters().extension_fields_ignored, 1u);
}

TEST(NtpServer, RateLimitedClientGetsOneKissThenNothing) {
    SplitMix64 random(7);
    ServerConfig config = open_config();
    RateLimitConfig limit;
    limit.burst = 2;
    limit.interval = from_seconds(16);
    config.rate_limit = limit;
    NtpServer server(config, random);
    EXPECT_EQ(server.handle(request(), kClient, kEpoch2026, kEpoch2026, synced()).decision,
              ServerDecision::Reply);
    EXPECT_EQ(server.handle(request(), kClient, kEpoch2026, kEpoch2026, synced()).decision,
              ServerDecision::Reply);
    auto kod = server.handle(request(), kClient, kEpoch2026, kEpoch2026, synced());
    ASSERT_EQ(kod.decision, ServerDecision::KissOfDeath);
    auto h = *parse_header(kod.bytes());
    EXPECT_EQ(h.stratum, 0);
    EXPECT_EQ(h.reference_id, kKissRate);
    EXPECT_EQ(h.leap, LeapIndicator::Unsynchronized);
    EXPECT_GE(h.poll, 4);  // 2^4 s = the 16 s interval
    EXPECT_EQ(h.origin_time.raw, 0x1122334455667788ULL);
    EXPECT_EQ(server.handle(request(), kClient, kEpoch2026, kEpoch2026, synced()).decision,
              ServerDecision::Drop);
    EXPECT_EQ(server.counters().rate_limited_kod, 1u);
    EXPECT_EQ(server.counters().rate_limited_dropped, 1u);
}

}  // namespace
}  // namespace nanotime::ntp
