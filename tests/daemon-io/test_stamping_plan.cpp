// test_stamping_plan.cpp - the per-interface timestamping decision
// (io/stamping_plan.hpp) fed ethtool ts_info answers as drivers give them,
// and io.hwtimestamp's parsing.
#include <gtest/gtest.h>
#include <linux/net_tstamp.h>

#include <cerrno>

#include "config/config.hpp"
#include "io/stamping_plan.hpp"

using namespace nanotime;
using io::EthtoolTsInfo;
using io::InterfaceProbe;
using io::plan_interface_stamping;

namespace {

constexpr uint32_t kSoftware =
    SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
constexpr uint32_t kHardware =
    SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE;

InterfaceProbe probe(const char* name, EthtoolTsInfo info) {
    InterfaceProbe p;
    p.name = name;
    p.ts_info = info;
    return p;
}

// A NIC like igb/ixgbe: hardware RX/TX stamps, PHC 0, TX on, the RX filters given.
EthtoolTsInfo hardware_nic(uint32_t rx_filters) {
    return EthtoolTsInfo{kSoftware | kHardware, 0, 1U << HWTSTAMP_TX_ON | 1U << HWTSTAMP_TX_OFF,
                         rx_filters};
}

}  // namespace

TEST(StampingPlan, VethIsSoftwareOnly) {
    // veth and lo: ethtool_op_get_ts_info (software RX and TX, no PHC).
    const auto s = plan_interface_stamping(probe("veth0", {kSoftware, -1, 0, 0}), true);
    EXPECT_EQ(s.name, "veth0");
    EXPECT_EQ(s.rx, "kernel");
    EXPECT_EQ(s.tx, "kernel");
    EXPECT_FALSE(s.hardware_capable);
    EXPECT_TRUE(s.hardware_requested);
    EXPECT_EQ(s.rx_filter, "");
    EXPECT_EQ(s.reason, "no hardware timestamping (ethtool: software only)");
}

TEST(StampingPlan, DriverWithoutTxSoftwareGivesDaemonTx) {
    // A driver without get_ts_info: the kernel's default answer, RX software only.
    const auto s = plan_interface_stamping(
        probe("dummy0", {SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE, -1, 0, 0}),
        false);
    EXPECT_EQ(s.rx, "kernel");
    EXPECT_EQ(s.tx, "daemon");
    EXPECT_EQ(s.reason,
              "no hardware timestamping (ethtool: software only); the driver gives no software "
              "TX stamps (ethtool: no TX_SOFTWARE)");
}

TEST(StampingPlan, HardwareNicPrefersTheNtpFilter) {
    const auto s = plan_interface_stamping(
        probe("eth0", hardware_nic(1U << HWTSTAMP_FILTER_ALL | 1U << HWTSTAMP_FILTER_NTP_ALL)),
        true);
    EXPECT_TRUE(s.hardware_capable);
    EXPECT_EQ(s.phc_index, 0);
    EXPECT_EQ(s.rx_filter, "ntp_all");
    // Nothing hardware is enabled: PHC stamps are not converted (see stamping_plan.hpp).
    EXPECT_EQ(s.rx, "kernel");
    EXPECT_EQ(s.tx, "kernel");
    EXPECT_EQ(s.reason,
              "hardware timestamping available (PHC /dev/ptp0, RX filter ntp_all) but not "
              "enabled: nanotimed does not convert PHC stamps to the system clock yet; kernel "
              "software stamps");
}

TEST(StampingPlan, HardwareNicFilterFallsBackToAllThenNone) {
    EXPECT_EQ(
        plan_interface_stamping(probe("eth0", hardware_nic(1U << HWTSTAMP_FILTER_ALL |
                                                           1U << HWTSTAMP_FILTER_PTP_V2_EVENT)),
                                true)
            .rx_filter,
        "all");
    const auto ptp_only = plan_interface_stamping(
        probe("eth0", hardware_nic(1U << HWTSTAMP_FILTER_PTP_V2_EVENT)), false);
    EXPECT_EQ(ptp_only.rx_filter, "none");
    EXPECT_EQ(ptp_only.reason,
              "hardware timestamping available (PHC /dev/ptp0, RX filter none), not requested "
              "(io.hwtimestamp does not name it); kernel software stamps");
}

TEST(StampingPlan, IncompleteHardwareNamesWhatIsMissing) {
    // RX hardware stamps but no TX ones and no PHC.
    const auto s = plan_interface_stamping(
        probe("wlan0", {kSoftware | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE,
                        -1, 0, 1U << HWTSTAMP_FILTER_ALL}),
        true);
    EXPECT_FALSE(s.hardware_capable);
    EXPECT_EQ(s.rx, "kernel");
    EXPECT_EQ(s.reason,
              "incomplete hardware timestamping (ethtool: no TX_HARDWARE, HWTSTAMP_TX_ON, a "
              "PHC); kernel software stamps");
}

TEST(StampingPlan, QueryFailureAndMissingInterface) {
    InterfaceProbe failed;
    failed.name = "tun0";
    failed.error = EOPNOTSUPP;
    const auto s = plan_interface_stamping(failed, false);
    EXPECT_EQ(s.rx, "kernel");
    EXPECT_EQ(s.tx, "kernel");
    EXPECT_EQ(s.reason,
              "ETHTOOL_GET_TS_INFO failed: Operation not supported; kernel software stamps");
    InterfaceProbe missing;
    missing.name = "eth9";
    missing.error = ENODEV;
    EXPECT_EQ(plan_interface_stamping(missing, true).reason,
              "no such interface (named in io.hwtimestamp)");
}

TEST(StampingPlan, RequestedMatchesNamesAndStar) {
    EXPECT_TRUE(io::hwtimestamp_requested({"eth0", "eth1"}, "eth1"));
    EXPECT_FALSE(io::hwtimestamp_requested({"eth0"}, "eth1"));
    EXPECT_TRUE(io::hwtimestamp_requested({"*"}, "anything"));
    EXPECT_FALSE(io::hwtimestamp_requested({}, "eth0"));
}

TEST(StampingPlan, ConfigKeyParsesAndRejectsBadNames) {
    const auto ok = config::parse_config("[io]\nhwtimestamp = [\"eth0\", \"*\"]\n", "t.toml");
    ASSERT_TRUE(ok.config) << (ok.errors.empty() ? "" : ok.errors[0].message);
    EXPECT_EQ(ok.config->io.hwtimestamp, (std::vector<std::string>{"eth0", "*"}));
    const auto bad =
        config::parse_config("[io]\nhwtimestamp = [\"a/b\", \"sixteen-chars-xx\"]\n", "t.toml");
    EXPECT_FALSE(bad.config);
    ASSERT_EQ(bad.errors.size(), 2U);
    EXPECT_EQ(bad.errors[0].line, 2U);
    EXPECT_NE(bad.errors[0].message.find("io.hwtimestamp: 'a/b' is not an interface name"),
              std::string::npos);
    const auto wrong_type = config::parse_config("[io]\nhwtimestamp = \"eth0\"\n", "t.toml");
    EXPECT_FALSE(wrong_type.config);
}
