// socket_address.hpp - an IPv4/IPv6 address and UDP port as a plain value.
//
// The daemon's one address type: the core names peers and clients with it,
// and the event loop, its callers and the tools use it too. Only the system
// calls see sockaddr, converted by io/sockaddr.hpp. IPv4 is kept in its own
// family (not IPv4-mapped IPv6) so that ACLs, rate limits and reference IDs
// see the address a user wrote; the loop maps it back for a dual-stack
// socket.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nanotime::ntp {

enum class AddressFamily : uint8_t { Ipv4, Ipv6 };

struct IpAddress {
    AddressFamily family = AddressFamily::Ipv4;
    // Network byte order. IPv4 uses bytes[0..3], the rest stays zero.
    std::array<uint8_t, 16> bytes{};

    static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
    static IpAddress v6(const std::array<uint8_t, 16>& bytes);
    // What inet_pton(3) reads: a dotted quad of decimal octets without
    // leading zeros, or RFC 4291 text; nothing on anything else.
    static std::optional<IpAddress> parse(std::string_view text);

    size_t size() const { return family == AddressFamily::Ipv4 ? 4 : 16; }
    // ::ffff:a.b.c.d becomes a.b.c.d; other addresses are returned unchanged.
    IpAddress unmapped() const;
    std::string to_string() const;  // inet_ntop(3): "192.0.2.1", "2001:db8::1"

    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct SocketAddress {
    IpAddress ip;
    uint16_t port = 123;
    // IPv6 zone (RFC 4007): the interface index a link-local address is
    // reached through, as sin6_scope_id carries it; 0 for none (and IPv4).
    uint32_t scope_id = 0;

    static SocketAddress v4_any(uint16_t port);       // 0.0.0.0
    static SocketAddress v6_any(uint16_t port);       // ::
    static SocketAddress v4_loopback(uint16_t port);  // 127.0.0.1
    static SocketAddress v6_loopback(uint16_t port);  // ::1

    // "192.0.2.1:123", "[2001:db8::1]:123", "[2001:db8::1]", or an address
    // alone (then @default_port). An IPv6 address may carry a zone (RFC
    // 4007), an interface name or index: "[fe80::1%eth0]:123", "fe80::1%2";
    // a name is looked up with if_nametoindex(3), and an interface that does
    // not exist is refused. The only host:port reader of the daemon and its
    // tools: the configuration check and start-up agree by construction.
    static std::optional<SocketAddress> parse(std::string_view text, uint16_t default_port);
    // "192.0.2.1:123", "[2001:db8::1]:123"; a zone as "[fe80::1%2]:123".
    std::string to_string() const;
    friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
};

}  // namespace nanotime::ntp
