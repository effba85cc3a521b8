// RefclockDevices on the host: a pps or phc refclock whose device is not a
// PPS device or PTP hardware clock (the host has neither /dev/ppsN nor
// /dev/ptpN; the VM has) is reported unavailable with the reason, and gives
// no reading.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nanotime::daemon
