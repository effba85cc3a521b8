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

}  // namespace
}  // namespace nanotime::ntp
