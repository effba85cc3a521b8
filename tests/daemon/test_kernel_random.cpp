// test_kernel_random.cpp - KernelRandom draws from getrandom(2): values that
// differ from draw to draw and cover all 64 bits.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "util/kernel_random.hpp"

namespace nanotime::ntp {
namespace {

TEST(KernelRandom, DrawsDifferAndCoverEveryBit) {
    KernelRandom random;
    std::set<uint64_t> seen;
    uint64_t ones = 0, zeros = 0;
    for (int i = 0; i < 64; ++i) {
        const uint64_t v = random.next_u64();
        seen.insert(v);
        ones |= v;
        zeros |= ~v;
    }
    EXPECT_EQ(seen.size(), 64u);  // a repeat among 64 draws: p ~ 1e-16
    EXPECT_EQ(ones, ~uint64_t{0});
    EXPECT_EQ(zeros, ~uint64_t{0});
}

TEST(KernelRandom, UniformStaysInRange) {
    KernelRandom random;
    for (int i = 0; i < 1000; ++i) EXPECT_LT(random.uniform(7), 7u);
}

}  // namespace
}  // namespace nanotime::ntp
