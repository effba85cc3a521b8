#include "packet/codec_error.hpp"

namespace nanotime::ntp {

std::string_view to_string(ParseError error) {
    switch (error) {
        case ParseError::TooShort:
            return "packet shorter than the 48-octet header";
        case ParseError::UnsupportedVersion:
            return "unsupported NTP version";
        case ParseError::UnsupportedMode:
            return "unsupported association mode";
        case ParseError::ExtensionFieldTooShort:
            return "extension field shorter than 16 octets";
        case ParseError::ExtensionFieldMisaligned:
            return "extension field length not a multiple of 4";
        case ParseError::ExtensionFieldTruncated:
            return "extension field runs past the end of the packet";
        case ParseError::InvalidMacLength:
            return "invalid MAC length";
        case ParseError::ExtensionFieldInOldVersion:
            return "extension field in an NTPv1-3 packet";
    }
    return "unknown parse error";
}

std::string_view to_string(EncodeError error) {
    switch (error) {
        case EncodeError::ExtensionFieldMisaligned:
            return "extension field value not a multiple of 4 octets";
        case EncodeError::ExtensionFieldTooLong:
            return "extension field longer than 65535 octets";
        case EncodeError::InvalidMacLength:
            return "MAC digest must be empty, 16 or 20 octets";
    }
    return "unknown encode error";
}

}  // namespace nanotime::ntp
