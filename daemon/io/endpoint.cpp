#include "io/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
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
    std::string host;
    uint16_t port = default_port;
    auto parse_port = [&](std::string_view p) {
        unsigned v = 0;
        auto [next, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
        if (ec != std::errc{} || next != p.data() + p.size() || v > 65535 || p.empty()) {
            return false;
        }
        port = static_cast<uint16_t>(v);
        return true;
    };
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':' || !parse_port(rest.substr(1))) return std::nullopt;
        }
    } else {
        const size_t colon = text.find(':');
        if (colon != std::string_view::npos &&
            text.find(':', colon + 1) == std::string_view::npos) {
            host = std::string(text.substr(0, colon));
            if (!parse_port(text.substr(colon + 1))) return std::nullopt;
        } else {
            host = std::string(text);  // IPv4 alone, or bare IPv6 without a port
        }
    }
    Endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage_);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        e.len_ = sizeof(sockaddr_in);
        return e;
    }
    e.storage_ = {};
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        e.len_ = sizeof(sockaddr_in6);
        return e;
    }
    return std::nullopt;
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

bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace nanotime::io
