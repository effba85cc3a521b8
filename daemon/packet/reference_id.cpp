#include "packet/reference_id.hpp"

#include "util/digest.hpp"

namespace nanotime::ntp {

std::string reference_id_to_ascii(uint32_t id) {
    std::string out;
    for (int i = 0; i < 4; ++i) {
        const char c = static_cast<char>(id >> (24 - 8 * i));
        if (c == 0) break;
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

uint32_t reference_id_for_address(const IpAddress& address) {
    const IpAddress ip = address.unmapped();
    if (ip.family == AddressFamily::Ipv4) {
        return static_cast<uint32_t>(ip.bytes[0]) << 24 | static_cast<uint32_t>(ip.bytes[1]) << 16 |
               static_cast<uint32_t>(ip.bytes[2]) << 8 | ip.bytes[3];
    }
    const auto digest = md5(std::span<const uint8_t>(ip.bytes.data(), ip.bytes.size()));
    return static_cast<uint32_t>(digest[0]) << 24 | static_cast<uint32_t>(digest[1]) << 16 |
           static_cast<uint32_t>(digest[2]) << 8 | digest[3];
}

std::optional<KissCode> kiss_code(const NtpHeader& header) {
    if (header.stratum != 0 || header.mode != Mode::Server) return std::nullopt;
    switch (header.reference_id) {
        case kKissRate:
            return KissCode::Rate;
        case kKissDeny:
            return KissCode::Deny;
        case kKissRstr:
            return KissCode::Rstr;
        default:
            return KissCode::Other;
    }
}

}  // namespace nanotime::ntp
