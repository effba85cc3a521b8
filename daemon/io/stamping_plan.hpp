// stamping_plan.hpp - which timestamps an interface gives the daemon, decided
// from what its driver reports (ETHTOOL_GET_TS_INFO) and io.hwtimestamp.
// Pure: the probe (interface_stamping.hpp) feeds it the ethtool answer.
//
// What nanotimed does with a NIC that can stamp in hardware: it reports the
// capability and the RX filter it would ask for, and enables nothing
// (no SIOCSHWTSTAMP). Hardware stamps are in the NIC's PTP clock (PHC)
// timescale; the daemon would have to follow that clock against the system
// clock to use them, and it does not yet, so every interface gives kernel
// software stamps (or none) and a PHC stamp never reaches an offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nanotime::io {

// struct ethtool_ts_info's fields that matter here.
struct EthtoolTsInfo {
    uint32_t so_timestamping = 0;  // SOF_TIMESTAMPING_* the driver supports
    int phc_index = -1;            // /dev/ptpN, -1: none
    uint32_t tx_types = 0;         // 1 << HWTSTAMP_TX_*
    uint32_t rx_filters = 0;       // 1 << HWTSTAMP_FILTER_*
};

// One interface as probed: its ts_info, or the errno of the query.
struct InterfaceProbe {
    std::string name;
    std::optional<EthtoolTsInfo> ts_info;
    int error = 0;  // errno of ETHTOOL_GET_TS_INFO when ts_info is absent; ENODEV: no such
                    // interface (named in io.hwtimestamp only)
};

// The decision for one interface, as nanotimectl status shows it.
struct InterfaceStamping {
    std::string name;
    std::string rx;  // "hardware", "kernel" or "daemon" (ntp::stamp_source_name's words)
    std::string tx;
    bool hardware_capable = false;    // RX and TX hardware stamps and a PHC
    bool hardware_requested = false;  // io.hwtimestamp names it (or "*")
    int phc_index = -1;
    std::string rx_filter;  // the filter hardware stamping would ask for ("ntp_all",
                            // "all", "none"); "" when not hardware capable
    std::string reason;     // why these sources, in words
};

// Does io.hwtimestamp (names, or "*" for every interface) name @ifname?
bool hwtimestamp_requested(const std::vector<std::string>& patterns, const std::string& ifname);

// The plan for one probed interface.
InterfaceStamping plan_interface_stamping(const InterfaceProbe& probe, bool requested);

}  // namespace nanotime::io
