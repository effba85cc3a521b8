// socket_address.cpp - text <-> IpAddress/SocketAddress through inet_pton(3)
// and inet_ntop(3), and the one "host:port" splitter every reader of
// addresses (configuration, event loop, tools) uses, so that what the
// configuration check accepts is exactly what start-up can bind.
#include "net/socket_address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <charconv>

namespace nanotime::ntp {
namespace {

// An IPv6 zone: an interface index in decimal (not 0) or the name of an
// interface that exists.
std::optional<uint32_t> parse_zone(std::string_view text) {
    if (text.empty() || text.size() >= IF_NAMESIZE) return std::nullopt;
    uint32_t index = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, index);
    if (ec == std::errc() && p == end) {
        if (index == 0) return std::nullopt;
        return index;
    }
    char name[IF_NAMESIZE] = {};
    text.copy(name, text.size());
    index = if_nametoindex(name);
    if (index == 0) return std::nullopt;
    return index;
}

// A decimal port, 0..65535, digits only (no sign, no blanks).
std::optional<uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    auto [next, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || next != text.data() + text.size() || value > 65535) {
        return std::nullopt;
    }
    return static_cast<uint16_t>(value);
}

}  // namespace

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress ip;
    ip.family = AddressFamily::Ipv4;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
    IpAddress ip;
    ip.family = AddressFamily::Ipv6;
    ip.bytes = bytes;
    return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // INET6_ADDRSTRLEN (46) bounds every valid text form; inet_pton wants a
    // NUL-terminated string, so anything longer is refused before the copy.
    char buffer[INET6_ADDRSTRLEN];
    if (text.size() >= sizeof buffer || text.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    text.copy(buffer, text.size());
    buffer[text.size()] = '\0';
    IpAddress ip;
    if (inet_pton(AF_INET, buffer, ip.bytes.data()) == 1) return ip;
    if (inet_pton(AF_INET6, buffer, ip.bytes.data()) == 1) {
        ip.family = AddressFamily::Ipv6;
        return ip;
    }
    return std::nullopt;
}

IpAddress IpAddress::unmapped() const {
    if (family != AddressFamily::Ipv6) return *this;
    for (int i = 0; i < 10; ++i) {
        if (bytes[i] != 0) return *this;
    }
    if (bytes[10] != 0xff || bytes[11] != 0xff) return *this;
    return v4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

std::string IpAddress::to_string() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == AddressFamily::Ipv4 ? AF_INET : AF_INET6, bytes.data(), buffer,
              sizeof buffer);
    return buffer;
}

SocketAddress SocketAddress::v4_any(uint16_t port) {
    return SocketAddress{IpAddress::v4(0, 0, 0, 0), port};
}

SocketAddress SocketAddress::v6_any(uint16_t port) {
    return SocketAddress{IpAddress::v6({}), port};
}

SocketAddress SocketAddress::v4_loopback(uint16_t port) {
    return SocketAddress{IpAddress::v4(127, 0, 0, 1), port};
}

SocketAddress SocketAddress::v6_loopback(uint16_t port) {
    std::array<uint8_t, 16> bytes{};
    bytes[15] = 1;
    return SocketAddress{IpAddress::v6(bytes), port};
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text, uint16_t default_port) {
    std::string_view host = text;
    std::optional<uint16_t> port = default_port;
    bool bracketed = false;
    if (!text.empty() && text.front() == '[') {
        // "[v6]" or "[v6]:port"
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = parse_port(rest.substr(1));
        }
        bracketed = true;
    } else if (const size_t colon = text.find(':');
               colon != std::string_view::npos &&
               text.find(':', colon + 1) == std::string_view::npos) {
        // "v4:port"; more than one colon is an IPv6 address without a port.
        host = text.substr(0, colon);
        port = parse_port(text.substr(colon + 1));
    }
    if (!port) return std::nullopt;
    uint32_t scope_id = 0;
    if (const size_t percent = host.find('%'); percent != std::string_view::npos) {
        const std::optional<uint32_t> zone = parse_zone(host.substr(percent + 1));
        if (!zone) return std::nullopt;
        scope_id = *zone;
        host = host.substr(0, percent);
    }
    const std::optional<IpAddress> ip = IpAddress::parse(host);
    if (!ip || (bracketed && ip->family != AddressFamily::Ipv6)) return std::nullopt;
    if (scope_id != 0 && ip->family != AddressFamily::Ipv6) return std::nullopt;
    return SocketAddress{*ip, *port, scope_id};
}

std::string SocketAddress::to_string() const {
    if (ip.family == AddressFamily::Ipv4) return ip.to_string() + ":" + std::to_string(port);
    const std::string zone = scope_id != 0 ? "%" + std::to_string(scope_id) : "";
    return "[" + ip.to_string() + zone + "]:" + std::to_string(port);
}

}  // namespace nanotime::ntp
