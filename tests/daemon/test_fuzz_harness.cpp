// The fuzz_packet client harness reaches the whole response path: a valid
// server reply from the seed corpus, whatever its origin timestamp, is
// accepted as a sample once per poll (its duplicate and the unpatched bytes
// are refused by TEST1 and TEST2), so the fuzzer explores what lies past the
// cookie check instead of stopping at it.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "packet_client_harness.hpp"

namespace nanotime::ntp {
namespace {

std::vector<uint8_t> seed(const char* name) {
    std::ifstream in(std::string(NANOTIME_SOURCE_DIR "/tests/fuzz/corpus/packet/") + name,
                     std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzPacketHarness, ValidReplyPassesTheCookieCheck) {
    const std::vector<uint8_t> reply = seed("server_reply.bin");
    ASSERT_EQ(reply.size(), 48u);
    SplitMix64 random(7);
    const SourceCounters c = fuzzing::deliver_as_replies(reply, random, 3);
    EXPECT_EQ(c.replies_accepted, 3u);
    EXPECT_EQ(c.bogus, 3u);      // the bytes as fuzzed: TEST2
    EXPECT_EQ(c.duplicate, 3u);  // the patched bytes again: TEST1
}

TEST(FuzzPacketHarness, KissOfDeathIsReached) {
    const std::vector<uint8_t> kiss = seed("kod_rate.bin");
    SplitMix64 random(7);
    EXPECT_GE(fuzzing::deliver_as_replies(kiss, random, 3).kiss_rate, 1u);
}

}  // namespace
}  // namespace nanotime::ntp
