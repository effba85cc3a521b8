// interface_stamping.cpp - the ETHTOOL_GET_TS_INFO probe of every interface
// (see interface_stamping.hpp).
#include "io/interface_stamping.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nanotime::io {
namespace {

InterfaceProbe probe_one(int fd, const std::string& name) {
    InterfaceProbe probe;
    probe.name = name;
    ethtool_ts_info info{};
    info.cmd = ETHTOOL_GET_TS_INFO;
    ifreq req{};
    // Names come from if_nameindex() or io.hwtimestamp (checked: at most 15
    // bytes); req is zeroed, so the copy stays NUL-terminated.
    std::memcpy(req.ifr_name, name.data(), std::min<size_t>(name.size(), IFNAMSIZ - 1));
    req.ifr_data = reinterpret_cast<char*>(&info);
    if (fd < 0) {
        probe.error = EBADF;
    } else if (ioctl(fd, SIOCETHTOOL, &req) != 0) {
        probe.error = errno;
    } else {
        probe.ts_info =
            EthtoolTsInfo{info.so_timestamping, info.phc_index, info.tx_types, info.rx_filters};
    }
    return probe;
}

}  // namespace

std::vector<InterfaceStamping> probe_interface_stamping(
    const std::vector<std::string>& hwtimestamp) {
    std::vector<InterfaceStamping> out;
    // Any socket will do for SIOCETHTOOL; an AF_INET datagram one exists on
    // every kernel with IPv4 (AF_INET6 as the fallback).
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int socket_errno = fd < 0 ? errno : 0;
    std::vector<std::string> names;
    if (struct if_nameindex* list = if_nameindex()) {
        for (const struct if_nameindex* i = list; i->if_index != 0 && i->if_name != nullptr; ++i)
            names.emplace_back(i->if_name);
        if_freenameindex(list);
    }
    for (const std::string& name : names) {
        InterfaceProbe probe = probe_one(fd, name);
        if (fd < 0) probe.error = socket_errno;
        out.push_back(plan_interface_stamping(probe, hwtimestamp_requested(hwtimestamp, name)));
    }
    if (fd >= 0) close(fd);
    for (const std::string& wanted : hwtimestamp) {
        if (wanted == "*") continue;
        if (std::find(names.begin(), names.end(), wanted) == names.end()) {
            InterfaceProbe missing;
            missing.name = wanted;
            missing.error = ENODEV;
            out.push_back(plan_interface_stamping(missing, true));
        }
    }
    return out;
}

}  // namespace nanotime::io
