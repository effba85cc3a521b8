// Unit tests of the statistics on known vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "stats.hpp"

using namespace nksim;

TEST(Stats, KnownVector) {
    const std::vector<double> x = {3.0, -4.0, 0.0, 1.0, -1.0};
    const Summary s = summarize(x);
    EXPECT_EQ(s.n, 5u);
    EXPECT_DOUBLE_EQ(s.mean, -0.2);
    EXPECT_DOUBLE_EQ(s.rms, std::sqrt(27.0 / 5.0));
    EXPECT_DOUBLE_EQ(s.max_abs, 4.0);
    EXPECT_DOUBLE_EQ(s.p99_abs, 4.0);
    EXPECT_NEAR(s.std, std::sqrt(27.0 / 5.0 - 0.04), 1e-12);
}

TEST(Stats, Empty) {
    const Summary s = summarize({});
    EXPECT_EQ(s.n, 0u);
    EXPECT_EQ(s.rms, 0.0);
}

TEST(Stats, PercentileNearestRank) {
    std::vector<double> x;
    for (int i = 1; i <= 1000; ++i) x.push_back(i % 2 ? i : -i);  // |x| = 1..1000
    EXPECT_DOUBLE_EQ(percentile_abs(x, 99.0), 990.0);
    EXPECT_DOUBLE_EQ(percentile_abs(x, 50.0), 500.0);
    EXPECT_DOUBLE_EQ(percentile_abs(x, 100.0), 1000.0);
    EXPECT_DOUBLE_EQ(percentile_abs(x, 0.0), 1.0);
}

TEST(Stats, ConvergeFirstTimeBelowAndStays) {
    const std::vector<double> t = {0, 1, 2, 3, 4, 5, 6};
    const std::vector<double> e = {100, 5, 50, 5, -5, 2, 1};
    // Below 10 at t=1, but 50 at t=2: converged at 3.
    EXPECT_EQ(converge_time(t, e, 10.0), 3.0);
    // Threshold is strict.
    EXPECT_EQ(converge_time(t, e, 5.0), 5.0);
    // Never if the last sample is above.
    const std::vector<double> e2 = {1, 1, 1, 1, 1, 1, 20};
    EXPECT_FALSE(converge_time(t, e2, 10.0));
    // Already converged.
    EXPECT_EQ(converge_time(t, e2, 100.0), 0.0);
}

TEST(Stats, ConvergeCountedFromAnEvent) {
    const std::vector<double> t = {0, 1, 2, 3, 4, 5, 6};
    const std::vector<double> e = {100, 1, 1, 30, 20, 2, 1};
    // Recovery after an event at t=2.5: last violation at 4, recovered at 5.
    EXPECT_EQ(converge_time(t, e, 10.0, 2.5), 2.5);
    // Event after the last violation: recovery is immediate (first sample after it).
    EXPECT_EQ(converge_time(t, e, 10.0, 4.5), 0.5);
}

TEST(Stats, FirstBelow) {
    const std::vector<double> t = {0, 1, 2, 3};
    const std::vector<double> e = {100, 5, 50, 5};
    EXPECT_EQ(first_below(t, e, 10.0), 1.0);
    EXPECT_EQ(first_below(t, e, 10.0, 1.5), 1.5);
    EXPECT_FALSE(first_below(t, e, 1.0));
}
