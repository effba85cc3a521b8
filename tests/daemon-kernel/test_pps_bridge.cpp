// The PPS bridge's decisions: which edges read from /dev/ppsN are injected
// and when the device is read next.
#include <gtest/gtest.h>

#include "kernel/pps_bridge.hpp"

namespace nanotime::kernel {
namespace {

timespec at(int64_t ns) {
    return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'800'000'000LL * kSec;  // an edge on a whole second

TEST(PpsBridgeCore, InjectsEachNewEdgeOnce) {
    PpsBridgeCore core;
    auto s = core.on_fetch({1, at(kT0 + 300)}, at(kT0 + 20'000'000));
    ASSERT_TRUE(s);
    EXPECT_EQ(timespec_diff_ns(*s, at(kT0 + 300)), 0);
    core.on_inject_result(0, "");
    // Same sequence again: nothing new.
    EXPECT_FALSE(core.on_fetch({1, at(kT0 + 300)}, at(kT0 + 120'000'000)));
    auto s2 = core.on_fetch({2, at(kT0 + kSec - 150)}, at(kT0 + kSec + 20'000'000));
    ASSERT_TRUE(s2);
    core.on_inject_result(0, "");
    EXPECT_EQ(core.counters().edges, 2u);
    EXPECT_EQ(core.counters().injected, 2u);
    EXPECT_EQ(core.counters().fetches, 3u);
    ASSERT_TRUE(core.last_injected());
    EXPECT_EQ(timespec_diff_ns(*core.last_injected(), at(kT0 + kSec - 150)), 0);
}

TEST(PpsBridgeCore, NoEdgeYetMeansNothingToInject) {
    PpsBridgeCore core;
    EXPECT_FALSE(core.on_fetch({0, at(0)}, at(kT0)));
    EXPECT_EQ(core.counters().edges, 0u);
    EXPECT_FALSE(core.signal(at(kT0)));
    EXPECT_EQ(core.next_fetch_delay_ns(at(kT0)), PpsBridgeCore::kSearchPeriodNs);
}

TEST(PpsBridgeCore, CountsMissedSequenceNumbersAcrossWrap) {
    PpsBridgeCore core;
    ASSERT_TRUE(core.on_fetch({0xfffffffeu, at(kT0)}, at(kT0 + 10'000'000)));
    core.on_inject_result(0, "");
    // 0xffffffff and 0 were skipped; 1 is read.
    ASSERT_TRUE(core.on_fetch({1, at(kT0 + 3 * kSec)}, at(kT0 + 3 * kSec + 10'000'000)));
    EXPECT_EQ(core.counters().missed, 2u);
}

TEST(PpsBridgeCore, StaleFutureAndBackwardStampsAreNotInjected) {
    PpsBridgeCore core;
    // Read 1.6 s after the edge: the kernel would still take it (2 s) but
    // the margin for a late inject says no.
    EXPECT_FALSE(core.on_fetch({1, at(kT0)}, at(kT0 + 1'600'000'000)));
    EXPECT_EQ(core.counters().stale, 1u);
    // A stamp after the time it was read (CLOCK_REALTIME stepped back).
    EXPECT_FALSE(core.on_fetch({2, at(kT0 + 5 * kSec)}, at(kT0 + 4 * kSec)));
    EXPECT_EQ(core.counters().future, 1u);
    // Inject one, then a new sequence whose stamp is not later.
    ASSERT_TRUE(core.on_fetch({3, at(kT0 + 6 * kSec)}, at(kT0 + 6 * kSec + 1000)));
    core.on_inject_result(0, "");
    EXPECT_FALSE(core.on_fetch({4, at(kT0 + 6 * kSec)}, at(kT0 + 6 * kSec + 5000)));
    EXPECT_EQ(core.counters().not_after_previous, 1u);
    EXPECT_EQ(core.counters().injected, 1u);
}

TEST(PpsBridgeCore, KernelRefusalIsCountedAndDoesNotAdvance) {
    PpsBridgeCore core;
    ASSERT_TRUE(core.on_fetch({1, at(kT0)}, at(kT0 + 1000)));
    core.on_inject_result(-22, "not a bridge source");
    EXPECT_EQ(core.counters().inject_errors, 1u);
    EXPECT_EQ(core.last_error(), "not a bridge source");
    EXPECT_FALSE(core.last_injected());
    // The next edge is still offered.
    EXPECT_TRUE(core.on_fetch({2, at(kT0 + kSec)}, at(kT0 + kSec + 1000)));
}

TEST(PpsBridgeCore, WakesJustAfterTheNextEdgeIsDue) {
    PpsBridgeCore core;
    ASSERT_TRUE(core.on_fetch({1, at(kT0 + 500)}, at(kT0 + 30'000'000)));
    core.on_inject_result(0, "");
    // Due at kT0 + 1 s + 500 ns; asked back kFetchLag after that.
    EXPECT_EQ(core.next_fetch_delay_ns(at(kT0 + 30'000'000)),
              kSec + 500 - 30'000'000 + PpsBridgeCore::kFetchLagNs);
    // Late edge: search every kSearchPeriod.
    EXPECT_EQ(core.next_fetch_delay_ns(at(kT0 + kSec + 50'000'000)),
              PpsBridgeCore::kSearchPeriodNs);
    EXPECT_TRUE(core.signal(at(kT0 + kSec + 50'000'000)));
    // Gone for more than 2 s: look less often, signal lost.
    EXPECT_EQ(core.next_fetch_delay_ns(at(kT0 + 3 * kSec)), PpsBridgeCore::kLostPeriodNs);
    EXPECT_FALSE(core.signal(at(kT0 + 3 * kSec)));
}

TEST(PpsBridgeCore, OffsetIsSubtractedBeforeTheChecks) {
    PpsBridgeCore core(1'500);  // the edge arrives 1.5 us late
    auto s = core.on_fetch({1, at(kT0 + 1'000)}, at(kT0 + 20'000'000));
    ASSERT_TRUE(s);
    EXPECT_EQ(timespec_diff_ns(*s, at(kT0 - 500)), 0);  // borrows from the second
    EXPECT_EQ(s->tv_nsec, 999'999'500);
    // An early device (negative offset) can push a fresh stamp into the future.
    PpsBridgeCore early(-5'000'000);
    EXPECT_FALSE(early.on_fetch({1, at(kT0)}, at(kT0 + 1'000'000)));
    EXPECT_EQ(early.counters().future, 1u);
}

TEST(PpsBridgeCore, FetchErrorsAreCounted) {
    PpsBridgeCore core;
    core.on_fetch_error("/dev/pps1: No such device");
    EXPECT_EQ(core.counters().fetch_errors, 1u);
    EXPECT_EQ(core.last_error(), "/dev/pps1: No such device");
}

}  // namespace
}  // namespace nanotime::kernel
