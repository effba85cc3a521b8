// ClockManager: a discipline command carried out on the clock (a FakeClock),
// and what it hands back to the client driver instead of calling the core:
// a refused command with the frequency the clock really runs at, the slew's
// end timer armed or cancelled, nothing for a panic.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/timex.h>

#include <cerrno>
#include <sstream>

#include "nanotimed/clock_manager.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

ntp::DisciplineClock command(ntp::ClockAction action, double offset) {
    ntp::DisciplineClock dc;
    dc.command.action = action;
    dc.command.offset = offset;
    dc.command.base_frequency = 12e-6;
    if (action == ntp::ClockAction::Step) {
        dc.command.step = offset;
        dc.command.frequency = 12e-6;
    } else if (action == ntp::ClockAction::Slew) {
        dc.command.frequency = 12e-6 + 100e-6;  // 100 ppm for 2 s: 200 us
        dc.command.slew_seconds = 2.0;
        dc.command.end_after = 2.5;
    }
    dc.max_error = 0.010;
    dc.est_error = 0.001;
    return dc;
}

class ClockManagerTest : public ::testing::Test {
  protected:
    void make(config::ClockBackendKind backend) {
        config_.backend = backend;
        config_.drift_file.clear();
        config_.leap_seconds_file.clear();
        log_ = std::make_unique<io::RateLimitedLog>(
            io::LogRateConfig{1000, 0},
            std::make_shared<spdlog::logger>(
                "clock", std::make_shared<spdlog::sinks::ostream_sink_st>(out_)));
        timescale_ = std::make_unique<Timescale>(clock_, true);
        manager_ = std::make_unique<ClockManager>(config_, *loop_, clock_, *timescale_, *log_);
    }

    config::ClockConfig config_;
    std::unique_ptr<io::EventLoop> loop_ = io::make_poll_loop(io::LoopOptions{});
    io::FakeClock clock_;
    std::ostringstream out_;
    std::unique_ptr<io::RateLimitedLog> log_;
    std::unique_ptr<Timescale> timescale_;
    std::unique_ptr<ClockManager> manager_;
    const ntp::SystemState sys_;
};

TEST_F(ClockManagerTest, PanicTouchesNoClockAndAsksNothing) {
    make(config::ClockBackendKind::System);
    const ClockActions out = manager_->correct(command(ntp::ClockAction::Panic, 2000.0), sys_);
    EXPECT_TRUE(out.empty());
    EXPECT_TRUE(clock_.calls.empty());
    EXPECT_NE(out_.str().find("exceeds the panic threshold"), std::string::npos);
}

TEST_F(ClockManagerTest, SlewSetsTheFrequencyAndAsksForItsEnd) {
    make(config::ClockBackendKind::System);
    const ClockActions out = manager_->correct(command(ntp::ClockAction::Slew, 200e-6), sys_);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<CancelSlewEnd>(out[0]));  // a newer command replaces it
    ASSERT_TRUE(std::holds_alternative<ArmSlewEnd>(out[1]));
    EXPECT_EQ(std::get<ArmSlewEnd>(out[1]).after, 2500ms);
    EXPECT_TRUE(clock_.steps.empty());
    EXPECT_NEAR(io::total_frequency_ppm(clock_.state_), 112.0, 1e-3);
    EXPECT_EQ(clock_.state_.status & STA_UNSYNC, 0);

    // The slew's end: the base frequency, nothing asked of the driver.
    EXPECT_TRUE(manager_->set_frequency(12e-6).empty());
    EXPECT_NEAR(io::total_frequency_ppm(clock_.state_), 12.0, 1e-3);
}

TEST_F(ClockManagerTest, StepStepsAndArmsNoSlewEnd) {
    make(config::ClockBackendKind::System);
    const ClockActions out = manager_->correct(command(ntp::ClockAction::Step, -0.5), sys_);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<CancelSlewEnd>(out[0]));
    ASSERT_EQ(clock_.steps.size(), 1u);
    EXPECT_DOUBLE_EQ(clock_.steps[0], -0.5);
}

TEST_F(ClockManagerTest, RefusedCommandGoesBackToTheDriver) {
    make(config::ClockBackendKind::System);
    clock_.fail_with = EPERM;
    ClockActions out = manager_->correct(command(ntp::ClockAction::Slew, 200e-6), sys_);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<CancelSlewEnd>(out[0]));
    // The clock cannot be read either: its frequency is taken as 0.
    ASSERT_TRUE(std::holds_alternative<CommandRefused>(out[1]));
    EXPECT_EQ(std::get<CommandRefused>(out[1]).frequency, 0.0);
    EXPECT_NE(out_.str().find("clock adjustment failed"), std::string::npos);

    out = manager_->set_frequency(12e-6);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<CommandRefused>(out[0]));
}

TEST_F(ClockManagerTest, NanoclockUnderPpsTakesStepsOnly) {
    make(config::ClockBackendKind::Nanoclock);
    clock_.state_.status = STA_PPSSIGNAL | STA_PPSFREQ;
    clock_.state_.freq = 3 * 65536;  // 3 ppm, hardpps's
    ClockActions out = manager_->correct(command(ntp::ClockAction::Slew, 200e-6), sys_);
    ASSERT_EQ(out.size(), 1u);
    // The core's ledger follows the PPS's frequency; the clock is untouched
    // and the slew timer left alone.
    ASSERT_TRUE(std::holds_alternative<CommandRefused>(out[0]));
    EXPECT_NEAR(std::get<CommandRefused>(out[0]).frequency, 3e-6, 1e-12);
    EXPECT_TRUE(clock_.calls.empty());
    EXPECT_NE(out_.str().find("NTP corrections paused"), std::string::npos);
    // The end of an earlier slew does not touch it either.
    EXPECT_TRUE(manager_->set_frequency(12e-6).empty());
    EXPECT_TRUE(clock_.calls.empty());

    // NTP still numbers the seconds.
    out = manager_->correct(command(ntp::ClockAction::Step, 1.0), sys_);
    ASSERT_EQ(clock_.steps.size(), 1u);
    EXPECT_DOUBLE_EQ(clock_.steps[0], 1.0);
    for (const ClockAction& a : out) EXPECT_FALSE(std::holds_alternative<CommandRefused>(a));

    // PPS gone: corrections resume.
    clock_.state_.status &= ~(STA_PPSSIGNAL | STA_PPSFREQ);
    out = manager_->correct(command(ntp::ClockAction::Slew, 200e-6), sys_);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<ArmSlewEnd>(out[1]));
    EXPECT_NE(out_.str().find("NTP corrections resume"), std::string::npos);
}

TEST(PlanCorrection, PanicDoesNothingWhoeverOwnsTheClock) {
    for (bool pps : {false, true}) {
        const CorrectionPlan plan =
            plan_correction(command(ntp::ClockAction::Panic, 2000.0).command, pps);
        EXPECT_FALSE(plan.apply);
        EXPECT_FALSE(plan.refuse);
        EXPECT_FALSE(plan.reset_steering);
        EXPECT_FALSE(plan.slew_end.has_value());
    }
}

TEST(PlanCorrection, SlewIsAppliedAndEndsAfterItsTime) {
    ntp::ClockCommand cmd = command(ntp::ClockAction::Slew, 200e-6).command;
    CorrectionPlan plan = plan_correction(cmd, false);
    EXPECT_TRUE(plan.apply);
    EXPECT_FALSE(plan.refuse);
    EXPECT_FALSE(plan.reset_steering);  // CLOCK_REALTIME follows a slew by feed-forward
    ASSERT_TRUE(plan.slew_end.has_value());
    EXPECT_EQ(*plan.slew_end, 2500ms);
    // No slew (the offset at the base frequency already): no end to wait for.
    cmd.slew_seconds = 0;
    cmd.end_after = 0;
    plan = plan_correction(cmd, false);
    EXPECT_TRUE(plan.apply);
    EXPECT_FALSE(plan.slew_end.has_value());
}

TEST(PlanCorrection, StepResetsTheSteeringAndIsTakenEvenUnderPps) {
    for (bool pps : {false, true}) {
        const CorrectionPlan plan =
            plan_correction(command(ntp::ClockAction::Step, -0.5).command, pps);
        EXPECT_TRUE(plan.apply);
        EXPECT_FALSE(plan.refuse);
        EXPECT_TRUE(plan.reset_steering);
        EXPECT_FALSE(plan.slew_end.has_value());
    }
}

TEST(PlanCorrection, PpsOwnedClockRefusesSlews) {
    const CorrectionPlan plan =
        plan_correction(command(ntp::ClockAction::Slew, 200e-6).command, true);
    EXPECT_FALSE(plan.apply);
    EXPECT_TRUE(plan.refuse);
    EXPECT_FALSE(plan.slew_end.has_value());
}

}  // namespace
}  // namespace nanotime::daemon
