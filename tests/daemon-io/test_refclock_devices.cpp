// RefclockDevices on the host: a pps or phc refclock whose device is not a
// PPS device or PTP hardware clock (the host has neither /dev/ppsN nor
// /dev/ptpN; the VM has) is reported unavailable with the reason, and gives
// no reading; a live SHM segment with a bad mode is refused by name, and
// the same segment with mode 0 then gives its reading.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/shm.h>

#include <string>
#include <variant>
#include <vector>

#include "loop_test_support.hpp"
#include "nanotimed/refclock_devices.hpp"

namespace nanotime::daemon {
namespace {

std::vector<refclock::ParseOutcome> outcomes_of(
    const std::string& path, config::RefclockDriver driver = config::RefclockDriver::Pps) {
    config::RefclockEntry e;
    e.driver = driver;
    e.path = path;
    e.refid = "PPS";
    auto loop = io::testing::make_loop(io::testing::Flavour::Poll);
    io::RateLimitedLog log(io::LogRateConfig{});
    std::vector<refclock::ParseOutcome> seen;
    RefclockDevices devices({e}, *loop, log,
                            [&](size_t, const refclock::ParseOutcome& o) { seen.push_back(o); });
    devices.open();
    devices.start();
    return seen;
}

TEST(RefclockDevices, APpsPathThatIsNoPpsDeviceIsUnavailableWithTheReason) {
    const auto seen = outcomes_of("/dev/null");
    ASSERT_EQ(seen.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<refclock::Refusal>(seen[0]));
    const auto& r = std::get<refclock::Refusal>(seen[0]);
    EXPECT_EQ(r.reason, ntp::RefclockReject::Unavailable);
    EXPECT_NE(r.detail.find("/dev/null: not a PPS device (RFC 2783)"), std::string::npos)
        << r.detail;
}

TEST(RefclockDevices, AMissingPpsDeviceIsUnavailableWithTheReason) {
    const auto seen = outcomes_of("/dev/pps-nanotime-test-missing");
    ASSERT_EQ(seen.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<refclock::Refusal>(seen[0]));
    EXPECT_NE(std::get<refclock::Refusal>(seen[0]).detail.find("cannot open"), std::string::npos);
}

TEST(RefclockDevices, APhcPathThatIsNoPtpClockIsUnavailableWithTheReason) {
    const auto seen = outcomes_of("/dev/null", config::RefclockDriver::Phc);
    ASSERT_EQ(seen.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<refclock::Refusal>(seen[0]));
    const auto& r = std::get<refclock::Refusal>(seen[0]);
    EXPECT_EQ(r.reason, ntp::RefclockReject::Unavailable);
    EXPECT_NE(r.detail.find("/dev/null: not a PTP hardware clock (PTP_CLOCK_GETCAPS: "),
              std::string::npos)
        << r.detail;
}

TEST(RefclockDevices, AMissingPhcIsUnavailableWithTheReason) {
    const auto seen = outcomes_of("/dev/ptp-nanotime-test-missing", config::RefclockDriver::Phc);
    ASSERT_EQ(seen.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<refclock::Refusal>(seen[0]));
    EXPECT_NE(std::get<refclock::Refusal>(seen[0]).detail.find(
                  "cannot open /dev/ptp-nanotime-test-missing"),
              std::string::npos);
}

TEST(RefclockDevices, ALiveShmSegmentWithABadModeIsRefusedAndThenRead) {
    // A private System V IPC namespace: unit 2 is this test's own, whatever
    // else (gpsd, another test) uses key 0x4e545032 on the host.
    if (::unshare(CLONE_NEWIPC) != 0) GTEST_SKIP() << "unshare(CLONE_NEWIPC) needs root";
    config::RefclockEntry e;
    e.driver = config::RefclockDriver::Shm;
    e.unit = 2;
    e.refid = "SHM2";
    auto loop = io::testing::make_loop(io::testing::Flavour::Poll);
    io::RateLimitedLog log(io::LogRateConfig{});
    std::vector<refclock::ParseOutcome> seen;
    RefclockDevices devices({e}, *loop, log,
                            [&](size_t, const refclock::ParseOutcome& o) { seen.push_back(o); });
    devices.open();
    devices.start();
    ASSERT_TRUE(seen.empty());  // the segment was created: nothing unavailable

    const int id = ::shmget(refclock::shm_key(2), sizeof(refclock::ShmTime), 0);
    ASSERT_GE(id, 0);
    auto* seg = static_cast<refclock::ShmTime*>(::shmat(id, nullptr, 0));
    ASSERT_NE(reinterpret_cast<intptr_t>(seg), -1);
    seg->mode = 7;  // neither 0 nor 1
    seg->clock_sec = 1'796'000'001;
    seg->receive_sec = 1'796'000'000;
    seg->valid = 1;
    ASSERT_TRUE(io::testing::run_until(*loop, [&] { return !seen.empty(); }));
    ASSERT_TRUE(std::holds_alternative<refclock::Refusal>(seen[0]));
    EXPECT_EQ(std::get<refclock::Refusal>(seen[0]).reason, ntp::RefclockReject::BadMode);
    EXPECT_EQ(std::get<refclock::Refusal>(seen[0]).detail, "mode 7 (0 or 1)");
    EXPECT_EQ(seg->valid, 0);  // taken once

    seg->mode = 0;
    seg->valid = 1;
    ASSERT_TRUE(io::testing::run_until(*loop, [&] { return seen.size() >= 2; }));
    ASSERT_TRUE(std::holds_alternative<refclock::Reading>(seen[1]));
    const auto& r = std::get<refclock::Reading>(seen[1]);
    EXPECT_EQ(r.system_time.tv_sec, 1'796'000'000);
    EXPECT_DOUBLE_EQ(r.offset, 1.0);
    ::shmdt(seg);
}

}  // namespace
}  // namespace nanotime::daemon
