// access_list.hpp - allow/deny CIDR rules for the NTP server (IPv4 and IPv6).
//
// The rule with the longest prefix that contains the client decides; at
// equal length deny wins. No matching rule means deny, so a server with an
// empty list answers nobody ("closed unless configured"). IPv4-mapped IPv6
// clients (::ffff:a.b.c.d) are matched against IPv4 rules only, and a rule
// written as ::ffff:a.b.c.d/N (N >= 96) is the IPv4 rule a.b.c.d/(N-96).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "net/socket_address.hpp"

namespace nanotime::ntp {

struct Cidr {
    IpAddress network;   // host bits are cleared
    uint8_t prefix = 0;  // 0..32 (IPv4) or 0..128 (IPv6)

    // "192.0.2.0/24", "2001:db8::/32", or a bare address (full length).
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& address) const;
};

enum class AccessRule : uint8_t { Allow, Deny };

class AccessList {
  public:
    void add(const Cidr& cidr, AccessRule rule) { rules_.push_back({cidr, rule}); }
    void allow(const Cidr& cidr) { add(cidr, AccessRule::Allow); }
    void deny(const Cidr& cidr) { add(cidr, AccessRule::Deny); }
    bool empty() const { return rules_.empty(); }

    bool permits(const IpAddress& address) const;

  private:
    struct Entry {
        Cidr cidr;
        AccessRule rule;
    };
    std::vector<Entry> rules_;
};

}  // namespace nanotime::ntp
