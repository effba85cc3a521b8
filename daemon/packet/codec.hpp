// codec.hpp - NTP packet parsing and serialization.
//
// Parsing is strict and total: any octet string yields either a Packet or a
// ParseError, never an exception or a read past the end. RFC 7822 rules for
// what follows the 48-octet header in NTPv4:
//   * a remainder of exactly 4 octets is a crypto-NAK, of 20 or 24 octets a
//     MAC (key ID + 16-octet MD5 or 20-octet SHA-1 digest);
//   * otherwise the next octets must be an extension field: length >= 16,
//     a multiple of 4, and within the packet; unknown types are kept.
// Checking for a MAC first is what disambiguates a MAC from a field: a field
// is never shorter than 16 octets and a final field without a MAC must be at
// least 28 (RFC 7822 §7.5), so a 20/24-octet remainder can only be a MAC.
// Like chrony, we accept a final 16-octet field without a MAC (it cannot be
// a MAC either), but we never send one: serialize() pads such a field to 28.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "packet/codec_error.hpp"
#include "packet/packet.hpp"
#include "util/result.hpp"

namespace nanotime::ntp {

inline constexpr size_t kMinExtensionFieldLength = 16;
inline constexpr size_t kMinLastExtensionFieldLength = 28;  // without a MAC
inline constexpr size_t kCryptoNakLength = 4;
inline constexpr size_t kMd5MacLength = 4 + 16;
inline constexpr size_t kSha1MacLength = 4 + 20;

Result<Packet, ParseError> parse_packet(std::span<const uint8_t> bytes);

// The header alone; validates the header fields but not what follows.
Result<NtpHeader, ParseError> parse_header(std::span<const uint8_t> bytes);

struct TrailerSummary {
    size_t extension_fields = 0;
    bool has_mac = false;  // a MAC or crypto-NAK follows
};

// Validates the whole packet without materializing the trailer: what
// follows the header, or the error parse_packet() would report.
// Allocation-free, for the server's hot path.
Result<TrailerSummary, ParseError> validate_trailer(std::span<const uint8_t> bytes);

std::array<uint8_t, kHeaderLength> serialize_header(const NtpHeader& header);
Result<std::vector<uint8_t>, EncodeError> serialize(const Packet& packet);

}  // namespace nanotime::ntp
