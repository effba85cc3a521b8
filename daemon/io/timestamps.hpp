// timestamps.hpp - reading and writing the control messages that carry
// kernel timestamps and pktinfo. Pure: a msghdr in, values out, no system
// calls. Every received datagram (both backends) and every error-queue
// message goes through here; the unit tests feed it hand-built messages.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "io/event_loop.hpp"
#include "net/socket_address.hpp"

namespace nanotime::io {

// The software (ts[0], CLOCK_REALTIME) and raw hardware (ts[2]) stamps of an
// SCM_TIMESTAMPING payload (struct scm_timestamping's three stamps); an
// all-zero stamp is absent.
PacketTimestamps timestamps_of(const timespec (&stamps)[3]);

// A received datagram's control messages: SCM_TIMESTAMPING (and
// SCM_TIMESTAMPNS, used when the former has no software stamp) into d.rx,
// IP_PKTINFO / IPV6_PKTINFO into d.local and d.ifindex. Short messages are
// skipped.
void parse_rx_control(const msghdr& msg, ReceivedDatagram& d);

// A message from a socket's error queue that reports a TX timestamp:
// its SOF_TIMESTAMPING_OPT_ID key and the stamps.
struct TxStampReport {
    uint32_t key = 0;
    PacketTimestamps tx;
};
// Nothing when the message is not a timestamp report (an ICMP error, say).
std::optional<TxStampReport> parse_tx_report(const msghdr& msg);

// Writes the pktinfo control message that makes a datagram leave from
// @from (a wildcard socket's local address) into @buf, as a socket of
// @family wants it (an IPv4 address on an AF_INET6 socket: IPV6_PKTINFO
// with the IPv4-mapped address); returns its length, 0 when there is no
// @from, @family cannot carry it, or @cap is too small.
size_t build_pktinfo(const std::optional<ntp::SocketAddress>& from, int family, uint8_t* buf,
                     size_t cap);

// The control messages of one outgoing datagram into @buf: the pktinfo of
// @from (build_pktinfo), then, for @tx_stamp, an SO_TIMESTAMPING message
// asking the kernel for this datagram's software TX stamp (Linux >= 3.17
// takes the TX record flags per sendmsg). Returns the length used, 0 for
// none; a stamp request that does not fit in @cap is left out.
size_t build_send_control(const std::optional<ntp::SocketAddress>& from, int family, bool tx_stamp,
                          uint8_t* buf, size_t cap);

// Room build_send_control() needs at most.
inline constexpr size_t kSendControlSize =
    CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int));

}  // namespace nanotime::io
