// Clock backends (through the fake, and read-only on the real clock) and the
// rate-limited log.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "io/clock.hpp"
#include "io/log.hpp"
#include "io/utc_text.hpp"

namespace nanotime::io {
namespace {

ntp::ClockCommand slew(double offset, double base, double frequency, double seconds) {
    ntp::ClockCommand c;
    c.action = ntp::ClockAction::Slew;
    c.offset = offset;
    c.base_frequency = base;
    c.frequency = frequency;
    c.slew_seconds = seconds;
    return c;
}

ntp::ClockCommand step(double amount, double base) {
    ntp::ClockCommand c;
    c.action = ntp::ClockAction::Step;
    c.offset = amount;
    c.step = amount;
    c.base_frequency = base;
    c.frequency = base;
    return c;
}

// The daemon takes the loop: a pending kernel PLL offset is dropped (Linux
// keeps slewing it even with STA_PLL clear), then PLL and FLL go off; PPS
// bits stay, and the frequency the clock runs at is reported.
TEST(ClockDiscipline, TakeControlTurnsTheKernelPllOff) {
    FakeClock clock;
    clock.state_.status = STA_PLL | STA_FLL | STA_PPSSIGNAL | STA_PPSFREQ;
    clock.state_.offset = 12345;
    clock.state_.freq = 10 * 65536;  // 10 ppm
    ClockDiscipline d(clock);
    const std::optional<double> f = d.take_control();
    ASSERT_TRUE(f);
    EXPECT_NEAR(*f, 10e-6, 1e-12);
    ASSERT_EQ(clock.calls.size(), 2u);
    EXPECT_EQ(clock.calls[0].modes, ADJ_OFFSET | ADJ_STATUS | ADJ_NANO);
    EXPECT_EQ(clock.calls[0].offset, 0);
    EXPECT_TRUE(clock.calls[0].status & STA_PLL);  // ADJ_OFFSET counts only with PLL on
    EXPECT_EQ(clock.calls[1].modes, ADJ_STATUS);
    EXPECT_FALSE(clock.state_.status & (STA_PLL | STA_FLL));
    EXPECT_TRUE(clock.state_.status & STA_PPSSIGNAL);
    EXPECT_TRUE(clock.state_.status & STA_PPSFREQ);
    EXPECT_EQ(clock.state_.offset, 0);
}

// A slew is a frequency: base plus the correction rate, through ADJ_FREQUENCY
// (ppm scaled by 2^16), never ADJ_OFFSET.
TEST(ClockDiscipline, SlewSetsTheFrequency) {
    FakeClock clock;
    clock.state_.status = STA_UNSYNC | STA_PPSSIGNAL;
    ClockDiscipline d(clock);
    EXPECT_EQ(d.apply(slew(250e-6, -100e-6, -99e-6, 250), 0.0125, 0.00004), 0);
    ASSERT_GE(clock.calls.size(), 1u);
    EXPECT_EQ(clock.calls[0].modes, ADJ_FREQUENCY | ADJ_TICK);
    // -99 ppm: one tick step (-100 ppm) and +1 ppm of ADJ_FREQUENCY.
    EXPECT_EQ(clock.calls[0].tick, 9999);
    EXPECT_EQ(clock.calls[0].freq, 1 * 65536);
    for (const timex& tx : clock.calls) EXPECT_FALSE(tx.modes & ADJ_OFFSET);
    EXPECT_FALSE(clock.state_.status & STA_UNSYNC);
    EXPECT_TRUE(clock.state_.status & STA_PPSSIGNAL);  // other bits kept
    EXPECT_TRUE(clock.steps.empty());
    EXPECT_EQ(d.set_frequency(-130e-6), 0);
    EXPECT_EQ(clock.state_.tick, 9999);
    EXPECT_EQ(clock.state_.freq, -30 * 65536);
    EXPECT_NEAR(*d.frequency(), -130e-6, 1e-12);
    // A fast slew: 5 % through the tick, the rest through ADJ_FREQUENCY.
    EXPECT_EQ(d.set_frequency(0.05 + 20e-6), 0);
    EXPECT_EQ(clock.state_.tick, 10500);
    EXPECT_EQ(clock.state_.freq, 20 * 65536);
    // Beyond 10 % the tick stops and the rest is left to ADJ_FREQUENCY,
    // which the kernel clamps: never a tick Linux would refuse.
    EXPECT_EQ(d.set_frequency(-0.2), 0);
    EXPECT_EQ(clock.state_.tick, 9000);
}

TEST(ClockDiscipline, StepThenFrequency) {
    FakeClock clock;
    ClockDiscipline d(clock);
    EXPECT_EQ(d.apply(step(-2.75, 5e-6), 0.02, 0.001), 0);
    ASSERT_EQ(clock.steps.size(), 1u);
    EXPECT_NEAR(clock.steps[0], -2.75, 1e-9);
    const timex& tx = clock.calls[0];
    EXPECT_EQ(tx.modes, ADJ_SETOFFSET | ADJ_NANO);
    EXPECT_EQ(tx.time.tv_sec, -3);  // normalised: -3 s + 0.25 s
    EXPECT_EQ(tx.time.tv_usec, 250000000);
    EXPECT_EQ(clock.calls[1].modes, ADJ_FREQUENCY | ADJ_TICK);
    EXPECT_EQ(clock.calls[1].freq, 5 * 65536);
    EXPECT_EQ(clock.calls[1].tick, 10000);
}

// A step leaves the kernel clock STA_UNSYNC (Linux's settime path sets it on
// CLOCK_REALTIME; a fresh nanoclock has it from load): the daemon clears it
// right away, keeping every other bit, instead of at the next update - the
// CLOCK_REALTIME steering waits while the nanoclock has it.
TEST(ClockDiscipline, StepMarksTheClockSynchronised) {
    FakeClock clock;
    clock.step_sets_unsync = true;
    const int kept = STA_PPSFREQ | STA_PPSTIME | STA_PPSSIGNAL | STA_INS | STA_NANO;
    clock.state_.status = kept;
    ClockDiscipline d(clock);
    EXPECT_EQ(d.apply(step(-2.75, 0), 0.02, 0.001), 0);
    EXPECT_EQ(clock.state_.status, kept);
    EXPECT_EQ(clock.state_.maxerror, 20000);  // us
    EXPECT_EQ(clock.state_.esterror, 1000);
    // Step, frequency, errors, then the status (after the errors: a maxerror
    // at the kernel's limit would flag the clock again at the next second).
    ASSERT_EQ(clock.calls.size(), 4u);
    EXPECT_EQ(clock.calls[0].modes, ADJ_SETOFFSET | ADJ_NANO);
    EXPECT_EQ(clock.calls[1].modes, ADJ_FREQUENCY | ADJ_TICK);
    EXPECT_EQ(clock.calls[2].modes, ADJ_MAXERROR | ADJ_ESTERROR);
    EXPECT_EQ(clock.calls[3].modes, ADJ_STATUS);
    EXPECT_EQ(clock.calls[3].status, kept);
    EXPECT_EQ(d.last_error(), 0);
    // Already synchronised: no status write at all.
    const size_t before = clock.calls.size();
    EXPECT_EQ(d.apply(slew(1e-6, 0, 1e-9, 10), 0.01, 0.0001), 0);
    EXPECT_EQ(clock.calls.size(), before + 2);  // frequency, errors
}

// Nothing corrected, nothing claimed: a panic writes nothing.
TEST(ClockDiscipline, PanicWritesNothing) {
    FakeClock clock;
    clock.state_.status = STA_UNSYNC;
    ClockDiscipline d(clock);
    ntp::ClockCommand panic;
    panic.action = ntp::ClockAction::Panic;
    panic.offset = 5000;
    EXPECT_EQ(d.apply(panic, 0.01, 0.0001), 0);
    EXPECT_TRUE(clock.calls.empty());
    EXPECT_EQ(clock.state_.status, STA_UNSYNC);
}

// The decision alone (clock_changes), as apply() carries it out.
TEST(ClockChanges, PanicChangesNothingStepStepsFirstAndErrorsNeedBoth) {
    ntp::ClockCommand panic;
    panic.action = ntp::ClockAction::Panic;
    panic.offset = 5000;
    const ClockChanges none = clock_changes(panic, 0.01, 0.0001);
    EXPECT_FALSE(none.step_s || none.frequency || none.max_error_s || none.est_error_s);
    EXPECT_FALSE(none.mark_synchronised);  // nothing corrected, nothing claimed

    const ClockChanges s = clock_changes(slew(250e-6, -100e-6, -99e-6, 250), 0.0125, 0.00004);
    EXPECT_FALSE(s.step_s.has_value());
    EXPECT_EQ(s.frequency, -99e-6);  // the slew's, not the base
    EXPECT_EQ(s.max_error_s, 0.0125);
    EXPECT_EQ(s.est_error_s, 0.00004);
    EXPECT_TRUE(s.mark_synchronised);

    const ClockChanges st = clock_changes(step(-2.75, 5e-6), -1, 0.001);
    EXPECT_EQ(st.step_s, -2.75);
    EXPECT_EQ(st.frequency, 5e-6);
    EXPECT_FALSE(st.max_error_s || st.est_error_s);  // one error unknown: neither set
    EXPECT_TRUE(st.mark_synchronised);
}

TEST(ClockDiscipline, FailureIsReported) {
    FakeClock clock;
    clock.fail_with = EPERM;
    ClockDiscipline d(clock);
    EXPECT_EQ(d.apply(slew(0.01, 0, 1e-4, 100), 0.1, 0.01), -EPERM);
    EXPECT_EQ(d.last_error(), -EPERM);
    EXPECT_FALSE(d.take_control());
    EXPECT_FALSE(d.frequency());
}

TEST(ClockBackend, FrequencyLeapTaiAndErrors) {
    FakeClock clock;
    ASSERT_GE(clock.set_frequency(-12.5), 0);
    EXPECT_EQ(clock.state_.freq, -12.5 * 65536);
    ASSERT_GE(clock.set_leap(1), 0);
    EXPECT_TRUE(clock.state_.status & STA_INS);
    ASSERT_GE(clock.set_leap(-1), 0);
    EXPECT_TRUE(clock.state_.status & STA_DEL);
    EXPECT_FALSE(clock.state_.status & STA_INS);
    ASSERT_GE(clock.set_tai(37), 0);
    EXPECT_EQ(clock.state_.tai, 37);
    ASSERT_GE(clock.set_errors(0.5, 0.001), 0);
    EXPECT_EQ(clock.state_.maxerror, 500000);
    EXPECT_EQ(clock.state_.esterror, 1000);
}

TEST(ClockBackend, SystemClockReadsWithoutChangingAnything) {
    SystemClock clock;
    timex tx{};
    const int state = clock.read(tx);
    ASSERT_GE(state, 0);
    EXPECT_STRNE(clock_state_name(state), "unknown");
    EXPECT_GT(clock.now().tv_sec, 1'600'000'000);
}

TEST(ClockBackend, MissingNanoclockDeviceThrows) {
    EXPECT_THROW(NanoClock("/dev/nanoclock-does-not-exist"), std::system_error);
}

TEST(ClockBackend, StatusFlagNames) {
    EXPECT_EQ(status_flag_names(STA_PLL | STA_NANO),
              (std::vector<std::string>{"STA_PLL", "STA_NANO"}));
    EXPECT_TRUE(status_flag_names(0).empty());
    // The demo's one-line form (tools/demo/nanoclock_demo.cpp).
    EXPECT_EQ(status_flags_string(STA_UNSYNC | STA_PLL | STA_CLK), "STA_PLL|STA_UNSYNC|STA_CLK");
    EXPECT_EQ(status_flags_string(STA_NANO, ", "), "STA_NANO");
    EXPECT_EQ(status_flags_string(0), "-");
    EXPECT_STREQ(clock_state_name(TIME_ERROR), "TIME_ERROR");
    EXPECT_STREQ(clock_state_name(42), "unknown");
}

struct LogFixture {
    std::ostringstream out;
    std::chrono::steady_clock::time_point now{};
    std::shared_ptr<spdlog::logger> logger;
    LogFixture() {
        logger = std::make_shared<spdlog::logger>(
            "t", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
        logger->set_pattern("%v");
    }
    size_t lines() const {
        const std::string s = out.str();
        return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
    }
};

TEST(RateLimitedLog, FloodOfOneClassIsBoundedAndCounted) {
    LogFixture f;
    RateLimitedLog log({5, 1.0}, f.logger, [&] { return f.now; });
    for (int i = 0; i < 10000; ++i) log.warn(LogClass::BadPacket, "bad packet from 192.0.2.1");
    EXPECT_EQ(f.lines(), 5u);
    EXPECT_EQ(log.suppressed_total(), 9995u);
    // Other classes are not starved by the flood.
    log.info(LogClass::General, "reload");
    EXPECT_EQ(f.lines(), 6u);
    // One period later exactly one more gets through, with the count.
    f.now += std::chrono::seconds(1);
    for (int i = 0; i < 100; ++i) log.warn(LogClass::BadPacket, "bad packet");
    EXPECT_EQ(f.lines(), 7u);
    EXPECT_NE(f.out.str().find("(9995 similar messages suppressed)"), std::string::npos);
}

TEST(RateLimitedLog, SustainedRateIsOnePerPeriod) {
    LogFixture f;
    RateLimitedLog log({3, 2.0}, f.logger, [&] { return f.now; });
    // 1000 messages a second for 60 s: burst + 60/2.
    for (int s = 0; s < 60; ++s) {
        for (int i = 0; i < 1000; ++i) log.warn(LogClass::RateLimited, "x");
        f.now += std::chrono::seconds(1);
    }
    EXPECT_LE(f.lines(), 3u + 30u);
    EXPECT_GE(f.lines(), 30u);
}

TEST(RateLimitedLog, FilteredLevelsCostNothing) {
    LogFixture f;
    f.logger->set_level(spdlog::level::warn);
    RateLimitedLog log({1, 100.0}, f.logger, [&] { return f.now; });
    for (int i = 0; i < 10; ++i) log.debug(LogClass::Io, "noise");
    log.warn(LogClass::Io, "real");
    EXPECT_EQ(f.lines(), 1u);
    EXPECT_EQ(log.suppressed_total(), 0u);
}

}  // namespace
}  // namespace nanotime::io

namespace nanotime::io {
namespace {

// The dates the daemon logs for leap seconds and leap-file expiry.
TEST(UtcText, CalendarTimeInUtc) {
    EXPECT_EQ(utc_text(0), "1970-01-01 00:00:00 UTC");
    EXPECT_EQ(utc_text(1'483'228'799), "2016-12-31 23:59:59 UTC");  // before the 2016 leap
    EXPECT_EQ(utc_text(1'483'228'800), "2017-01-01 00:00:00 UTC");
    EXPECT_EQ(utc_text(4'102'444'800), "2100-01-01 00:00:00 UTC");  // past 2038 and 2036
    EXPECT_EQ(utc_text(-1), "1969-12-31 23:59:59 UTC");
}

}  // namespace
}  // namespace nanotime::io
