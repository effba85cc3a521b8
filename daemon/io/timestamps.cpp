// timestamps.cpp - kernel timestamp and pktinfo control messages, parsed
// and built (see timestamps.hpp). Pure: no system calls.
#include "io/timestamps.hpp"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>

#include <cstring>

#include "io/sockaddr.hpp"

namespace nanotime::io {
namespace {

bool nonzero(const timespec& t) {
    return t.tv_sec != 0 || t.tv_nsec != 0;
}

}  // namespace

PacketTimestamps timestamps_of(const timespec (&stamps)[3]) {
    PacketTimestamps ts;
    if (nonzero(stamps[0])) ts.software = stamps[0];
    if (nonzero(stamps[2])) ts.hardware = stamps[2];
    return ts;
}

void parse_rx_control(const msghdr& msg, ReceivedDatagram& d) {
    std::optional<timespec> ns_stamp;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
            timespec t;
            std::memcpy(&t, CMSG_DATA(c), sizeof t);
            if (t.tv_sec != 0 || t.tv_nsec != 0) ns_stamp = t;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
                   c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
            scm_timestamping stamps;
            std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
            d.rx = timestamps_of(stamps.ts);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_addr = pi.ipi_addr;
            d.local = from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
            d.ifindex = pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in6 sin6{};
            sin6.sin6_family = AF_INET6;
            sin6.sin6_addr = pi.ipi6_addr;
            d.local = from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
            d.ifindex = static_cast<int>(pi.ipi6_ifindex);
        }
    }
    // The same software stamp; SCM_TIMESTAMPING normally carries it as well.
    if (!d.rx.software) d.rx.software = ns_stamp;
}

std::optional<TxStampReport> parse_tx_report(const msghdr& msg) {
    TxStampReport report;
    std::optional<sock_extended_err> ee;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
            c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
            scm_timestamping stamps;
            std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
            report.tx = timestamps_of(stamps.ts);
        } else if (((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
                   c->cmsg_len >= CMSG_LEN(sizeof(sock_extended_err))) {
            sock_extended_err e;
            std::memcpy(&e, CMSG_DATA(c), sizeof e);
            ee = e;
        }
    }
    if (!ee || ee->ee_origin != SO_EE_ORIGIN_TIMESTAMPING) return std::nullopt;
    report.key = ee->ee_data;  // SOF_TIMESTAMPING_OPT_ID
    return report;
}

size_t build_pktinfo(const std::optional<ntp::SocketAddress>& from, int family, uint8_t* buf,
                     size_t cap) {
    if (!from) return 0;
    sockaddr_storage ss{};
    if (to_sockaddr(*from, ss, family) == 0) return 0;
    msghdr msg{};
    msg.msg_control = buf;
    msg.msg_controllen = cap;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (ss.ss_family == AF_INET && cap >= CMSG_SPACE(sizeof(in_pktinfo))) {
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo pi{};
        pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        return CMSG_SPACE(sizeof(in_pktinfo));
    }
    if (ss.ss_family == AF_INET6 && cap >= CMSG_SPACE(sizeof(in6_pktinfo))) {
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        in6_pktinfo pi{};
        pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        return CMSG_SPACE(sizeof(in6_pktinfo));
    }
    return 0;
}

size_t build_send_control(const std::optional<ntp::SocketAddress>& from, int family, bool tx_stamp,
                          uint8_t* buf, size_t cap) {
    size_t len = build_pktinfo(from, family, buf, cap);
    if (!tx_stamp || cap - len < CMSG_SPACE(sizeof(int))) return len;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(buf + len);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SO_TIMESTAMPING;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    const int flags = SOF_TIMESTAMPING_TX_SOFTWARE;
    std::memcpy(CMSG_DATA(c), &flags, sizeof flags);
    return len + CMSG_SPACE(sizeof(int));
}

}  // namespace nanotime::io
