// packet.hpp - the NTPv4 packet as values (RFC 5905 §7.3, RFC 7822).
//
// Wire layout (48-byte header, network byte order):
//   0  LI(2) VN(3) Mode(3) | stratum | poll (log2 s) | precision (log2 s)
//   4  root delay (NtpShort)   8  root dispersion (NtpShort)   12 reference ID
//   16 reference timestamp     24 origin timestamp
//   32 receive timestamp       40 transmit timestamp
// then, NTPv4 only, zero or more extension fields, then an optional MAC.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "time/ntp_time.hpp"

namespace nanotime::ntp {

inline constexpr size_t kHeaderLength = 48;

enum class LeapIndicator : uint8_t {
    NoWarning = 0,
    InsertSecond = 1,  // last minute of the day has 61 s
    DeleteSecond = 2,  // last minute of the day has 59 s
    Unsynchronized = 3,
};

enum class Mode : uint8_t {
    Reserved = 0,
    SymmetricActive = 1,
    SymmetricPassive = 2,
    Client = 3,
    Server = 4,
    Broadcast = 5,
    Control = 6,  // ntpq (mode 6): different layout, not handled by the core
    Private = 7,  // ntpdc (mode 7): different layout, not handled by the core
};

struct NtpHeader {
    LeapIndicator leap = LeapIndicator::NoWarning;
    uint8_t version = 4;  // 1..4
    Mode mode = Mode::Client;
    uint8_t stratum = 0;   // 0 = unspecified / kiss-o'-death, 1 = primary, 16 = unsynchronized
    int8_t poll = 0;       // log2 s
    int8_t precision = 0;  // log2 s
    NtpShort root_delay;   // total round-trip delay to the reference clock
    NtpShort root_dispersion;
    uint32_t reference_id = 0;  // host byte order of the four wire octets
    NtpTimestamp reference_time;
    NtpTimestamp origin_time;
    NtpTimestamp receive_time;
    NtpTimestamp transmit_time;

    friend bool operator==(const NtpHeader&, const NtpHeader&) = default;
};

// RFC 7822 extension field. value holds the octets after the 4-octet
// type/length header exactly as on the wire, padding included, so unknown
// fields survive a parse/serialize round trip unchanged.
struct ExtensionField {
    uint16_t type = 0;
    std::vector<uint8_t> value;  // size is a multiple of 4

    // A field carrying @payload, zero-padded to a multiple of 4 octets and to
    // the 16-octet minimum field length.
    static ExtensionField with_payload(uint16_t type, const std::vector<uint8_t>& payload);
    size_t wire_length() const { return 4 + value.size(); }

    friend bool operator==(const ExtensionField&, const ExtensionField&) = default;
};

// Symmetric-key MAC trailer: key ID and digest (16 octets MD5 or 20 SHA-1).
// An empty digest is the 4-octet crypto-NAK.
struct Mac {
    uint32_t key_id = 0;
    std::vector<uint8_t> digest;

    friend bool operator==(const Mac&, const Mac&) = default;
};

struct Packet {
    NtpHeader header;
    std::vector<ExtensionField> extensions;
    std::optional<Mac> mac;

    friend bool operator==(const Packet&, const Packet&) = default;
};

}  // namespace nanotime::ntp
