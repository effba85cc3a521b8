#include "server/access_list.hpp"

#include <charconv>

namespace nanotime::ntp {
namespace {

IpAddress masked(IpAddress address, unsigned prefix) {
    const unsigned bits = static_cast<unsigned>(address.size()) * 8;
    for (unsigned bit = prefix; bit < bits; ++bit) {
        address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    }
    return address;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
    const size_t slash = text.find('/');
    auto address = IpAddress::parse(text.substr(0, slash));
    if (!address) return std::nullopt;
    const unsigned max_prefix = static_cast<unsigned>(address->size()) * 8;
    unsigned prefix = max_prefix;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
            prefix > max_prefix) {
            return std::nullopt;
        }
    }
    // An IPv4-mapped rule (::ffff:a.b.c.d/96+) is an IPv4 rule, because
    // mapped clients are matched as IPv4.
    if (address->family == AddressFamily::Ipv6 && prefix >= 96 &&
        address->unmapped().family == AddressFamily::Ipv4) {
        return Cidr{masked(address->unmapped(), prefix - 96), static_cast<uint8_t>(prefix - 96)};
    }
    return Cidr{masked(*address, prefix), static_cast<uint8_t>(prefix)};
}

bool Cidr::contains(const IpAddress& address) const {
    const IpAddress candidate = address.unmapped();
    if (candidate.family != network.family) return false;
    return masked(candidate, prefix) == network;
}

bool AccessList::permits(const IpAddress& address) const {
    int best_prefix = -1;
    bool allowed = false;
    for (const Entry& entry : rules_) {
        if (!entry.cidr.contains(address)) continue;
        const int prefix = entry.cidr.prefix;
        if (prefix > best_prefix) {
            best_prefix = prefix;
            allowed = entry.rule == AccessRule::Allow;
        } else if (prefix == best_prefix && entry.rule == AccessRule::Deny) {
            allowed = false;
        }
    }
    return allowed;
}

}  // namespace nanotime::ntp
