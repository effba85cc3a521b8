// An NTS source (RFC 8915 §5.7) against the real NTS server code: NTS-KE
// asked for before any request, requests carrying the NTS fields, only the
// authenticated reply to the outstanding request accepted (a flipped byte,
// a replay, a reply to another request are not), NTSN and an empty jar
// leading back to NTS-KE, and silence too.
#include <gtest/gtest.h>

#include "../nts/nts_exchange.hpp"
#include "source/ntp_source.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::actions_of;
using testing::kEpoch2026;

constexpr int64_t kMs = 1'000'000;

SourceConfig nts_config() {
    SourceConfig c;
    c.address = SocketAddress{IpAddress::v4(192, 0, 2, 1), 4460};
    c.minpoll = 6;
    c.maxpoll = 6;
    c.iburst = false;
    c.nts_ke_port = 4460;
    return c;
}

// The server's reply to @request: the NTP header as a server would write
// it (origin = the request's transmit) with the NTS fields of @ex's server.
std::vector<uint8_t> nts_reply(nts::test::Exchange& ex, const std::vector<uint8_t>& request,
                               NtpInstant sent) {
    const auto header = testing::make_reply(request, sent + Nanoseconds(15 * kMs),
                                            sent + Nanoseconds(15 * kMs + 100'000));
    const nts::NtsRequest checked = ex.server->check(request, nts::test::kNow);
    EXPECT_EQ(checked.verdict, nts::NtsVerdict::Authentic);
    std::vector<uint8_t> out(nts::kMaxNtsPacket);
    std::array<uint8_t, kHeaderLength> h{};
    std::copy(header.begin(), header.end(), h.begin());
    auto n = ex.server->respond(checked, h, nts::test::kNow, out);
    EXPECT_TRUE(n.has_value());
    out.resize(n.has_value() ? *n : 0);
    return out;
}

// A source that went through NTS-KE with @ex's server.
struct KeyedSource {
    nts::test::Exchange ex;
    NtpSource source{1, nts_config()};
    SplitMix64 random{5};

    // @aead: what NTS-KE agreed (15 AES-SIV-CMAC-256, 30 AES-128-GCM-SIV).
    explicit KeyedSource(size_t cookies = nts::kJarCapacity,
                         uint16_t aead = static_cast<uint16_t>(nts::AeadAlgorithm::AesSivCmac256))
        : ex(cookies, aead) {
        auto client = nts::NtsClient::create(ex.keys, cookies_of(ex, cookies), random);
        const SourceActions a =
            source.set_nts(std::move(*client), {IpAddress::v4(192, 0, 2, 7), 123});
        EXPECT_EQ(actions_of<SetTimer>(a).size(), 1u) << "polls at once";
    }

    // Cookies sealed by ex's server for ex's keys (as NTS-KE hands them
    // out): with the master key's AEAD, AES-SIV, whatever the session's.
    static std::vector<std::vector<uint8_t>> cookies_of(nts::test::Exchange& ex, size_t n) {
        std::vector<std::vector<uint8_t>> jar;
        auto aead = nts::Aead::create(static_cast<uint16_t>(nts::AeadAlgorithm::AesSivCmac256));
        for (size_t i = 0; i < n; ++i) {
            std::vector<uint8_t> cookie(nts::kMaxCookieLength);
            std::array<uint8_t, nts::kCookieNonceLength> nonce{};
            nts::fill_random(ex.server_random, nonce);
            auto len = nts::seal_cookie(*aead, *ex.store->sealing_key(nts::test::kNow), nonce,
                                        *nts::SessionKeys::from(ex.keys), cookie);
            cookie.resize(*len);
            jar.push_back(cookie);
        }
        return jar;
    }

    SendRequest poll(NtpInstant now) {
        const SourceActions a = source.handle_timer(now, random);
        const auto sends = actions_of<SendRequest>(a);
        EXPECT_EQ(sends.size(), 1u);
        return sends.empty() ? SendRequest{} : sends[0];
    }
};

TEST(NtsSource, AsksForKeyExchangeOnceAndSendsNothingWithoutKeys) {
    SplitMix64 random(1);
    NtpSource source(1, nts_config());
    SourceActions a = source.handle_timer(kEpoch2026, random);
    EXPECT_EQ(actions_of<KeyExchange>(a).size(), 1u);
    EXPECT_TRUE(actions_of<SendRequest>(a).empty()) << "no unauthenticated request, ever";
    EXPECT_EQ(actions_of<SetTimer>(a).size(), 1u);
    a = source.handle_timer(kEpoch2026 + Nanoseconds(64'000 * kMs), random);
    EXPECT_TRUE(actions_of<KeyExchange>(a).empty()) << "one exchange at a time";
    EXPECT_TRUE(actions_of<SendRequest>(a).empty());
    source.nts_failed();
    a = source.handle_timer(kEpoch2026 + Nanoseconds(128'000 * kMs), random);
    EXPECT_EQ(actions_of<KeyExchange>(a).size(), 1u) << "asked again after a failure";
    EXPECT_EQ(source.counters().key_exchanges, 2u);
}

TEST(NtsSource, AuthenticatedReplyIsAcceptedAndGoesWhereNtsKeSaid) {
    KeyedSource k;
    const SendRequest req = k.poll(kEpoch2026);
    EXPECT_GT(req.packet.size(), kHeaderLength) << "the NTS fields follow the header";
    EXPECT_EQ(req.destination.ip, IpAddress::v4(192, 0, 2, 7));
    EXPECT_EQ(req.destination.port, 123);
    const auto reply = nts_reply(k.ex, req.packet, kEpoch2026);
    k.source.handle_packet(reply, req.request_id, kEpoch2026 + Nanoseconds(20 * kMs + 100'000));
    EXPECT_EQ(k.source.counters().replies_accepted, 1u);
    EXPECT_EQ(k.source.counters().nts_rejected, 0u);
    EXPECT_EQ(k.source.nts_cookies(), nts::kJarCapacity) << "the reply refilled the jar";
}

TEST(NtsSource, GcmSivSessionWorksTheSameWay) {
    KeyedSource k(nts::kJarCapacity, static_cast<uint16_t>(nts::AeadAlgorithm::Aes128GcmSiv));
    EXPECT_EQ(k.source.nts_aead(), 30);
    const NtpInstant t1 = kEpoch2026;
    const NtpInstant t4 = t1 + Nanoseconds(20 * kMs + 100'000);
    const SendRequest req = k.poll(t1);
    const auto fields = nts::parse_nts_fields(req.packet);
    ASSERT_TRUE(fields.has_value());
    EXPECT_EQ(fields->nonce.size(), 12u) << "GCM-SIV's nonce (RFC 8915 §5.6)";
    const auto reply = nts_reply(k.ex, req.packet, t1);
    for (size_t i = kHeaderLength; i < reply.size(); i += 5) {
        auto forged = reply;
        forged[i] ^= 0x01;
        k.source.handle_packet(forged, req.request_id, t4);
    }
    EXPECT_EQ(k.source.counters().replies_accepted, 0u);
    k.source.handle_packet(reply, req.request_id, t4);
    EXPECT_EQ(k.source.counters().replies_accepted, 1u);
    EXPECT_EQ(k.source.nts_cookies(), nts::kJarCapacity);
}

TEST(NtsSource, FlippedByteAndReplayAreRejectedAndTheRequestStillWaits) {
    KeyedSource k;
    EXPECT_EQ(k.source.nts_aead(), 15);
    const NtpInstant t1 = kEpoch2026;
    const NtpInstant t4 = t1 + Nanoseconds(20 * kMs + 100'000);
    const SendRequest req = k.poll(t1);
    const auto reply = nts_reply(k.ex, req.packet, t1);
    for (size_t i = kHeaderLength; i < reply.size(); i += 7) {
        auto forged = reply;
        forged[i] ^= 0x01;
        k.source.handle_packet(forged, req.request_id, t4);
    }
    auto forged_header = reply;
    forged_header[40] ^= 0x80;  // the transmit timestamp: covered by the authenticator
    k.source.handle_packet(forged_header, req.request_id, t4);
    EXPECT_EQ(k.source.counters().replies_accepted, 0u);
    EXPECT_GT(k.source.counters().nts_rejected, 10u);
    // The genuine reply still finds its request.
    k.source.handle_packet(reply, req.request_id, t4);
    EXPECT_EQ(k.source.counters().replies_accepted, 1u);
    // Played again, it is refused.
    const uint64_t rejected = k.source.counters().nts_rejected;
    k.source.handle_packet(reply, req.request_id, t4 + Nanoseconds(kMs));
    EXPECT_EQ(k.source.counters().replies_accepted, 1u);
    EXPECT_EQ(k.source.counters().nts_rejected, rejected + 1);
    // And so is an old reply to the next request.
    const NtpInstant t1b = t1 + Nanoseconds(64'000 * kMs);
    const SendRequest req2 = k.poll(t1b);
    k.source.handle_packet(reply, req2.request_id, t1b + Nanoseconds(20 * kMs));
    EXPECT_EQ(k.source.counters().replies_accepted, 1u);
    EXPECT_EQ(k.source.counters().nts_rejected, rejected + 2);
}

TEST(NtsSource, NtsnLeadsBackToKeyExchange) {
    KeyedSource k;
    const SendRequest req = k.poll(kEpoch2026);
    // A server that lost its keys: a store without the key of our cookie.
    SplitMix64 other_random(99);
    auto other_store = std::make_shared<nts::KeyStore>();
    other_store->rotate(nts::test::kNow, other_random);
    auto other = nts::NtsServer::create(other_store, other_random);
    const nts::NtsRequest checked = other->check(req.packet, nts::test::kNow);
    ASSERT_EQ(checked.verdict, nts::NtsVerdict::Nak);
    std::vector<uint8_t> nak(nts::kMaxNtsPacket);
    auto n =
        other->respond(checked, nts::test::nak_header(req.packet.data()), nts::test::kNow, nak);
    ASSERT_TRUE(n.has_value());
    nak.resize(*n);
    ASSERT_FALSE(nak.empty());
    const SourceActions a =
        k.source.handle_packet(nak, req.request_id, kEpoch2026 + Nanoseconds(kMs));
    EXPECT_EQ(k.source.counters().nts_naks, 1u);
    EXPECT_EQ(actions_of<KeyExchange>(a).size(), 1u);
    EXPECT_FALSE(k.source.nts_ready());
    const SourceActions next =
        k.source.handle_timer(kEpoch2026 + Nanoseconds(64'000 * kMs), k.random);
    EXPECT_TRUE(actions_of<SendRequest>(next).empty()) << "no request on keys the server refused";
}

TEST(NtsSource, EmptyJarLeadsBackToKeyExchange) {
    KeyedSource k(1);
    k.poll(kEpoch2026);  // the only cookie goes; no reply comes back
    const SourceActions a = k.source.handle_timer(kEpoch2026 + Nanoseconds(64'000 * kMs), k.random);
    EXPECT_EQ(actions_of<KeyExchange>(a).size(), 1u);
    EXPECT_TRUE(actions_of<SendRequest>(a).empty()) << "a cookie is never sent twice";
}

TEST(NtsSource, SilenceLeadsToKeyExchangeWhileStillPolling) {
    KeyedSource k;
    NtpInstant t = kEpoch2026;
    unsigned exchanges = 0, sends = 0;
    for (unsigned i = 0; i < kNtsRekeyPolls + 1; ++i, t = t + Nanoseconds(64'000 * kMs)) {
        const SourceActions a = k.source.handle_timer(t, k.random);
        exchanges += actions_of<KeyExchange>(a).size();
        sends += actions_of<SendRequest>(a).size();
    }
    EXPECT_EQ(exchanges, 1u) << "after " << kNtsRekeyPolls << " unanswered polls";
    EXPECT_EQ(sends, kNtsRekeyPolls + 1) << "the cookies in hand are still used meanwhile";
}

}  // namespace
}  // namespace nanotime::ntp
