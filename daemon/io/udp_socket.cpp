// udp_socket.cpp - a UDP socket with the options UdpOptions asks for
// (see udp_socket.hpp); the event loop's open_udp() registers it.
#include "io/udp_socket.hpp"

#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "io/sockaddr.hpp"

namespace nanotime::io {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

bool try_opt(const Syscalls& sys, int fd, int level, int name, int value) {
    return sys.setsockopt(fd, level, name, &value, sizeof value) == 0;
}

void set_opt(const Syscalls& sys, int fd, int level, int name, int value, const char* what) {
    if (!try_opt(sys, fd, level, name, value)) throw_errno(what);
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

int open_udp_socket(const Syscalls& sys, UdpOptions& options,
                    const std::function<void(const std::string&)>& note_fallback) {
    sockaddr_storage bind_address;
    const socklen_t bind_length = to_sockaddr(options.bind, bind_address);
    const int family = bind_address.ss_family;
    bool fcntl_flags = false;
    const int fd = open_socket(sys, family, SOCK_DGRAM, 0, &fcntl_flags);
    if (fd < 0) throw_errno("socket");
    if (fcntl_flags) {
        note_fallback("socket() refuses SOCK_NONBLOCK|SOCK_CLOEXEC (EINVAL): flags set with fcntl");
    }
    try {
        if (family == AF_INET6)
            set_opt(sys, fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6only, "IPV6_V6ONLY");
        if (options.reuse_port) set_opt(sys, fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        if (options.pktinfo) {
            const bool ok = family == AF_INET ? try_opt(sys, fd, IPPROTO_IP, IP_PKTINFO, 1)
                                              : try_opt(sys, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
            if (!ok) {
                // Replies then leave from the address the routing picks.
                note_fallback(errno_text("IP_PKTINFO refused") +
                              ": destination addresses of datagrams unknown");
                options.pktinfo = false;
            }
        }
        // Timestamps: the full set, else without the hardware bits (some
        // emulations and old kernels refuse them), else receive stamps only,
        // else none (the daemon then reads its clock when a datagram is
        // handled). Never fatal: a socket without stamps still works.
        constexpr int kRxSoft = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
        constexpr int kRxHard = SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE;
        constexpr int kTx = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                            SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
        const int rx = options.rx_timestamps ? kRxSoft | kRxHard : 0;
        // On request: the key and report flags only; the record flag comes
        // with each datagram that wants a stamp (build_send_control).
        constexpr int kTxOnRequest =
            SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
        if (options.tx_timestamps) options.tx_timestamps_on_request = false;
        const int tx = options.tx_timestamps              ? kTx
                       : options.tx_timestamps_on_request ? kTxOnRequest
                                                          : 0;
        if (rx | tx) {
            const int attempts[] = {rx | tx, (rx & ~kRxHard) | tx, rx & ~kRxHard};
            int got = 0;
            for (int flags : attempts) {
                if (flags == 0) continue;
                if (try_opt(sys, fd, SOL_SOCKET, SO_TIMESTAMPING, flags)) {
                    got = flags;
                    break;
                }
            }
            if (got != (rx | tx)) {
                note_fallback(errno_text("SO_TIMESTAMPING refused") +
                              (got != 0 ? ": software stamps only" : ": no kernel stamps"));
            }
            if ((got & SOF_TIMESTAMPING_TX_SOFTWARE) == 0) options.tx_timestamps = false;
            if ((got & SOF_TIMESTAMPING_OPT_ID) == 0) options.tx_timestamps_on_request = false;
        }
        // The kernel stamps received packets only while its global "someone
        // wants timestamps" static key is on, and switching that key on (the
        // first timestamping socket on the host) happens later, in a work
        // item: datagrams that arrive in between have no stamp, and
        // SO_TIMESTAMPING alone reports none for them. SO_TIMESTAMPNS makes
        // recvmsg() fill in the current time for such a packet (the
        // "race between timestamp enabling and packet receiving" case in
        // __sock_recv_timestamp), and SCM_TIMESTAMPING then carries it too.
        // It costs a second control message per datagram, so the loop turns
        // it off again once the switch is surely on (EventLoop::deliver).
        if (options.rx_timestamps && !try_opt(sys, fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) {
            note_fallback(errno_text("SO_TIMESTAMPNS refused"));
        }
        // TX stamps wake the loop with POLLPRI as well as POLLERR, the way
        // chrony waits for them (select()'s exception set); emulations of
        // poll() that know no POLLERR (clknetsim) report only this. Not
        // fatal: on Linux POLLERR alone suffices.
        if (options.any_tx_timestamps()) try_opt(sys, fd, SOL_SOCKET, SO_SELECT_ERR_QUEUE, 1);
        if (bind(fd, reinterpret_cast<const sockaddr*>(&bind_address), bind_length) != 0)
            throw_errno("bind");
    } catch (...) {
        close(fd);
        throw;
    }
    return fd;
}

}  // namespace nanotime::io
