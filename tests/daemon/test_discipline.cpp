// The daemon's own discipline: the correction ledger, the per-source Kalman
// estimator, the clock controller, and the stall recovery of the client core.
#include <gtest/gtest.h>

#include <cmath>

#include "discipline/clock_controller.hpp"
#include "discipline/correction_ledger.hpp"
#include "discipline/source_estimator.hpp"
#include "source/client_core.hpp"
#include "test_support.hpp"
#include "util/random.hpp"

namespace nanotime::ntp {
namespace {

using testing::actions_of;
using testing::kEpoch2026;

// A clock driven through the ledger: the local clock reads x + C(x) for
// oscillator time x, exactly as the ledger claims, and the true offset of a
// perfect server against the oscillator is a known line.
TEST(CorrectionLedger, RawOffsetsSurviveFrequencyChangesAndSteps) {
    CorrectionLedger ledger(20e-6);
    // Oscillator: 37 ppm fast; a server on true time. Raw offset = server -
    // oscillator = -(37e-6 * x) + 0.25 (the oscillator started 0.25 s behind).
    auto raw_truth = [](double x) { return 0.25 - 37e-6 * x; };
    double c = 0, rate = 20e-6, last_x = 0;
    auto local_at = [&](double x) {
        c += rate * (x - last_x);
        last_x = x;
        return kEpoch2026 + from_seconds(x + c);
    };
    EXPECT_NEAR(ledger.at(local_at(0)).x, 0.0, 1e-12);
    for (int i = 1; i <= 40; ++i) {
        const double x = 37.5 * i;
        const NtpInstant local = local_at(x);
        const RawPoint p = ledger.at(local);
        EXPECT_NEAR(p.x, x, 1e-8);
        EXPECT_NEAR(p.correction, c, 1e-9);
        // What a sample measures against the local clock, made raw again.
        const double measured = raw_truth(x) - c;
        EXPECT_NEAR(measured + p.correction, raw_truth(x), 1e-9);
        if (i % 7 == 0) {
            const double amount = (i % 2 ? 1 : -1) * 0.0625;  // step both ways
            ledger.step(local, amount, -15e-6);
            c += amount;
            rate = -15e-6;
        } else if (i % 3 == 0) {
            rate = 1e-6 * i;
            ledger.set_frequency(local, rate);
        }
    }
}

// A lookup just after a step must land on the new segment, whatever the
// rounding of the local time it is given (a negative step maps both sides of
// it to the same x).
TEST(CorrectionLedger, LookupRightAfterAStepSeesIt) {
    CorrectionLedger ledger;
    const NtpInstant t = kEpoch2026 + from_seconds(455.0);
    ledger.at(kEpoch2026);
    ledger.step(t, -0.145520569, -100e-6);
    const RawPoint after = ledger.at(t + from_seconds(-0.145520569));
    EXPECT_NEAR(after.correction, -0.145520569, 1e-9);
    // 256 s of local time later: the oscillator ran 256 / (1 - 100 ppm) s.
    const RawPoint later = ledger.at(t + from_seconds(-0.145520569 + 256));
    EXPECT_NEAR(later.correction, -0.145520569 - 100e-6 * 256 / (1 - 100e-6), 1e-9);
}

// Noise-free samples on a line: the filter finds its offset and frequency.
TEST(SourceEstimator, FindsOffsetAndFrequency) {
    SourceEstimator est;
    for (int i = 0; i < 20; ++i) {
        const double x = 64.0 * i;
        est.add(RawPoint{x, 0.0}, 0.010 - 50e-6 * x, 0.002, kEpoch2026 + from_seconds(x));
    }
    const auto e = est.estimate_at(64.0 * 20);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->has_frequency);
    EXPECT_NEAR(e->frequency, -50e-6, 1e-9);
    EXPECT_NEAR(e->offset, 0.010 - 50e-6 * 64 * 20, 1e-6);
    EXPECT_LT(e->frequency_sd, 1e-7);
    EXPECT_EQ(e->used, 20u);
}

// A sample queued 20 ms behind the minimum says little: its offset error can
// be +-10 ms. It must barely move an estimate built on minimum-delay samples.
TEST(SourceEstimator, AQueuedSampleBarelyCounts) {
    SourceEstimator est;
    for (int i = 0; i < 16; ++i) {
        est.add(RawPoint{64.0 * i, 0.0}, 0.001, 0.004, kEpoch2026);
    }
    est.add(RawPoint{64.0 * 16, 0.0}, 0.001 + 0.009, 0.024, kEpoch2026);
    const auto e = est.estimate_at(64.0 * 16);
    ASSERT_TRUE(e);
    EXPECT_NEAR(e->offset, 0.001, 100e-6);
    EXPECT_FALSE(est.last_was_outlier());  // within what its delay allows
}

// A sample far outside what its delay allows is held back; two in a row the
// same way mean the source moved, and the filter follows (keeping its
// frequency); one the other way starts a new run.
TEST(SourceEstimator, OutliersAreHeldThenFollowed) {
    SourceEstimator est;
    double x = 0;
    for (int i = 0; i < 16; ++i, x += 64) est.add(RawPoint{x, 0.0}, 0.001, 0.004, kEpoch2026);
    est.add(RawPoint{x, 0.0}, 0.051, 0.004, kEpoch2026);
    x += 64;
    EXPECT_TRUE(est.last_was_outlier());
    EXPECT_NEAR(est.estimate_at(x)->offset, 0.001, 50e-6);
    est.add(RawPoint{x, 0.0}, -0.049, 0.004, kEpoch2026);  // the other way: held too
    x += 64;
    EXPECT_NEAR(est.estimate_at(x)->offset, 0.001, 50e-6);
    est.add(RawPoint{x, 0.0}, -0.049, 0.004, kEpoch2026);  // again: taken
    x += 64;
    EXPECT_EQ(est.outliers(), 3u);
    EXPECT_NEAR(est.estimate_at(x - 64)->offset, -0.049, 1e-3);
    est.add(RawPoint{x, 0.0}, -0.049, 0.004, kEpoch2026);
    EXPECT_FALSE(est.last_was_outlier());
    EXPECT_NEAR(est.estimate_at(x)->offset, -0.049, 200e-6);
}

// The wander estimate rises when the frequency random-walks faster than
// assumed, and falls back on a quiet oscillator; the balanced interval moves
// the other way.
TEST(SourceEstimator, WanderFollowsTheOscillator) {
    auto run = [](double wander, uint64_t seed) {
        SplitMix64 rng(seed);
        SourceEstimator est;
        double phase = 0, freq = 0, x = 0;
        for (int i = 0; i < 400; ++i) {
            const double dt = 64;
            const double u1 = std::max(rng.unit(), 1e-300), u2 = rng.unit();
            freq += wander * std::sqrt(dt) * std::sqrt(-2 * std::log(u1)) *
                    std::cos(6.283185307179586 * u2);
            phase += freq * dt;
            x += dt;
            // 1 us of noise: a tight LAN.
            const double noise = (rng.unit() - 0.5) * 2e-6;
            est.add(RawPoint{x, 0.0}, phase + noise, 200e-6 + 4e-6 * rng.unit(), kEpoch2026);
        }
        return est;
    };
    const SourceEstimator fast = run(3e-8, 7), quiet = run(1e-10, 7);
    EXPECT_GT(fast.wander(), 3 * kInitialWander);
    EXPECT_LT(quiet.wander(), kInitialWander);
    EXPECT_LT(fast.balanced_interval(), quiet.balanced_interval());
}

ClockEstimate estimate(double offset, double sd, double frequency, double interval = 64) {
    ClockEstimate e;
    e.offset = offset;
    e.offset_sd = sd;
    e.has_frequency = true;
    e.frequency = frequency;
    e.frequency_sd = 1e-8;
    e.interval = interval;
    return e;
}

TEST(ClockController, MakestepOnlyInTheFirstUpdates) {
    ControllerConfig cc;
    cc.step_threshold = 0;  // only makestep
    cc.makestep_threshold = 0.01;
    cc.makestep_limit = 2;
    ClockController ctl(cc);
    CorrectionLedger ledger;
    NtpInstant now = kEpoch2026;
    ClockCommand c = ctl.update(now, estimate(0.0005, 1e-5, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Slew);  // below the threshold
    now += from_seconds(64);
    // Offsets are raw: the estimate is the ledger's correction plus what the
    // clock is off by.
    const double c1 = ledger.at(now).correction;
    c = ctl.update(now, estimate(c1 + 0.1, 1e-5, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Step);
    EXPECT_NEAR(c.step, 0.1, 1e-9);
    EXPECT_NEAR(ledger.at(now + from_seconds(0.1)).correction, c1 + 0.1, 1e-9);
    now += from_seconds(64.1);
    // Third update: makestep is spent; a large offset is slewed.
    c = ctl.update(now, estimate(c1 + 0.1 + 0.05, 1e-5, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Slew);
    EXPECT_NEAR(c.offset, 0.05, 1e-6);
    // Far beyond the noise: as fast as the shortest slew allows (1 s of the
    // clock, 1 / 1.0526 s of the oscillator).
    EXPECT_NEAR(c.slew_seconds, 1.0, 1e-9);
    EXPECT_NEAR(c.frequency, 0.05 / (1 - 0.05), 1e-9);
    EXPECT_FALSE(c.frequency_limited);
    now += from_seconds(64);
    // Faster than max_slew_rate is not asked of the kernel tick.
    c = ctl.update(now, estimate(ledger.at(now).correction + 0.5, 1e-5, 0), ledger);
    EXPECT_NEAR(c.frequency, 83333e-6, 1e-12);
    EXPECT_NEAR(c.slew_seconds, 0.5 * (1 + 83333e-6) / 83333e-6, 1e-6);
}

TEST(ClockController, PanicUnlessArmed) {
    ClockController ctl(ControllerConfig{});
    CorrectionLedger ledger;
    ClockCommand c = ctl.update(kEpoch2026, estimate(5000, 1e-3, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Panic);
    EXPECT_NEAR(ledger.at(kEpoch2026).correction, 0.0, 1e-12);  // nothing recorded
    ctl.arm_step();
    c = ctl.update(kEpoch2026, estimate(5000, 1e-3, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Step);
    c = ctl.update(kEpoch2026 + from_seconds(5064), estimate(5000 + 1e-4, 1e-5, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Slew);  // one-shot
    c = ctl.update(kEpoch2026, estimate(std::nan(""), 1e-5, 0), ledger);
    EXPECT_EQ(c.action, ClockAction::Panic);
}

// chrony's correction time: an offset at the noise level is removed over
// about 1.5 update intervals, one 10 times the noise ten times faster; the
// slew ends on the base frequency.
TEST(ClockController, SlewDurationFollowsTheOffsetAgainstItsNoise) {
    ClockController ctl(ControllerConfig{});
    CorrectionLedger ledger;
    NtpInstant now = kEpoch2026;
    ClockCommand c = ctl.update(now, estimate(20e-6, 20e-6, -30e-6, 256), ledger);
    EXPECT_EQ(c.action, ClockAction::Slew);
    EXPECT_NEAR(c.slew_seconds, 3.0 * 0.5 * 256, 1e-6);
    EXPECT_NEAR(c.frequency, -30e-6 + 20e-6 * (1 - 30e-6) / (c.slew_seconds - 20e-6), 1e-15);
    EXPECT_NEAR(c.base_frequency, -30e-6, 1e-15);
    EXPECT_TRUE(ctl.slewing());
    now += from_seconds(c.slew_seconds);
    // The slew ran its course: the offset is gone in the ledger's books.
    const std::optional<double> f = ctl.slew_ended(now, ledger);
    ASSERT_TRUE(f);
    EXPECT_NEAR(*f, -30e-6, 1e-15);
    EXPECT_FALSE(ctl.slew_ended(now, ledger));  // once
    const RawPoint p = ledger.at(now);
    EXPECT_NEAR(p.correction, 20e-6 - 30e-6 * p.x, 1e-9);
    c = ctl.update(now, estimate(p.correction + 200e-6, 20e-6, -30e-6, 256), ledger);
    EXPECT_NEAR(c.slew_seconds, 3.0 * 0.5 * 256 / 10, 1e-6);
}

// clock.adjust = false: the commands are worked out (status shows them) but
// the ledger books nothing, since nothing is done to the clock.
TEST(ClockController, WatchingOnlyBooksNothing) {
    ControllerConfig cc;
    cc.adjust = false;
    ClockController ctl(cc);
    CorrectionLedger ledger(3e-6);
    ledger.at(kEpoch2026);
    ClockCommand c = ctl.update(kEpoch2026, estimate(0.3, 1e-5, 7e-6), ledger);
    EXPECT_EQ(c.action, ClockAction::Step);
    c = ctl.update(kEpoch2026 + from_seconds(64), estimate(0.001, 1e-5, 7e-6), ledger);
    EXPECT_EQ(c.action, ClockAction::Slew);
    EXPECT_FALSE(ctl.slew_ended(kEpoch2026 + from_seconds(128), ledger));
    const RawPoint p = ledger.at(kEpoch2026 + from_seconds(1000));
    EXPECT_NEAR(p.correction, 3e-6 * p.x, 1e-12);
    EXPECT_NEAR(ledger.frequency(), 3e-6, 1e-15);
}

// The nanokernel takes a new frequency only at its next whole second: the
// ledger books it there, a slew lasts whole seconds, and its end is asked
// for in the middle of its last second.
TEST(ClockController, FrequencyAtTheNextSecond) {
    ControllerConfig cc;
    cc.frequency_at_second = true;
    ClockController ctl(cc);
    CorrectionLedger ledger;
    const NtpInstant t0 = kEpoch2026 + from_seconds(0.25);
    ledger.at(t0);
    const ClockCommand c = ctl.update(t0, estimate(0.002, 1e-6, 0, 64), ledger);
    ASSERT_EQ(c.action, ClockAction::Slew);
    EXPECT_EQ(c.slew_seconds, std::ceil(c.slew_seconds));
    // Over slew_seconds of clock time the oscillator runs slew_seconds / (1 + rate).
    const double rate = c.frequency - c.base_frequency;
    EXPECT_NEAR(rate * c.slew_seconds / (1 + rate), 0.002, 1e-12);
    EXPECT_NEAR(c.end_after, 0.75 + c.slew_seconds - 0.5, 1e-9);
    // Nothing changes before the boundary at t0 + 0.75 s.
    EXPECT_NEAR(ledger.at(t0 + from_seconds(0.7)).correction, 0.0, 1e-12);
    const NtpInstant end = t0 + from_seconds(c.end_after);
    ASSERT_TRUE(ctl.slew_ended(end, ledger));
    // The slew ran from one boundary to another: all of the offset is in.
    EXPECT_NEAR(ledger.at(end + from_seconds(5)).correction, 0.002, 1e-9);
}

// A change booked for the next second and superseded before it comes is
// dropped: the clock keeps only the last frequency it was given.
TEST(CorrectionLedger, ABookedChangeIsReplacedBeforeItHappens) {
    CorrectionLedger ledger;
    const NtpInstant t = kEpoch2026 + from_seconds(10.2);
    ledger.at(kEpoch2026);
    ledger.set_frequency(kEpoch2026 + from_seconds(11), 1e-3);
    ledger.set_frequency(kEpoch2026 + from_seconds(11), 2e-3);
    EXPECT_NEAR(ledger.at(t).correction, 0.0, 1e-12);
    // One second of the clock at 2e-3 is 1 / 1.002 s of the oscillator.
    EXPECT_NEAR(ledger.at(kEpoch2026 + from_seconds(12)).correction, 2e-3 / 1.002, 1e-12);
    ledger.step(kEpoch2026 + from_seconds(12), 0.5, 2e-3);
    ledger.set_frequency(kEpoch2026 + from_seconds(12.5), 0.0);  // same x: the step stays
    EXPECT_NEAR(ledger.at(kEpoch2026 + from_seconds(20)).correction, 0.5 + 2e-3 / 1.002, 1e-12);
}

TEST(ClockController, FrequencyBeyondTheKernelLimitIsFlagged) {
    ClockController ctl(ControllerConfig{});
    CorrectionLedger ledger;
    const ClockCommand c = ctl.update(kEpoch2026, estimate(0, 1e-6, 700e-6), ledger);
    EXPECT_TRUE(ctl.frequency_limited());
    EXPECT_NEAR(c.base_frequency, 500e-6, 1e-12);
}

// Sources answer but nothing reaches the clock (here the server jumps 2 s,
// beyond the 1 s panic threshold): after kStallPolls polls the core says so
// and starts the estimates over, never silently.
TEST(ClientCore, ReportsAndRecoversFromAStall) {
    SplitMix64 random(3);
    ControllerConfig cc;
    cc.panic_threshold = 1.0;
    cc.step_threshold = 0.5;
    cc.makestep_threshold = 0;
    ClientCore core(SystemConfig{}, cc);
    ClientActions out;
    SourceConfig sc;
    sc.address = SocketAddress{IpAddress::v4(192, 0, 2, 1), 123};
    sc.iburst = true;
    sc.minpoll = 6;
    sc.maxpoll = 6;
    const SourceId id = core.add_server(sc, random, out);
    NtpInstant now = kEpoch2026;
    std::vector<DisciplineFault> faults;
    unsigned updates = 0, panics = 0;
    auto round = [&](double server_offset) {
        for (const ClientAction& a : core.handle_source_timer(id, now, random)) {
            if (auto* f = std::get_if<DisciplineFault>(&a)) faults.push_back(*f);
            auto* send = std::get_if<SendTo>(&a);
            if (send == nullptr) continue;
            const NtpInstant at_server = now + from_seconds(server_offset + 0.001);
            const auto reply = testing::make_reply(send->request.packet, at_server, at_server);
            for (const ClientAction& r : core.handle_packet(send->request.request_id, reply,
                                                            now + from_seconds(0.002), random)) {
                if (auto* d = std::get_if<DisciplineClock>(&r)) {
                    updates += d->command.action != ClockAction::Panic;
                    panics += d->command.action == ClockAction::Panic;
                }
            }
        }
    };
    for (int i = 0; i < 12; ++i, now += from_seconds(i < 8 ? 2 : 64)) round(0.0);
    ASSERT_GT(updates, 0u);
    EXPECT_TRUE(faults.empty());
    EXPECT_FALSE(core.discipline_status().stalled);
    const unsigned before = updates;
    for (int i = 0; i < 12; ++i, now += from_seconds(64)) round(2.0);
    // The first two far samples are held as outliers (the update predicts
    // through them); from the third the filter follows, and panics.
    EXPECT_LE(updates, before + 2);
    EXPECT_GT(panics, 0u);
    ASSERT_EQ(faults.size(), 1u);
    EXPECT_TRUE(faults[0].raised);
    EXPECT_NE(faults[0].text.find("no clock update"), std::string::npos);
    EXPECT_TRUE(core.discipline_status().stalled);
    EXPECT_EQ(core.discipline_status().restarts, 1u);
    // Started over: only what came after the restart is in the estimator.
    EXPECT_LT(core.source(id)->estimator().samples(), 5u);
}

}  // namespace
}  // namespace nanotime::ntp
