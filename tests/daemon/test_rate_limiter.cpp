#include <gtest/gtest.h>

#include "server/rate_limiter.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::kEpoch2026;

RateLimitConfig config() {
    RateLimitConfig c;
    c.interval = from_seconds(2);
    c.burst = 4;
    c.kod_interval = from_seconds(8);
    c.memory_bytes = 64 * 1024;
    return c;
}

TEST(RateLimiter, BurstThenKodThenDrop) {
    SplitMix64 random(1);
    RateLimiter limiter(config(), random);
    const IpAddress client = IpAddress::v4(203, 0, 113, 9);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.check(client, kEpoch2026), RateDecision::Allow);
    EXPECT_EQ(limiter.check(client, kEpoch2026), RateDecision::KissOfDeath);
    EXPECT_EQ(limiter.check(client, kEpoch2026), RateDecision::Drop);
    EXPECT_EQ(limiter.check(client, kEpoch2026 + from_seconds(1)), RateDecision::Drop);
    // One token per 2 s.
    EXPECT_EQ(limiter.check(client, kEpoch2026 + from_seconds(3)), RateDecision::Allow);
    EXPECT_EQ(limiter.check(client, kEpoch2026 + from_seconds(3)), RateDecision::Drop);
    // Another KoD only after kod_interval.
    // (0.5 tokens left at 3 s, plus 5.5 s / 2 s = 3.25 at 8.5 s.)
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(limiter.check(client, kEpoch2026 + from_seconds(8.5)), RateDecision::Allow);
    }
    EXPECT_EQ(limiter.check(client, kEpoch2026 + from_seconds(8.5)), RateDecision::KissOfDeath);
    // Other clients are unaffected.
    EXPECT_EQ(limiter.check(IpAddress::v4(203, 0, 113, 10), kEpoch2026), RateDecision::Allow);
}

TEST(RateLimiter, ClientPollingAtTheIntervalIsNeverLimited) {
    SplitMix64 random(2);
    RateLimiter limiter(config(), random);
    const IpAddress client = IpAddress::v4(203, 0, 113, 9);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(limiter.check(client, kEpoch2026 + from_seconds(2.0 * i)), RateDecision::Allow);
    }
}

TEST(RateLimiter, Ipv6ClientsAreGroupedByPrefix) {
    SplitMix64 random(3);
    RateLimiter limiter(config(), random);
    for (int i = 0; i < 4; ++i) {
        auto a = *IpAddress::parse("2001:db8:1:2::1");
        a.bytes[15] = static_cast<uint8_t>(i);  // rotating the interface ID does not help
        EXPECT_EQ(limiter.check(a, kEpoch2026), RateDecision::Allow);
    }
    EXPECT_EQ(limiter.check(*IpAddress::parse("2001:db8:1:2::ffff"), kEpoch2026),
              RateDecision::KissOfDeath);
    EXPECT_EQ(limiter.check(*IpAddress::parse("2001:db8:1:3::1"), kEpoch2026), RateDecision::Allow);
}

TEST(RateLimiter, TableIsBoundedAndEvictsOldest) {
    SplitMix64 random(4);
    RateLimitConfig c = config();
    c.memory_bytes = 16 * 1024;
    RateLimiter limiter(c, random);
    const size_t capacity = limiter.capacity();
    EXPECT_GE(capacity, RateLimiter::kWays);
    EXPECT_LE(capacity * 64, c.memory_bytes * 2);  // roughly within budget
    NtpInstant now = kEpoch2026;
    for (uint32_t i = 0; i < 100'000; ++i) {
        const IpAddress a = IpAddress::v4(10, static_cast<uint8_t>(i >> 16),
                                          static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
        limiter.check(a, now);
        now += Nanoseconds(1000);
    }
    EXPECT_LE(limiter.tracked_clients(), capacity);
    EXPECT_GT(limiter.evictions(), 0u);
}

// chronyc clients: each request counted once, as what was done with it.
TEST(RateLimiter, CountsEachClientsRequestsDropsAndKods) {
    SplitMix64 random(5);
    RateLimiter limiter(config(), random);  // burst 4, KoD at most every 8 s
    const IpAddress flooder = IpAddress::v4(203, 0, 113, 9);
    const IpAddress polite = IpAddress::v4(203, 0, 113, 10);
    // 4 allowed, 1 KoD, 5 dropped (the KoD interval has not passed).
    for (int i = 0; i < 10; ++i) limiter.check(flooder, kEpoch2026);
    // After kod_interval: 4 tokens back (8 s / 2 s), then one more KoD.
    for (int i = 0; i < 5; ++i) limiter.check(flooder, kEpoch2026 + from_seconds(8));
    limiter.check(polite, kEpoch2026 + from_seconds(1));
    limiter.check(polite, kEpoch2026 + from_seconds(9), /*nts=*/true);
    limiter.count_interleaved(polite);
    limiter.count_interleaved(IpAddress::v4(198, 51, 100, 1));  // not held: ignored

    const std::vector<RateLimitedClient> rows = limiter.clients(10);
    ASSERT_EQ(rows.size(), 2u);
    // Most recently seen first.
    EXPECT_EQ(rows[0].client, polite);
    EXPECT_EQ(rows[0].last_seen, kEpoch2026 + from_seconds(9));
    EXPECT_EQ(rows[0].requests, 2u);
    EXPECT_EQ(rows[0].nts, 1u);
    EXPECT_EQ(rows[0].interleaved, 1u);
    EXPECT_EQ(rows[0].drops, 0u);
    EXPECT_EQ(rows[0].kods, 0u);
    EXPECT_EQ(rows[1].client, flooder);
    EXPECT_EQ(rows[1].last_seen, kEpoch2026 + from_seconds(8));
    EXPECT_EQ(rows[1].requests, 15u);
    EXPECT_EQ(rows[1].kods, 2u);
    EXPECT_EQ(rows[1].drops, 5u);
    EXPECT_EQ(rows[1].nts, 0u);
}

// An NTS request over the limit is dropped, never KoD'd (unauthenticated),
// and counted as a drop.
TEST(RateLimiter, NtsRequestsOverTheLimitAreDroppedNotKissed) {
    SplitMix64 random(6);
    RateLimiter limiter(config(), random);
    const IpAddress client = IpAddress::v4(203, 0, 113, 9);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(limiter.check(client, kEpoch2026, true), RateDecision::Allow);
    EXPECT_EQ(limiter.check(client, kEpoch2026, true), RateDecision::Drop);
    // A plain request still gets its KoD: the NTS drop sent none.
    EXPECT_EQ(limiter.check(client, kEpoch2026), RateDecision::KissOfDeath);
    const auto rows = limiter.clients(1);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].requests, 6u);
    EXPECT_EQ(rows[0].nts, 5u);
    EXPECT_EQ(rows[0].drops, 1u);
    EXPECT_EQ(rows[0].kods, 1u);
}

TEST(RateLimiter, ClientListIsCappedToTheMostRecentAndResetZeroesCounters) {
    SplitMix64 random(7);
    RateLimiter limiter(config(), random);
    for (uint8_t i = 1; i <= 20; ++i)
        limiter.check(IpAddress::v4(192, 0, 2, i), kEpoch2026 + from_seconds(i));
    const auto rows = limiter.clients(3);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].client, IpAddress::v4(192, 0, 2, 20));
    EXPECT_EQ(rows[1].client, IpAddress::v4(192, 0, 2, 19));
    EXPECT_EQ(rows[2].client, IpAddress::v4(192, 0, 2, 18));
    EXPECT_EQ(limiter.clients(100).size(), 20u);

    limiter.reset_counters();
    for (const RateLimitedClient& r : limiter.clients(100)) EXPECT_EQ(r.requests, 0u);
    // The limiting state is kept: tokens were not refilled by the reset.
    const IpAddress c = IpAddress::v4(192, 0, 2, 20);
    for (int i = 0; i < 3; ++i) limiter.check(c, kEpoch2026 + from_seconds(20));
    EXPECT_EQ(limiter.check(c, kEpoch2026 + from_seconds(20)), RateDecision::KissOfDeath);
    EXPECT_EQ(limiter.clients(1)[0].requests, 4u);
}

}  // namespace
}  // namespace nanotime::ntp
