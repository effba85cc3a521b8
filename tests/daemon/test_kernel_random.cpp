// test_kernel_random.cpp - KernelRandom draws from getrandom(2): values that
// differ from draw to draw and cover all 64 bits, and the kernel is asked
// for KernelRandom::kBufferBytes at a time, not once per draw.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

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

// A stand-in for getrandom: counts the calls and fills with a running
// counter, so the draws show which octets were handed out.
size_t fill_calls = 0;
unsigned char fill_counter = 0;
ssize_t counting_fill(void* out, size_t length, unsigned) {
    ++fill_calls;
    auto* p = static_cast<unsigned char*>(out);
    for (size_t i = 0; i < length; ++i) p[i] = fill_counter++;
    return static_cast<ssize_t>(length);
}

TEST(KernelRandom, AsksTheKernelOncePerBufferNotPerDraw) {
    fill_calls = 0;
    fill_counter = 0;
    KernelRandom random(counting_fill);
    const size_t per_fill = KernelRandom::kBufferBytes / sizeof(uint64_t);
    std::vector<uint64_t> draws;
    for (size_t i = 0; i < 2 * per_fill; ++i) draws.push_back(random.next_u64());
    // An NTS response draws 4 times: one system call per draw cost 6.5 % of
    // the server's CPU under NTS load.
    EXPECT_EQ(fill_calls, 2u);
    // Every octet the kernel gave is handed out once, in order.
    for (size_t i = 0; i < draws.size(); ++i) {
        unsigned char bytes[8];
        std::memcpy(bytes, &draws[i], sizeof bytes);
        for (size_t k = 0; k < 8; ++k) EXPECT_EQ(bytes[k], static_cast<unsigned char>(i * 8 + k));
    }
    random.next_u64();
    EXPECT_EQ(fill_calls, 3u);
}

TEST(KernelRandom, ShortReadsAreCompleted) {
    // getrandom may return fewer octets than asked (a signal, before the pool
    // is seeded): the buffer is filled to the end before any is used.
    static size_t calls = 0;
    calls = 0;
    KernelRandom random([](void* out, size_t length, unsigned) -> ssize_t {
        ++calls;
        const size_t n = length > 100 ? 100 : length;
        std::memset(out, 0xab, n);
        return static_cast<ssize_t>(n);
    });
    EXPECT_EQ(random.next_u64(), 0xababababababababu);
    EXPECT_EQ(calls, 3u);  // 100 + 100 + 56 octets
}

}  // namespace
}  // namespace nanotime::ntp
