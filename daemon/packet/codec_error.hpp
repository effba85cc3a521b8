// codec_error.hpp - why a packet was rejected or could not be encoded.
#pragma once

#include <cstdint>
#include <string_view>

namespace nanotime::ntp {

enum class ParseError : uint8_t {
    TooShort,                    // fewer than 48 octets
    UnsupportedVersion,          // version 0 or above 4
    UnsupportedMode,             // mode 0 (reserved), 6 (control) or 7 (private)
    ExtensionFieldTooShort,      // length field below 16 octets
    ExtensionFieldMisaligned,    // length field not a multiple of 4
    ExtensionFieldTruncated,     // length field runs past the end of the packet
    InvalidMacLength,            // trailer is neither a crypto-NAK nor a 16/20-octet digest
    ExtensionFieldInOldVersion,  // NTPv1-3 carry no extension fields
};

enum class EncodeError : uint8_t {
    ExtensionFieldMisaligned,  // value size not a multiple of 4
    ExtensionFieldTooLong,     // more than 65535 octets
    InvalidMacLength,          // digest neither empty, 16 nor 20 octets
};

std::string_view to_string(ParseError error);
std::string_view to_string(EncodeError error);

}  // namespace nanotime::ntp
