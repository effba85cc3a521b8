// Clock filter (RFC 5905 §10): minimum-delay choice, dispersion, jitter,
// one-use rule, popcorn spikes, aging.
#include <gtest/gtest.h>

#include <cmath>

#include "algorithm/clock_filter.hpp"

namespace nanotime::ntp {
namespace {

const NtpInstant kStart = NtpInstant::from_unix(Nanoseconds(1'700'000'000LL * kNanosPerSecond));

OnWireSample sample(double offset, double delay, double dispersion = 1e-6) {
    return OnWireSample{from_seconds(offset), from_seconds(delay), dispersion};
}

NtpInstant at(double seconds) {
    return kStart + from_seconds(seconds);
}

TEST(ClockFilter, FirstSampleIsUsedDirectly) {
    ClockFilter f;
    auto out = f.add_sample(sample(0.010, 0.020), at(0), 64);
    ASSERT_TRUE(out);
    EXPECT_DOUBLE_EQ(out->offset, 0.010);
    EXPECT_DOUBLE_EQ(out->delay, 0.020);
    // Seven empty stages of MAXDISP weighted 1/4 .. 1/256 plus the sample's 1/2.
    EXPECT_NEAR(out->dispersion, kMaxDispersion * (0.5 - 1.0 / 256) + 0.5e-6, 1e-9);
    EXPECT_EQ(f.valid_stages(), 1u);
}

TEST(ClockFilter, PicksTheLowestDelaySample) {
    ClockFilter f;
    f.add_sample(sample(0.030, 0.080), at(0), 64);
    f.add_sample(sample(0.010, 0.020), at(64), 64);
    auto out = f.add_sample(sample(0.050, 0.120), at(128), 64);
    // The best sample (delay 20 ms) was already used: no new update.
    EXPECT_FALSE(out);
    EXPECT_DOUBLE_EQ(f.statistics().offset, 0.010);
    EXPECT_EQ(f.valid_stages(), 3u);
}

TEST(ClockFilter, NoSampleFromBeforeTheLastUpdateIsUsed) {
    // W (0.5 ms) is used at once. U (1 ms) and X (2 ms) wait behind it. When
    // W shifts out (the 9th sample) U becomes the best and is used - it
    // arrived after the last update, so its offset still holds. When U
    // shifts out, X is the best: newer than U (RFC 5905 would use it) but it
    // arrived before the update made with U, so the offset it measured has
    // been corrected since. It must not reach the system.
    ClockFilter f(-30);
    const double poll = 1e9;  // keep the spike gate out of this
    EXPECT_TRUE(f.add_sample(sample(0.001, 0.0005), at(0), poll));  // W
    EXPECT_FALSE(f.add_sample(sample(0.001, 0.001), at(1), poll));  // U
    EXPECT_FALSE(f.add_sample(sample(0.001, 0.002), at(2), poll));  // X
    for (int t = 3; t < 8; ++t) EXPECT_FALSE(f.add_sample(sample(0.001, 0.010), at(t), poll));
    auto u = f.add_sample(sample(0.001, 0.010), at(8), poll);  // W shifts out
    ASSERT_TRUE(u);
    EXPECT_DOUBLE_EQ(u->delay, 0.001);
    EXPECT_EQ(u->time, at(1));
    auto x = f.add_sample(sample(0.001, 0.010), at(9), poll);  // U shifts out
    EXPECT_FALSE(x);
    EXPECT_DOUBLE_EQ(f.statistics().delay, 0.002);  // the statistics still follow
    // A sample arriving after that update is used again.
    auto fresh = f.add_sample(sample(0.001, 0.0001), at(10), poll);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->time, at(10));
}

TEST(ClockFilter, JitterIsRmsAboutTheBestSample) {
    ClockFilter f(-30);
    f.add_sample(sample(0.001, 0.010), at(0), 1e9);
    f.add_sample(sample(0.003, 0.011), at(1), 1e9);
    f.add_sample(sample(-0.001, 0.012), at(2), 1e9);
    // Best (delay 10 ms) offset 1 ms; deviations 0, 2, -2 ms over m-1 = 2.
    EXPECT_NEAR(f.statistics().jitter, std::sqrt((4e-6 + 4e-6) / 2), 1e-12);
}

TEST(ClockFilter, PopcornSpikeIsSuppressedThenAcceptedWhenPersistent) {
    ClockFilter f(-30);
    double t = 0;
    for (int i = 0; i < 8; ++i, t += 16) {
        // Equal delays: each new sample is the best and is used.
        EXPECT_TRUE(f.add_sample(sample(0.001 + (i % 2) * 1e-5, 0.010), at(t), 16));
    }
    const double before = f.statistics().offset;
    // A spike with the lowest delay yet, one poll after the last update.
    auto spike = f.add_sample(sample(0.500, 0.005), at(t), 16);
    EXPECT_FALSE(spike);
    EXPECT_DOUBLE_EQ(f.statistics().offset, before);
    // More than two polls after the last update it is accepted: a step that
    // persists is real.
    auto later = f.add_sample(sample(0.500, 0.0051), at(t + 24), 16);
    ASSERT_TRUE(later);
    EXPECT_NEAR(later->offset, 0.5, 1e-9);
}

TEST(ClockFilter, DispersionGrowsWithAgeAndTimeouts) {
    ClockFilter f;
    f.add_sample(sample(0.0, 0.010, 0.0), at(0), 64);
    const double fresh = f.stages()[0].dispersion;
    f.add_sample(sample(0.0, 0.020, 0.0), at(1000), 64);
    // The older sample aged PHI * 1000 s.
    EXPECT_NEAR(f.stages()[1].dispersion, fresh + kPhi * 1000, 1e-12);
    f.add_timeout(at(1064));
    EXPECT_FALSE(f.stages()[0].valid());
    EXPECT_EQ(f.valid_stages(), 2u);
    for (int i = 0; i < 8; ++i) f.add_timeout(at(2000 + i));
    EXPECT_EQ(f.valid_stages(), 0u);
    EXPECT_DOUBLE_EQ(f.statistics().dispersion, kMaxDispersion);
}

TEST(ClockFilter, ResetForgetsEverything) {
    ClockFilter f;
    f.add_sample(sample(0.1, 0.01), at(0), 64);
    f.reset();
    EXPECT_FALSE(f.has_statistics());
    EXPECT_EQ(f.valid_stages(), 0u);
    EXPECT_TRUE(f.add_sample(sample(0.2, 0.01), at(1), 64));
}

}  // namespace
}  // namespace nanotime::ntp
