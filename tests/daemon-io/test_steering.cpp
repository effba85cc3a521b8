// CLOCK_REALTIME steering (clock.steer_realtime): offset measurement between
// two clocks and the servo loop, on simulated clocks.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "io/steering.hpp"

namespace nanotime::io {
namespace {

// Simulated time shared by both clocks, in ns; every clock read takes 50 ns.
struct World {
    int64_t true_ns = 1'700'000'000LL * 1'000'000'000;
};

timespec ts_of(int64_t ns) {
    return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

// A clock running at (1 + (error + correction) * 1e-9) of true time.
class SimClock final : public ClockBackend {
  public:
    SimClock(World& w, double error_ppb, int64_t offset_ns) : w_(w), error_ppb_(error_ppb) {
        base_true_ = w.true_ns;
        base_local_ = w.true_ns + offset_ns;
        state_.status = STA_UNSYNC | STA_PLL;
    }
    std::string name() const override { return "sim"; }
    timespec now() const override {
        w_.true_ns += 50;
        return ts_of(local());
    }
    int adjust(timex& tx) override {
        if (tx.modes == 0) {
            tx = state_;
            return TIME_OK;
        }
        ++adjustments;
        if (tx.modes & (ADJ_FREQUENCY | ADJ_TICK)) rebase();
        if (tx.modes & ADJ_FREQUENCY) state_.freq = tx.freq;
        if (tx.modes & ADJ_TICK) state_.tick = tx.tick;
        if (tx.modes & ADJ_STATUS) state_.status = tx.status;
        if (tx.modes & ADJ_SETOFFSET) {
            const int64_t step = int64_t{tx.time.tv_sec} * 1'000'000'000 +
                                 ((tx.modes & ADJ_NANO) ? tx.time.tv_usec : tx.time.tv_usec * 1000);
            base_local_ += step;
            ++steps;
        }
        if (tx.modes & ADJ_MAXERROR) state_.maxerror = tx.maxerror;
        return TIME_OK;
    }
    int64_t offset_to_true() const { return local() - w_.true_ns; }
    double correction_ppb() const { return total_frequency_ppm(state_) * 1000.0; }
    int status() const { return state_.status; }
    void mark_synchronised(bool yes = true) {
        state_.status = yes ? (state_.status & ~STA_UNSYNC) : (state_.status | STA_UNSYNC);
    }
    int steps = 0;
    int adjustments = 0;

  private:
    int64_t local() const {
        const double rate = 1.0 + (error_ppb_ + correction_ppb()) * 1e-9;
        return base_local_ + static_cast<int64_t>(
                                 std::llround(static_cast<double>(w_.true_ns - base_true_) * rate));
    }
    void rebase() {
        base_local_ = local();
        base_true_ = w_.true_ns;
    }
    World& w_;
    double error_ppb_;
    int64_t base_true_ = 0;
    int64_t base_local_ = 0;
    timex state_{};
};

TEST(Steering, MeasureOffsetTakesTheTightestReading) {
    World w;
    SimClock reference(w, 0, 0);
    SimClock target(w, 0, 1'234'567);
    const auto m = measure_offset(reference, target, 5);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->delay_ns, 100);  // two reads of 50 ns around the reference read
    EXPECT_NEAR(static_cast<double>(m->offset_ns), 1'234'567, 2);
}

TEST(Steering, RealtimeFollowsTheReference) {
    World w;
    SimClock nanoclock(w, 0, 0);
    SimClock realtime(w, 25'000, -3'000'000);  // 25 ppm fast, 3 ms behind
    nanoclock.mark_synchronised();
    RealtimeSteering steer(nanoclock, realtime, ntp::PiServoConfig{});
    // The target's own kernel PLL is switched off first.
    EXPECT_EQ(realtime.status() & STA_PLL, 0);
    for (int i = 0; i < 40; ++i) {
        const auto u = steer.update(static_cast<double>(i));
        ASSERT_TRUE(u.measured);
        EXPECT_EQ(u.error, 0);
        w.true_ns += 1'000'000'000;
    }
    EXPECT_TRUE(steer.locked());
    EXPECT_EQ(realtime.steps, 1);
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
    EXPECT_NEAR(realtime.correction_ppb(), -25'000, 5);
    EXPECT_EQ(realtime.status() & STA_UNSYNC, 0);  // marked synchronised while locked
    // The reference steps by 1 s: steering unlocks, re-acquires and steps again.
    nanoclock.adjust(*[] {
        static timex tx{};
        tx.modes = ADJ_SETOFFSET | ADJ_NANO;
        tx.time.tv_sec = 1;
        return &tx;
    }());
    for (int i = 40; i < 60; ++i) {
        steer.update(static_cast<double>(i));
        w.true_ns += 1'000'000'000;
    }
    EXPECT_EQ(realtime.steps, 2);
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
}

// The nanoclock slews 3 ms in 1 s (3000 ppm): fed forward, CLOCK_REALTIME
// takes the same frequency at once and stays on it; left to the servo (one
// update a second) it would fall 3 ms behind first.
TEST(Steering, FeedForwardFollowsAFastSlew) {
    for (const bool forward : {true, false}) {
        World w;
        SimClock nanoclock(w, 0, 0);
        SimClock realtime(w, 0, 0);
        nanoclock.mark_synchronised();
        RealtimeSteering steer(nanoclock, realtime, ntp::PiServoConfig{});
        for (int i = 0; i < 5; ++i) {
            steer.update(static_cast<double>(i));
            w.true_ns += 1'000'000'000;
        }
        ASSERT_TRUE(steer.locked());
        nanoclock.set_frequency(3000.0);  // ppm, through the tick
        if (forward) {
            ASSERT_EQ(steer.feed_forward(3000.0 * 1000), 0);
        }
        w.true_ns += 1'000'000'000;
        nanoclock.set_frequency(0.0);
        if (forward) {
            ASSERT_EQ(steer.feed_forward(-3000.0 * 1000), 0);
        }
        const int64_t apart = std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true());
        if (forward) {
            EXPECT_LT(apart, 1000) << "ns";
        } else {
            EXPECT_GT(apart, 2'900'000) << "ns";
        }
    }
}

// The nanoclock's first correction is typically a fast slew that starts as
// it becomes synchronised, while the steering is still acquiring. Fed
// forward then, CLOCK_REALTIME would be slewed along (3 ms here) with the
// reference and stepped back at the lock; it must instead keep its own time
// until the lock, which then steps it by what the reference did alone.
TEST(Steering, FeedForwardBeforeTheLockLeavesRealtimeAlone) {
    World w;
    SimClock nanoclock(w, 0, 3'000'000);  // 3 ms ahead: it slews back to true
    SimClock realtime(w, 0, 0);
    nanoclock.mark_synchronised();
    RealtimeSteering steer(nanoclock, realtime, ntp::PiServoConfig{});
    const int before = realtime.adjustments;
    ASSERT_TRUE(steer.update(0).measured);  // the first of two acquisition samples
    ASSERT_FALSE(steer.locked());
    w.true_ns += 200'000'000;
    nanoclock.set_frequency(-3000.0);  // ppm: -3 ms in 1 s
    ASSERT_EQ(steer.feed_forward(-3000.0 * 1000), 0);
    w.true_ns += 800'000'000;
    steer.update(1);  // mid-slew: the acquisition starts over
    w.true_ns += 200'000'000;
    nanoclock.set_frequency(0.0);
    ASSERT_EQ(steer.feed_forward(3000.0 * 1000), 0);
    EXPECT_EQ(realtime.adjustments, before);  // untouched while acquiring
    EXPECT_EQ(realtime.offset_to_true(), 0);
    EXPECT_LT(std::llabs(nanoclock.offset_to_true()), 1000);
    for (int i = 2; i < 6; ++i) {
        w.true_ns += 1'000'000'000;
        steer.update(static_cast<double>(i));
    }
    EXPECT_TRUE(steer.locked());
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
    EXPECT_LT(std::llabs(realtime.offset_to_true()), 2000) << "ns: realtime never left true time";
    EXPECT_NEAR(realtime.correction_ppb(), 0, 5);
}

// The same slew with its feed-forward timers late (or missing): the
// acquisition sees the reference's frequency register change and starts
// over, so the lock never takes the slew's rate for CLOCK_REALTIME's own.
TEST(Steering, AcquisitionWaitsOutAChangeOfTheReferencesFrequency) {
    World w;
    SimClock nanoclock(w, 0, 3'000'000);
    SimClock realtime(w, 0, 0);
    nanoclock.mark_synchronised();
    RealtimeSteering steer(nanoclock, realtime, ntp::PiServoConfig{});
    const int before = realtime.adjustments;
    ASSERT_TRUE(steer.update(0).measured);
    w.true_ns += 200'000'000;
    nanoclock.set_frequency(-3000.0);
    w.true_ns += 600'000'000;
    EXPECT_FALSE(steer.update(0.8).measured);  // the register changed: start over
    w.true_ns += 200'000'000;
    nanoclock.set_frequency(0.0);
    w.true_ns += 600'000'000;
    EXPECT_FALSE(steer.update(1.6).measured);
    EXPECT_EQ(realtime.adjustments, before);
    for (int i = 0; i < 4; ++i) {
        w.true_ns += 1'000'000'000;
        steer.update(2.6 + i);
    }
    EXPECT_TRUE(steer.locked());
    EXPECT_EQ(realtime.steps, 1);
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
    EXPECT_NEAR(realtime.correction_ppb(), 0, 5);
}

// A reference that has not been disciplined yet (a freshly loaded nanoclock,
// STA_UNSYNC) must not drag CLOCK_REALTIME along: steering waits, then
// acquires once the reference is synchronised, and waits again if it is
// lost (holdover at the last frequency).
TEST(Steering, WaitsWhileTheReferenceIsUnsynchronised) {
    World w;
    SimClock nanoclock(w, 0, 5'000'000);  // 5 ms off, unsynchronised
    SimClock realtime(w, 10'000, 0);
    RealtimeSteering steer(nanoclock, realtime, ntp::PiServoConfig{});
    const int before = realtime.adjustments;
    for (int i = 0; i < 10; ++i) {
        const auto u = steer.update(static_cast<double>(i));
        EXPECT_TRUE(u.waiting);
        EXPECT_FALSE(u.measured);
        w.true_ns += 1'000'000'000;
    }
    EXPECT_EQ(realtime.adjustments, before);  // untouched
    EXPECT_EQ(realtime.steps, 0);
    EXPECT_FALSE(steer.locked());
    nanoclock.mark_synchronised();
    for (int i = 10; i < 40; ++i) {
        const auto u = steer.update(static_cast<double>(i));
        EXPECT_FALSE(u.waiting);
        EXPECT_TRUE(u.measured);
        w.true_ns += 1'000'000'000;
    }
    EXPECT_TRUE(steer.locked());
    EXPECT_EQ(realtime.steps, 1);
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
    // Lost again: no adjustment while waiting; re-acquired afterwards.
    nanoclock.mark_synchronised(false);
    const int locked_adjustments = realtime.adjustments;
    EXPECT_TRUE(steer.update(40).waiting);
    EXPECT_EQ(realtime.adjustments, locked_adjustments);
    EXPECT_FALSE(steer.locked());
    nanoclock.mark_synchronised();
    for (int i = 41; i < 60; ++i) {
        steer.update(static_cast<double>(i));
        w.true_ns += 1'000'000'000;
    }
    EXPECT_TRUE(steer.locked());
    EXPECT_LT(std::llabs(realtime.offset_to_true() - nanoclock.offset_to_true()), 500);
}

TEST(Steering, UnreadableClockIsReported) {
    World w;
    FakeClock broken;
    broken.now_ = timespec{0, 0};
    SimClock realtime(w, 0, 0);
    RealtimeSteering steer(broken, realtime, ntp::PiServoConfig{});
    const int before = realtime.adjustments;
    const auto u = steer.update(0);
    EXPECT_FALSE(u.measured);
    EXPECT_EQ(realtime.adjustments, before);  // nothing changed
}

}  // namespace
}  // namespace nanotime::io
