// endpoint.hpp - a socket address (IPv4, IPv6) as a value the loop hands out.
//
// The event loop speaks sockaddr; the protocol core speaks its own
// ntp::SocketAddress. Endpoint is the loop's side: it owns a sockaddr_storage
// and knows its length, so it can go straight into msghdr.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/socket_address.hpp"

namespace nanotime::io {

class Endpoint {
  public:
    Endpoint() = default;
    // From a sockaddr the kernel filled in; unknown families give an empty Endpoint.
    static Endpoint from_sockaddr(const sockaddr* sa, socklen_t len);
    // "192.0.2.1:123", "[2001:db8::1]:123", or an address alone with
    // @default_port: ntp::SocketAddress::parse, the daemon's one reader.
    static std::optional<Endpoint> parse(std::string_view text, uint16_t default_port);
    static Endpoint v4_loopback(uint16_t port);
    static Endpoint v6_loopback(uint16_t port);
    static Endpoint v4_any(uint16_t port);
    static Endpoint v6_any(uint16_t port);

    bool empty() const { return len_ == 0; }
    int family() const { return storage_.ss_family; }
    bool is_v6() const { return family() == AF_INET6; }
    uint16_t port() const;
    void set_port(uint16_t port);

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t len() const { return len_; }
    const sockaddr_storage& storage() const { return storage_; }

    // The address without the port ("192.0.2.1", "2001:db8::1").
    std::string address_string() const;
    // "192.0.2.1:123" or "[2001:db8::1]:123".
    std::string to_string() const;

    friend bool operator==(const Endpoint& a, const Endpoint& b);

  private:
    sockaddr_storage storage_{};
    socklen_t len_ = 0;
};

// The core's address of an endpoint (IPv4-mapped IPv6 becomes IPv4, as the
// access list and reference IDs want it) and back.
ntp::SocketAddress to_core(const Endpoint& e);
Endpoint to_endpoint(const ntp::SocketAddress& a);

}  // namespace nanotime::io
