// sockaddr.hpp - ntp::SocketAddress to and from the kernel's sockaddr.
//
// The daemon names addresses with ntp::SocketAddress everywhere; sockaddr
// exists only at the system calls (bind, connect, accept, getsockname,
// sendmsg/recvmsg and their io_uring forms, pktinfo, getaddrinfo), and this
// pair of functions is the only way between the two. Pure: no system calls.
//
// IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack AF_INET6 socket
// reports for an IPv4 peer) becomes plain IPv4 on the way in, so access
// lists, rate limits and maps see one address per host; on the way out an
// IPv4 address for an AF_INET6 socket is mapped again, so a reply goes to
// exactly the sockaddr the request came from.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>

#include "net/socket_address.hpp"

namespace nanotime::io {

// AF_INET or AF_INET6: the socket family that reaches @address natively.
int socket_family(const ntp::SocketAddress& address);

// Writes @address into @out as a socket of @family (AF_INET, AF_INET6, or
// AF_UNSPEC: @address's own) wants it; returns the sockaddr's length, 0 when
// @family cannot carry it (IPv6 for an AF_INET socket).
socklen_t to_sockaddr(const ntp::SocketAddress& address, sockaddr_storage& out,
                      int family = AF_UNSPEC);

// The address the kernel filled in; nothing for families other than
// AF_INET and AF_INET6 or a length too short for one.
std::optional<ntp::SocketAddress> from_sockaddr(const sockaddr* sa, socklen_t len);

}  // namespace nanotime::io
