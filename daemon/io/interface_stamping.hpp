// interface_stamping.hpp - asks each network interface of the daemon's
// namespace what timestamps its driver offers (SIOCETHTOOL,
// ETHTOOL_GET_TS_INFO) and plans them (stamping_plan.hpp). Runs at start-up,
// before the privilege drop and the seccomp filter; changes nothing on the
// interfaces.
#pragma once

#include <string>
#include <vector>

#include "io/stamping_plan.hpp"

namespace nanotime::io {

// Every interface (if_nameindex order), then the io.hwtimestamp names that
// match none ("no such interface"), each with its plan.
std::vector<InterfaceStamping> probe_interface_stamping(
    const std::vector<std::string>& hwtimestamp);

}  // namespace nanotime::io
