#include "io/endpoint.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace nanotime::io {

Endpoint Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
    Endpoint e;
    if (sa == nullptr) return e;
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        std::memcpy(&e.storage_, sa, sizeof(sockaddr_in));
        e.len_ = sizeof(sockaddr_in);
    } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        std::memcpy(&e.storage_, sa, sizeof(sockaddr_in6));
        e.len_ = sizeof(sockaddr_in6);
    }
    return e;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text, uint16_t default_port) {
    const std::optional<ntp::SocketAddress> address = ntp::SocketAddress::parse(text, default_port);
    if (!address) return std::nullopt;
    return to_endpoint(*address);
}

Endpoint Endpoint::v4_loopback(uint16_t port) {
    return *parse("127.0.0.1", port);
}
Endpoint Endpoint::v6_loopback(uint16_t port) {
    return *parse("::1", port);
}
Endpoint Endpoint::v4_any(uint16_t port) {
    return *parse("0.0.0.0", port);
}
Endpoint Endpoint::v6_any(uint16_t port) {
    return *parse("::", port);
}

uint16_t Endpoint::port() const {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    }
    return 0;
}

void Endpoint::set_port(uint16_t port) {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string Endpoint::address_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                  sizeof buf);
    } else if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                  sizeof buf);
    } else {
        return "-";
    }
    return buf;
}

std::string Endpoint::to_string() const {
    if (family() == AF_INET6) return "[" + address_string() + "]:" + std::to_string(port());
    if (family() == AF_INET) return address_string() + ":" + std::to_string(port());
    return "-";
}

ntp::SocketAddress to_core(const Endpoint& e) {
    ntp::SocketAddress a;
    a.port = e.port();
    if (e.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(e.sa());
        a.ip.family = ntp::AddressFamily::Ipv4;
        std::memcpy(a.ip.bytes.data(), &sin->sin_addr, 4);
    } else if (e.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(e.sa());
        a.ip.family = ntp::AddressFamily::Ipv6;
        std::memcpy(a.ip.bytes.data(), &sin6->sin6_addr, 16);
        a.ip = a.ip.unmapped();
    }
    return a;
}

Endpoint to_endpoint(const ntp::SocketAddress& a) {
    if (a.ip.family == ntp::AddressFamily::Ipv4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a.port);
        std::memcpy(&sin.sin_addr, a.ip.bytes.data(), 4);
        return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(a.port);
    std::memcpy(&sin6.sin6_addr, a.ip.bytes.data(), 16);
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
}

bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace nanotime::io
