// sockaddr.cpp - ntp::SocketAddress <-> sockaddr_in / sockaddr_in6 (see
// sockaddr.hpp).
#include "io/sockaddr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace nanotime::io {

int socket_family(const ntp::SocketAddress& address) {
    return address.ip.family == ntp::AddressFamily::Ipv4 ? AF_INET : AF_INET6;
}

socklen_t to_sockaddr(const ntp::SocketAddress& address, sockaddr_storage& out, int family) {
    if (family == AF_UNSPEC) family = socket_family(address);
    out = sockaddr_storage{};
    if (family == AF_INET) {
        if (address.ip.family != ntp::AddressFamily::Ipv4) return 0;
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(address.port);
        std::memcpy(&sin.sin_addr, address.ip.bytes.data(), 4);
        std::memcpy(&out, &sin, sizeof sin);
        return sizeof sin;
    }
    if (family != AF_INET6) return 0;
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(address.port);
    if (address.ip.family == ntp::AddressFamily::Ipv4) {
        // ::ffff:a.b.c.d, how an AF_INET6 socket reaches an IPv4 peer.
        sin6.sin6_addr.s6_addr[10] = 0xff;
        sin6.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&sin6.sin6_addr.s6_addr[12], address.ip.bytes.data(), 4);
    } else {
        std::memcpy(&sin6.sin6_addr, address.ip.bytes.data(), 16);
        sin6.sin6_scope_id = address.scope_id;
    }
    std::memcpy(&out, &sin6, sizeof sin6);
    return sizeof sin6;
}

std::optional<ntp::SocketAddress> from_sockaddr(const sockaddr* sa, socklen_t len) {
    if (sa == nullptr) return std::nullopt;
    ntp::SocketAddress address;
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in sin{};
        std::memcpy(&sin, sa, sizeof sin);
        address.ip.family = ntp::AddressFamily::Ipv4;
        std::memcpy(address.ip.bytes.data(), &sin.sin_addr, 4);
        address.port = ntohs(sin.sin_port);
        return address;
    }
    if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, sa, sizeof sin6);
        address.ip.family = ntp::AddressFamily::Ipv6;
        std::memcpy(address.ip.bytes.data(), &sin6.sin6_addr, 16);
        address.ip = address.ip.unmapped();
        address.port = ntohs(sin6.sin6_port);
        if (address.ip.family == ntp::AddressFamily::Ipv6) address.scope_id = sin6.sin6_scope_id;
        return address;
    }
    return std::nullopt;
}

}  // namespace nanotime::io
