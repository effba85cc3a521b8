// Server: closed by default, ACL, replies from system state, KoD, counters,
// unknown extension fields ignored, malformed input dropped, interleaved
// basic mode.
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
    // Within 2^-32 s: the low bit marks receive fields (set) and transmit
    // fields (clear), for interleaved mode.
    EXPECT_EQ(h.receive_time.raw, rx.to_timestamp().raw | 1);
    EXPECT_EQ(h.transmit_time.raw, tx.to_timestamp().raw & ~uint64_t{1});
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

namespace nanotime::ntp {
namespace {

// A client in interleaved mode, as chrony's: its first request is basic
// (origin zero); later ones carry the server's last receive field as origin
// and its own receive time of that reply as receive field.
struct InterleavedClient {
    NtpTimestamp last_server_rx;  // receive field of the last reply
    NtpTimestamp last_local_rx;   // when that reply arrived here
    uint64_t transmit_cookie = 0x5000000000000000ULL;

    std::vector<uint8_t> next_request() {
        NtpHeader h;
        h.mode = Mode::Client;
        h.poll = 4;
        h.origin_time = last_server_rx;
        h.receive_time = last_local_rx;
        h.transmit_time = NtpTimestamp{transmit_cookie += 0x100};
        const auto b = serialize_header(h);
        return {b.begin(), b.end()};
    }
    NtpHeader take(const ServerResponse& r, NtpInstant local_rx) {
        const NtpHeader h = parse_packet(r.bytes())->header;
        last_server_rx = h.receive_time;
        last_local_rx = local_rx.to_timestamp();
        return h;
    }
};

TEST(NtpServerInterleaved, ThirdReplyCarriesTheKernelStampOfTheSecond) {
    SplitMix64 random(11);
    NtpServer server(open_config(), random);
    InterleavedClient client;
    const NtpInstant t0 = kEpoch2026;

    // 1: origin zero, basic; nothing remembered, no stamp wanted.
    auto r1 = server.handle(client.next_request(), kClient, t0, t0 + Nanoseconds(5000), synced());
    EXPECT_FALSE(r1.interleaved);
    EXPECT_FALSE(r1.wants_tx_stamp);
    client.take(r1, t0 + Nanoseconds(100'000));
    EXPECT_EQ(server.interleaved_table()->tracked(), 0u);

    // 2: names reply 1's receive field, which was not remembered: basic,
    // but this reply is remembered and wants its kernel stamp.
    const NtpInstant t2 = t0 + from_seconds(16);
    const auto q2 = client.next_request();
    auto r2 = server.handle(q2, kClient, t2, t2 + Nanoseconds(5000), synced());
    EXPECT_FALSE(r2.interleaved);
    ASSERT_TRUE(r2.wants_tx_stamp);
    const NtpHeader h2 = client.take(r2, t2 + Nanoseconds(100'000));
    EXPECT_EQ(h2.origin_time, parse_header(q2)->transmit_time);  // basic: origin = transmit
    EXPECT_EQ(r2.receive_field, h2.receive_time);
    const NtpInstant kernel_tx2 = t2 + Nanoseconds(7000);
    server.transmitted(kClient.ip, r2.receive_field, kernel_tx2, StampSource::Kernel);
    EXPECT_EQ(server.counters().tx_stamps, 1u);

    // 3: interleaved: origin = the request's receive field, transmit = the
    // kernel's stamp of reply 2, receive = this request's arrival.
    const NtpInstant t3 = t2 + from_seconds(16);
    const auto q3 = client.next_request();
    auto r3 = server.handle(q3, kClient, t3, t3 + Nanoseconds(5000), synced());
    ASSERT_TRUE(r3.interleaved);
    EXPECT_EQ(r3.transmit_source, StampSource::Kernel);
    EXPECT_TRUE(r3.wants_tx_stamp);
    const NtpHeader h3 = parse_packet(r3.bytes())->header;
    EXPECT_EQ(h3.origin_time, parse_header(q3)->receive_time);
    EXPECT_EQ(h3.transmit_time.raw, kernel_tx2.to_timestamp().raw & ~uint64_t{1});
    EXPECT_EQ(h3.receive_time.raw, t3.to_timestamp().raw | 1);
    EXPECT_EQ(server.counters().interleaved, 1u);
    EXPECT_EQ(server.counters().replied, 3u);

    // The same request again (a replay, or a retransmission): the entry was
    // used, so the answer is basic.
    auto again = server.handle(q3, kClient, t3 + from_seconds(1), t3 + from_seconds(1), synced());
    EXPECT_FALSE(again.interleaved);
}

TEST(NtpServerInterleaved, WithoutAKernelStampTheDaemonReadingIsSent) {
    SplitMix64 random(12);
    ServerConfig config = open_config();
    config.rate_limit = RateLimitConfig{};  // counts the client (nanotimectl clients)
    NtpServer server(config, random);
    InterleavedClient client;
    client.last_server_rx = NtpTimestamp{0x0000000100000001ULL};  // unknown, marked
    client.last_local_rx = NtpTimestamp{0x0000000100000100ULL};
    const NtpInstant t0 = kEpoch2026;
    const NtpInstant daemon_tx = t0 + Nanoseconds(5000);
    client.take(server.handle(client.next_request(), kClient, t0, daemon_tx, synced()), t0);
    auto r = server.handle(client.next_request(), kClient, t0 + from_seconds(2),
                           t0 + from_seconds(2), synced());
    ASSERT_TRUE(r.interleaved);
    EXPECT_EQ(r.transmit_source, StampSource::Daemon);
    EXPECT_EQ(parse_packet(r.bytes())->header.transmit_time.raw,
              daemon_tx.to_timestamp().raw & ~uint64_t{1});
    const auto clients = server.rate_limiter()->clients(1);
    ASSERT_EQ(clients.size(), 1u);
    EXPECT_EQ(clients[0].requests, 2u);
    EXPECT_EQ(clients[0].interleaved, 1u);
}

TEST(NtpServerInterleaved, BasicRequestsAreNeitherRememberedNorStamped) {
    SplitMix64 random(13);
    NtpServer server(open_config(), random);
    // Basic mode: origin is our transmit field (low bit clear) or zero, or
    // the receive field equals the transmit field.
    NtpHeader h;
    h.mode = Mode::Client;
    h.origin_time = NtpTimestamp{0x1234567800000000ULL};
    h.receive_time = NtpTimestamp{0x1234567800000001ULL};
    h.transmit_time = NtpTimestamp{0x1234567800000002ULL};
    for (int i = 0; i < 3; ++i) {
        const auto b = serialize_header(h);
        auto r = server.handle(b, kClient, kEpoch2026, kEpoch2026, synced());
        EXPECT_FALSE(r.wants_tx_stamp);
        EXPECT_FALSE(r.interleaved);
        h.origin_time = NtpTimestamp{0x1234567800000003ULL};
        h.receive_time = h.transmit_time;  // equal: basic
    }
    h.version = 3;  // NTPv3: never interleaved
    h.receive_time = NtpTimestamp{0x99};
    const auto b = serialize_header(h);
    EXPECT_FALSE(server.handle(b, kClient, kEpoch2026, kEpoch2026, synced()).wants_tx_stamp);
    EXPECT_EQ(server.interleaved_table()->tracked(), 0u);
}

TEST(NtpServerInterleaved, AnotherClientCannotTakeTheEntry) {
    SplitMix64 random(14);
    NtpServer server(open_config(), random);
    InterleavedClient client;
    client.last_server_rx = NtpTimestamp{0x0000000100000001ULL};
    client.last_local_rx = NtpTimestamp{0x0000000100000100ULL};
    client.take(server.handle(client.next_request(), kClient, kEpoch2026, kEpoch2026, synced()),
                kEpoch2026);
    const SocketAddress other{IpAddress::v4(192, 0, 2, 51), 40000};
    const auto q = client.next_request();
    EXPECT_FALSE(server.handle(q, other, kEpoch2026, kEpoch2026, synced()).interleaved);
    EXPECT_TRUE(server.handle(q, kClient, kEpoch2026, kEpoch2026, synced()).interleaved);
}

TEST(NtpServerInterleaved, OffByConfiguration) {
    SplitMix64 random(15);
    ServerConfig c = open_config();
    c.interleaved = false;
    NtpServer server(c, random);
    EXPECT_EQ(server.interleaved_table(), nullptr);
    InterleavedClient client;
    client.last_server_rx = NtpTimestamp{0x0000000100000001ULL};
    client.last_local_rx = NtpTimestamp{0x0000000100000100ULL};
    EXPECT_FALSE(server.handle(client.next_request(), kClient, kEpoch2026, kEpoch2026, synced())
                     .wants_tx_stamp);
}

TEST(InterleavedTable, BoundedEvictsOldestAndRejectsFarStamps) {
    SplitMix64 random(16);
    InterleavedTable table(4096, random);
    const size_t capacity = table.capacity();
    EXPECT_LE(capacity * 40, 4096u * 2);  // the budget, within a power of two
    for (uint64_t i = 0; i < capacity * 4; ++i) {
        table.save(kClient.ip, NtpTimestamp{(i << 1) | 1},
                   kEpoch2026 + Nanoseconds(static_cast<int64_t>(i)));
    }
    EXPECT_EQ(table.tracked(), capacity);
    EXPECT_GE(table.evictions(), capacity * 3);
    // The newest survive: a full bucket gives up its oldest way.
    const NtpTimestamp newest{((capacity * 4 - 1) << 1) | 1};
    const NtpInstant at = kEpoch2026 + Nanoseconds(static_cast<int64_t>(capacity * 4 - 1));
    EXPECT_FALSE(
        table.update_transmit(kClient.ip, newest, at + from_seconds(2), StampSource::Kernel));
    EXPECT_TRUE(
        table.update_transmit(kClient.ip, newest, at + Nanoseconds(900), StampSource::Kernel));
    const auto taken = table.take(kClient.ip, newest);
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->transmit, at + Nanoseconds(900));
    EXPECT_EQ(taken->source, StampSource::Kernel);
    EXPECT_FALSE(table.take(kClient.ip, newest));
}

}  // namespace
}  // namespace nanotime::ntp
