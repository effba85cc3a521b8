// stamping_plan.cpp - the per-interface timestamping decision (see
// stamping_plan.hpp). Pure.
#include "io/stamping_plan.hpp"

#include <linux/net_tstamp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nanotime::io {
namespace {

constexpr uint32_t kHardwareBits =
    SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE;

bool has(uint32_t set, uint32_t bits) {
    return (set & bits) == bits;
}

// The RX filter chrony's "rxfilter any" picks: NTP packets only where the
// NIC can pick them out, else every packet, else none (TX stamps only).
std::string best_rx_filter(uint32_t rx_filters) {
    if ((rx_filters & (1U << HWTSTAMP_FILTER_NTP_ALL)) != 0) return "ntp_all";
    if ((rx_filters & (1U << HWTSTAMP_FILTER_ALL)) != 0) return "all";
    return "none";
}

// The hardware bits a driver lacks, for the reason text ("TX_HARDWARE, a PHC").
std::string missing_hardware(const EthtoolTsInfo& info) {
    std::string out;
    auto add = [&out](const char* what) {
        if (!out.empty()) out += ", ";
        out += what;
    };
    if ((info.so_timestamping & SOF_TIMESTAMPING_TX_HARDWARE) == 0) add("TX_HARDWARE");
    if ((info.so_timestamping & SOF_TIMESTAMPING_RX_HARDWARE) == 0) add("RX_HARDWARE");
    if ((info.so_timestamping & SOF_TIMESTAMPING_RAW_HARDWARE) == 0) add("RAW_HARDWARE");
    if ((info.tx_types & (1U << HWTSTAMP_TX_ON)) == 0) add("HWTSTAMP_TX_ON");
    if (info.phc_index < 0) add("a PHC");
    return out;
}

}  // namespace

bool hwtimestamp_requested(const std::vector<std::string>& patterns, const std::string& ifname) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return p == "*" || p == ifname; });
}

InterfaceStamping plan_interface_stamping(const InterfaceProbe& probe, bool requested) {
    InterfaceStamping s;
    s.name = probe.name;
    s.hardware_requested = requested;
    // The kernel stamps received datagrams in its network core whatever the
    // driver: RX is "kernel" on every interface.
    s.rx = "kernel";
    if (!probe.ts_info) {
        s.tx = "kernel";
        s.reason = probe.error == ENODEV
                       ? std::string("no such interface (named in io.hwtimestamp)")
                       : std::string("ETHTOOL_GET_TS_INFO failed: ") + std::strerror(probe.error) +
                             "; kernel software stamps";
        return s;
    }
    const EthtoolTsInfo& info = *probe.ts_info;
    s.phc_index = info.phc_index;
    // Software TX stamps come from the driver (skb_tx_timestamp), and only
    // drivers that call it advertise SOF_TIMESTAMPING_TX_SOFTWARE; without
    // them the daemon's clock reading before the send stands.
    const bool tx_software = (info.so_timestamping & SOF_TIMESTAMPING_TX_SOFTWARE) != 0;
    s.tx = tx_software ? "kernel" : "daemon";
    const std::string tx_note =
        tx_software ? "" : "; the driver gives no software TX stamps (ethtool: no TX_SOFTWARE)";
    const uint32_t hardware = info.so_timestamping & kHardwareBits;
    if (hardware == 0) {
        s.reason = "no hardware timestamping (ethtool: software only)" + tx_note;
        return s;
    }
    s.hardware_capable = has(info.so_timestamping, kHardwareBits) &&
                         (info.tx_types & (1U << HWTSTAMP_TX_ON)) != 0 && info.phc_index >= 0;
    if (!s.hardware_capable) {
        s.reason = "incomplete hardware timestamping (ethtool: no " + missing_hardware(info) +
                   "); kernel software stamps" + tx_note;
        return s;
    }
    s.rx_filter = best_rx_filter(info.rx_filters);
    const std::string what = "hardware timestamping available (PHC /dev/ptp" +
                             std::to_string(info.phc_index) + ", RX filter " + s.rx_filter + ")";
    s.reason = requested ? what +
                               " but not enabled: nanotimed does not convert PHC stamps to the "
                               "system clock yet; kernel software stamps" +
                               tx_note
                         : what +
                               ", not requested (io.hwtimestamp does not name it); kernel "
                               "software stamps" +
                               tx_note;
    return s;
}

}  // namespace nanotime::io
