// Selection (intersection + midpoint rule), clustering and combining with
// crafted candidates; up to (n-1)/2 falsetickers never move the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "algorithm/cluster.hpp"
#include "algorithm/combine.hpp"
#include "algorithm/selection.hpp"
#include "util/random.hpp"

namespace nanotime::ntp {
namespace {

Candidate c(size_t index, double offset, double distance, double jitter = 0.001,
            uint8_t stratum = 2) {
    return Candidate{index, offset, distance, jitter, stratum};
}

TEST(Selection, AllAgree) {
    std::vector<Candidate> cs = {c(0, 0.001, 0.01), c(1, 0.002, 0.01), c(2, -0.001, 0.01)};
    auto in = find_intersection(cs);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->allowed_falsetickers, 0u);
    EXPECT_NEAR(in->low, -0.008, 1e-12);
    EXPECT_NEAR(in->high, 0.009, 1e-12);
    EXPECT_EQ(truechimers(cs, *in).size(), 3u);
}

TEST(Selection, OneFalsetickerAmongThree) {
    std::vector<Candidate> cs = {c(0, 0.001, 0.01), c(1, 0.002, 0.01), c(2, 1.0, 0.01)};
    auto in = find_intersection(cs);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->allowed_falsetickers, 1u);
    auto t = truechimers(cs, *in);
    EXPECT_EQ(t, (std::vector<size_t>{0, 1}));
}

TEST(Selection, NoMajorityMeansNoResult) {
    std::vector<Candidate> two = {c(0, 0.0, 0.01), c(1, 1.0, 0.01)};
    EXPECT_FALSE(find_intersection(two));
    std::vector<Candidate> four = {c(0, 0.0, 0.01), c(1, 0.001, 0.01), c(2, 1.0, 0.01),
                                   c(3, 1.001, 0.01)};
    EXPECT_FALSE(find_intersection(four));
    EXPECT_FALSE(find_intersection({}));
}

TEST(Selection, MidpointRuleRejectsIntervalsWhoseMidpointsLieOutside) {
    // A wide interval overlapping both tight ones but centred far away: all
    // three intervals share [-0.001, 0.002], yet that would leave the wide
    // one's midpoint outside, so the midpoint rule counts it as a
    // falseticker and takes the two tight sources' span instead.
    std::vector<Candidate> cs = {c(0, 0.000, 0.002), c(1, 0.001, 0.002), c(2, 0.9, 1.0)};
    auto in = find_intersection(cs);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->allowed_falsetickers, 1u);
    EXPECT_NEAR(in->low, -0.002, 1e-12);
    EXPECT_NEAR(in->high, 0.003, 1e-12);
}

// Property: with n sources of which f <= (n-1)/2 lie anywhere, the
// intersection stays within the truechimers' common interval and the
// combined offset within their spread.
TEST(Selection, FalsetickersNeverMoveTheResult) {
    SplitMix64 random(7);
    for (int trial = 0; trial < 2000; ++trial) {
        const size_t n = 3 + random.uniform(8);  // 3..10
        const size_t f = random.uniform((n - 1) / 2 + 1);
        std::vector<Candidate> cs;
        double true_low = -1e9, true_high = 1e9;
        for (size_t i = 0; i < n - f; ++i) {
            const double offset = (random.unit() - 0.5) * 0.002;  // +-1 ms around 0
            const double distance = 0.005 + random.unit() * 0.01;
            true_low = std::max(true_low, offset - distance);
            true_high = std::min(true_high, offset + distance);
            cs.push_back(c(i, offset, distance, 0.0005 + random.unit() * 0.001));
        }
        for (size_t i = n - f; i < n; ++i) {
            const double sign = random.uniform(2) ? 1.0 : -1.0;
            const double offset = sign * (0.1 + random.unit() * 10);  // far away
            cs.push_back(c(i, offset, 0.001 + random.unit() * 0.01, 0.001));
        }
        auto in = find_intersection(cs);
        ASSERT_TRUE(in) << "trial " << trial;
        EXPECT_GE(in->low, true_low - 1e-12);
        EXPECT_LE(in->high, true_high + 1e-12);
        auto chimers = truechimers(cs, *in);
        for (size_t k : chimers) EXPECT_LT(cs[k].index, n - f) << "falseticker survived";
        auto clustered = cluster(cs, chimers);
        ASSERT_FALSE(clustered.survivors.empty());
        auto combined = combine(cs, clustered.survivors, clustered.survivors.front());
        EXPECT_LT(std::abs(combined.offset), 0.001 + 1e-12);
    }
}

TEST(Cluster, DropsTheOutlierUntilSpreadIsBelowPeerJitter) {
    std::vector<Candidate> cs = {c(0, 0.0000, 0.01, 0.0005), c(1, 0.0002, 0.01, 0.0005),
                                 c(2, -0.0001, 0.01, 0.0005), c(3, 0.0001, 0.01, 0.0005),
                                 c(4, 0.0080, 0.01, 0.0005)};
    auto result = cluster(cs, {0, 1, 2, 3, 4});
    EXPECT_EQ(result.outliers, (std::vector<size_t>{4}));
    EXPECT_EQ(result.survivors.size(), 4u);
}

TEST(Cluster, KeepsAtLeastNmin) {
    std::vector<Candidate> cs = {c(0, 0.0, 0.01, 1e-6), c(1, 0.01, 0.01, 1e-6),
                                 c(2, 0.02, 0.01, 1e-6)};
    auto result = cluster(cs, {0, 1, 2});
    EXPECT_EQ(result.survivors.size(), kMinCluster);
}

TEST(Cluster, OrdersByStratumThenDistance) {
    std::vector<Candidate> cs = {c(0, 0.0, 0.05, 0.01, 3), c(1, 0.0, 0.09, 0.01, 1),
                                 c(2, 0.0, 0.01, 0.01, 2)};
    auto result = cluster(cs, {0, 1, 2});
    EXPECT_EQ(result.survivors, (std::vector<size_t>{1, 2, 0}));
}

TEST(Combine, WeightsByReciprocalRootDistance) {
    std::vector<Candidate> cs = {c(0, 0.010, 0.01, 0.001), c(1, 0.040, 0.04, 0.001)};
    std::vector<size_t> survivors = {0, 1};
    auto out = combine(cs, survivors, 0);
    // weights 100 and 25: (1 + 1) / 125 = 0.016.
    EXPECT_NEAR(out.offset, 0.016, 1e-12);
    // jitter = sqrt(0.001^2 + 25 * 0.03^2 / 125)
    EXPECT_NEAR(out.jitter, std::sqrt(1e-6 + 25 * 9e-4 / 125), 1e-12);
}

}  // namespace
}  // namespace nanotime::ntp
