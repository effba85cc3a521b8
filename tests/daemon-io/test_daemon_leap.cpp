// The daemon's leap second handling with a leap-seconds.list file: the
// kernel (a FakeClock) is armed on the last day of the month only, disarmed
// after the leap, the TAI offset follows the file, and a damaged file changes
// nothing.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/timex.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "leap_file_support.hpp"
#include "nanotimed/daemon.hpp"

namespace nanotime::daemon {
namespace {

using test::kDay;
using test::kLeap;
using test::kNtpUnix;
using test::leap_file;

class DaemonLeap : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("nanotimed-leap-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        leap_path_ = (dir_ / "leap-seconds.list").string();
        config_path_ = (dir_ / "nanotimed.toml").string();
        std::ofstream(config_path_) << "[clock]\ndrift_file = \"\"\nleap_seconds_file = \""
                                    << leap_path_ << "\"\n[control]\nsocket = \"\"\n";
        log_ = std::make_unique<io::RateLimitedLog>(
            io::LogRateConfig{1000, 0},
            std::make_shared<spdlog::logger>(
                "leap", std::make_shared<spdlog::sinks::ostream_sink_st>(out_)));
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Starts a daemon whose clock reads @unix_now.
    void start(int64_t unix_now, bool damaged = false) {
        std::ofstream(leap_path_) << leap_file(damaged);
        config::ParseResult r = config::load_config(config_path_);
        ASSERT_TRUE(r.config.has_value());
        auto clock = std::make_unique<io::FakeClock>();
        clock->now_ = timespec{static_cast<time_t>(unix_now), 0};
        clock_ = clock.get();
        daemon_ =
            std::make_unique<Daemon>(*r.config, config_path_, io::make_poll_loop(io::LoopOptions{}),
                                     std::move(clock), *log_, random_);
        daemon_->start();
    }

    std::filesystem::path dir_;
    std::string leap_path_, config_path_;
    std::ostringstream out_;
    std::unique_ptr<io::RateLimitedLog> log_;
    ntp::SplitMix64 random_{1};
    io::FakeClock* clock_ = nullptr;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonLeap, ArmsOnlyOnTheLastDayAndDisarmsAfterTheLeap) {
    start(kLeap - kNtpUnix - 16 * kDay);  // 2026-12-16
    EXPECT_EQ(clock_->state_.status & (STA_INS | STA_DEL), 0);
    EXPECT_EQ(clock_->state_.tai, 35);
    ctl::DaemonSnapshot snap = daemon_->snapshot();
    EXPECT_EQ(snap.status.leap_file, leap_path_);
    EXPECT_EQ(snap.status.tai_offset, 35);
    EXPECT_EQ(snap.status.next_leap_s, static_cast<double>(kLeap - kNtpUnix));

    // 2026-12-31 12:00: the reload re-evaluates (as the boundary timer would).
    clock_->now_.tv_sec = kLeap - kNtpUnix - kDay / 2;
    ASSERT_TRUE(daemon_->reload());
    EXPECT_EQ(clock_->state_.status & STA_INS, STA_INS);
    EXPECT_EQ(clock_->state_.status & STA_DEL, 0);

    // 2027-01-01 00:00:01: disarmed, TAI - UTC one more.
    clock_->now_.tv_sec = kLeap - kNtpUnix + 1;
    ASSERT_TRUE(daemon_->reload());
    EXPECT_EQ(clock_->state_.status & (STA_INS | STA_DEL), 0);
    EXPECT_EQ(clock_->state_.tai, 36);
    EXPECT_EQ(daemon_->snapshot().status.next_leap_s, 0);
}

TEST_F(DaemonLeap, DamagedFileChangesNothing) {
    start(kLeap - kNtpUnix - kDay / 2, /*damaged=*/true);
    EXPECT_EQ(clock_->state_.status & (STA_INS | STA_DEL), 0);
    // Not even the TAI offset. (The discipline's start, turning the kernel
    // PLL off, is the only write.)
    for (const timex& tx : clock_->calls) {
        EXPECT_FALSE(tx.modes & ADJ_TAI);
        if (tx.modes & ADJ_STATUS) {
            EXPECT_EQ(tx.status & (STA_INS | STA_DEL), 0);
        }
    }
    EXPECT_TRUE(daemon_->snapshot().status.leap_file.empty());
    EXPECT_NE(out_.str().find("hash mismatch"), std::string::npos) << out_.str();
}

TEST_F(DaemonLeap, DamagedFileOnReloadKeepsTheTable) {
    start(kLeap - kNtpUnix - kDay / 2);
    ASSERT_EQ(clock_->state_.status & STA_INS, STA_INS);
    std::ofstream(leap_path_) << leap_file(true);
    ASSERT_TRUE(daemon_->reload());
    EXPECT_EQ(clock_->state_.status & STA_INS, STA_INS);  // still armed
    EXPECT_EQ(daemon_->snapshot().status.leap_file, leap_path_);
    EXPECT_NE(out_.str().find("keeping the table loaded before"), std::string::npos);
}

}  // namespace
}  // namespace nanotime::daemon
