// socket_address.hpp - an IPv4/IPv6 address and UDP port as a plain value.
//
// The core names peers and clients with this type; the event loop converts
// to and from sockaddr. IPv4 is kept in its own family (not IPv4-mapped IPv6)
// so that ACLs and reference IDs see the address a user wrote.
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
    // Dotted quad or RFC 4291 text (with "::"); nothing on malformed text.
    static std::optional<IpAddress> parse(std::string_view text);

    size_t size() const { return family == AddressFamily::Ipv4 ? 4 : 16; }
    // ::ffff:a.b.c.d becomes a.b.c.d; other addresses are returned unchanged.
    IpAddress unmapped() const;
    std::string to_string() const;

    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct SocketAddress {
    IpAddress ip;
    uint16_t port = 123;

    std::string to_string() const;
    friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
};

}  // namespace nanotime::ntp
