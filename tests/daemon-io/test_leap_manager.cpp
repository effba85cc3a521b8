// LeapManager, the leap second policy: what it asks of the kernel and when,
// from a leap-seconds.list file or, without a current one, the system peer's
// warning; nothing here touches a clock.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "leap_file_support.hpp"
#include "nanotimed/leap_manager.hpp"

namespace nanotime::daemon {
namespace {

using test::kDay;
using test::kLeap;
using test::kNtpUnix;
using namespace std::chrono_literals;

constexpr int64_t kJuly2026 = 1'782'864'000;     // 2026-07-01 00:00:00 UTC (Unix)
constexpr int64_t kAugust2027 = 1'817'078'400;   // 2027-08-01 00:00:00 UTC (Unix)
constexpr int64_t kLeapUnix = kLeap - kNtpUnix;  // 2027-01-01 00:00:00 UTC (Unix)

ntp::NtpInstant at(int64_t unix_seconds) {
    return ntp::NtpInstant::from_unix(ntp::Nanoseconds(unix_seconds * 1'000'000'000));
}

ntp::SystemState synchronised(ntp::LeapIndicator leap) {
    ntp::SystemState s;
    s.leap = leap;
    s.stratum = 2;
    return s;
}

const ArmLeap* find_arm(const LeapPlan& plan) {
    return plan.arm ? &*plan.arm : nullptr;
}

class LeapManagerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() /
                 ("nanotimed-leapmgr-" + std::to_string(getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                    .string();
        std::ofstream(path_) << test::leap_file(false);
        log_ = std::make_unique<io::RateLimitedLog>(
            io::LogRateConfig{1000, 0},
            std::make_shared<spdlog::logger>(
                "leap", std::make_shared<spdlog::sinks::ostream_sink_st>(out_)));
    }
    void TearDown() override { std::filesystem::remove(path_); }

    std::string path_;
    std::ostringstream out_;
    std::unique_ptr<io::RateLimitedLog> log_;
    const ntp::SystemState unsynchronised_;
};

TEST_F(LeapManagerTest, FileArmsOnTheLastDayOnlyAndAsksUntilTheKernelTakesIt) {
    LeapManager leap(path_);
    leap.load(at(kLeapUnix - 16 * kDay), *log_);
    ASSERT_TRUE(leap.table().has_value()) << out_.str();

    // 2026-12-16: announced (served), not armed; the TAI offset once.
    LeapPlan plan = leap.update(at(kLeapUnix - 16 * kDay), unsynchronised_);
    EXPECT_EQ(find_arm(plan), nullptr);
    EXPECT_EQ(plan.tai, 35);
    EXPECT_EQ(plan.recheck_after, 3600s);
    leap.tai_offered(35);
    EXPECT_EQ(leap.served(synchronised(ntp::LeapIndicator::NoWarning)).leap,
              ntp::LeapIndicator::InsertSecond);
    EXPECT_EQ(leap.served(unsynchronised_).leap, ntp::LeapIndicator::Unsynchronized);

    // 2026-12-31 23:30: arm the insertion for the coming midnight; look
    // again at that midnight.
    plan = leap.update(at(kLeapUnix - 1800), unsynchronised_);
    const ArmLeap* arm = find_arm(plan);
    ASSERT_NE(arm, nullptr);
    EXPECT_EQ(arm->direction, 1);
    EXPECT_EQ(arm->midnight, kLeap);
    EXPECT_EQ(arm->why, "leap seconds file");
    EXPECT_FALSE(plan.tai.has_value());  // offered already
    EXPECT_EQ(plan.recheck_after, 1800s);

    // The kernel refused: asked again at the next update.
    plan = leap.update(at(kLeapUnix - 1700), unsynchronised_);
    ASSERT_NE(find_arm(plan), nullptr);
    leap.leap_armed(1);
    // Taken: not asked again.
    EXPECT_EQ(find_arm(leap.update(at(kLeapUnix - 1600), unsynchronised_)), nullptr);

    // 2027-01-01 00:00:01: disarm, TAI - UTC one more.
    plan = leap.update(at(kLeapUnix + 1), unsynchronised_);
    ASSERT_NE(find_arm(plan), nullptr);
    EXPECT_EQ(find_arm(plan)->direction, 0);
    EXPECT_EQ(plan.tai, 36);
}

TEST_F(LeapManagerTest, TaiOffsetIsOfferedOnceEvenIfRefused) {
    LeapManager leap(path_);
    leap.load(at(kLeapUnix - 16 * kDay), *log_);
    ASSERT_TRUE(leap.update(at(kLeapUnix - 16 * kDay), unsynchronised_).tai.has_value());
    leap.tai_offered(35);  // failed or not: the clock manager reports the try
    const LeapPlan plan = leap.update(at(kLeapUnix - 16 * kDay + 3600), unsynchronised_);
    EXPECT_FALSE(plan.arm.has_value());
    EXPECT_FALSE(plan.tai.has_value());
}

TEST_F(LeapManagerTest, WithoutAFileTheSourcesWarningArmsOnTheLastDayOfTheMonthOnly) {
    LeapManager leap("");
    const ntp::SystemState insert = synchronised(ntp::LeapIndicator::InsertSecond);
    // 2026-06-15 12:00: the sources warn, but Linux would insert at the next
    // midnight: nothing yet; look again at that midnight at the latest.
    LeapPlan plan = leap.update(at(kJuly2026 - 15 * kDay - kDay / 2), insert);
    EXPECT_FALSE(plan.arm.has_value());
    EXPECT_FALSE(plan.tai.has_value());
    EXPECT_EQ(plan.recheck_after, 3600s);
    plan = leap.update(at(kJuly2026 - 15 * kDay - 600), insert);
    EXPECT_FALSE(plan.arm.has_value());
    EXPECT_FALSE(plan.tai.has_value());
    EXPECT_EQ(plan.recheck_after, 600s);

    // 2026-06-30 12:00: armed.
    plan = leap.update(at(kJuly2026 - kDay / 2), insert);
    const ArmLeap* arm = find_arm(plan);
    ASSERT_NE(arm, nullptr);
    EXPECT_EQ(arm->direction, 1);
    EXPECT_EQ(arm->midnight, kJuly2026 + kNtpUnix);
    EXPECT_EQ(arm->why, "warning from the sources");
    EXPECT_FALSE(plan.tai.has_value());  // no file: no TAI offset
    leap.leap_armed(1);

    // The warning withdrawn: disarmed.
    plan = leap.update(at(kJuly2026 - kDay / 2 + 60), synchronised(ntp::LeapIndicator::NoWarning));
    ASSERT_NE(find_arm(plan), nullptr);
    EXPECT_EQ(find_arm(plan)->direction, 0);

    // A deletion the same way.
    plan =
        leap.update(at(kJuly2026 - kDay / 2 + 120), synchronised(ntp::LeapIndicator::DeleteSecond));
    ASSERT_NE(find_arm(plan), nullptr);
    EXPECT_EQ(find_arm(plan)->direction, -1);
}

TEST_F(LeapManagerTest, CurrentFileOverridesTheSourcesAndAnExpiredOneDoesNot) {
    LeapManager leap(path_);
    leap.load(at(kJuly2026 - kDay / 2), *log_);
    const ntp::SystemState insert = synchronised(ntp::LeapIndicator::InsertSecond);
    // 2026-06-30: the file (current) has no leap then; the sources' wrong
    // warning neither arms the kernel nor is served.
    LeapPlan plan = leap.update(at(kJuly2026 - kDay / 2), insert);
    EXPECT_EQ(find_arm(plan), nullptr);
    EXPECT_EQ(leap.served(insert).leap, ntp::LeapIndicator::NoWarning);

    // 2027-07-31, after the file's expiry (2027-06-30): the sources decide
    // again (and are served as they are); the file still gives TAI - UTC.
    plan = leap.update(at(kAugust2027 - kDay / 2), insert);
    ASSERT_NE(find_arm(plan), nullptr);
    EXPECT_EQ(find_arm(plan)->direction, 1);
    EXPECT_EQ(find_arm(plan)->why, "warning from the sources");
    EXPECT_EQ(plan.tai, 36);
    EXPECT_EQ(leap.served(insert).leap, ntp::LeapIndicator::InsertSecond);
}

TEST_F(LeapManagerTest, DamagedFileOnReloadKeepsTheTable) {
    LeapManager leap(path_);
    leap.load(at(kLeapUnix - kDay / 2), *log_);
    ASSERT_TRUE(leap.table().has_value());
    std::ofstream(path_) << test::leap_file(true);
    leap.load(at(kLeapUnix - kDay / 2), *log_);
    ASSERT_TRUE(leap.table().has_value());
    EXPECT_NE(out_.str().find("keeping the table loaded before"), std::string::npos);
    const LeapPlan plan = leap.update(at(kLeapUnix - kDay / 2), unsynchronised_);
    ASSERT_NE(find_arm(plan), nullptr);
    EXPECT_EQ(find_arm(plan)->direction, 1);
}

// nanotimectl leapfile: a good text replaces the file and is loaded; a bad
// one is refused with the parser's reason and changes neither file nor table.
TEST_F(LeapManagerTest, InstalledTextIsCheckedWrittenAndLoaded) {
    std::filesystem::remove(path_);
    LeapManager leap(path_);
    std::string error;
    auto done = leap.install(test::leap_file(true), at(kLeapUnix - kDay / 2), *log_, error);
    EXPECT_FALSE(done);
    EXPECT_NE(error.find("leap seconds file refused: "), std::string::npos) << error;
    EXPECT_FALSE(std::filesystem::exists(path_));
    EXPECT_FALSE(leap.table().has_value());

    done = leap.install(test::leap_file(false), at(kLeapUnix - kDay / 2), *log_, error);
    ASSERT_TRUE(done) << error;
    EXPECT_NE(done->find(path_ + ": "), std::string::npos) << *done;
    ASSERT_TRUE(leap.table().has_value());
    std::ifstream in(path_);
    const std::string written((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    EXPECT_EQ(written, test::leap_file(false));
    EXPECT_FALSE(std::filesystem::exists(path_ + ".nanotimectl.tmp"));
    EXPECT_FALSE(leap.install(test::leap_file(true), at(kLeapUnix), *log_, error));
    std::ifstream again(path_);
    EXPECT_EQ(
        std::string((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>()),
        test::leap_file(false));

    LeapManager none("");
    EXPECT_FALSE(none.install(test::leap_file(false), at(kLeapUnix), *log_, error));
    EXPECT_NE(error.find("leap_seconds_file is empty"), std::string::npos) << error;
}

}  // namespace
}  // namespace nanotime::daemon
