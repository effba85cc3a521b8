// reference_id.hpp - reference IDs and kiss-o'-death codes (RFC 5905 §7.3, §7.4).
//
// The 32-bit reference ID is, by stratum of the sender:
//   0      a four-letter ASCII kiss code ("RATE", "DENY", ...)
//   1      a four-letter ASCII reference clock name ("GPS", "PPS", ...)
//   2..15  the upstream's IPv4 address, or the first four octets of the MD5
//          hash of its IPv6 address (used by peers for loop detection)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/socket_address.hpp"
#include "packet/packet.hpp"

namespace nanotime::ntp {

// Up to four ASCII characters, left-aligned and NUL-padded.
constexpr uint32_t reference_id_from_ascii(std::string_view text) {
    uint32_t id = 0;
    for (size_t i = 0; i < 4; ++i) {
        const uint8_t c = i < text.size() ? static_cast<uint8_t>(text[i]) : 0;
        id |= static_cast<uint32_t>(c) << (24 - 8 * i);
    }
    return id;
}

// Printable rendering of an ASCII reference ID (non-printables become '?').
std::string reference_id_to_ascii(uint32_t id);

uint32_t reference_id_for_address(const IpAddress& address);

enum class KissCode : uint8_t {
    Rate,   // slow down: the server rate-limits us
    Deny,   // access denied: stop
    Rstr,   // access restricted: stop
    Other,  // any other code: informational, the sample is not used
};

inline constexpr uint32_t kKissRate = reference_id_from_ascii("RATE");
inline constexpr uint32_t kKissDeny = reference_id_from_ascii("DENY");
inline constexpr uint32_t kKissRstr = reference_id_from_ascii("RSTR");
// Sent by a server that has no synchronized time yet.
inline constexpr uint32_t kRefIdInit = reference_id_from_ascii("INIT");

// The kiss code of a kiss-o'-death packet (stratum 0 in a server reply).
std::optional<KissCode> kiss_code(const NtpHeader& header);

}  // namespace nanotime::ntp
