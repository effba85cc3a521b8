#include "packet/codec.hpp"

#include <algorithm>

namespace nanotime::ntp {
namespace {

uint16_t load16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t load32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}
uint64_t load64(const uint8_t* p) {
    return static_cast<uint64_t>(load32(p)) << 32 | load32(p + 4);
}
void store16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void store32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void store64(uint8_t* p, uint64_t v) {
    store32(p, static_cast<uint32_t>(v >> 32));
    store32(p + 4, static_cast<uint32_t>(v));
}

bool is_mac_length(size_t remainder) {
    return remainder == kCryptoNakLength || remainder == kMd5MacLength ||
           remainder == kSha1MacLength;
}

// One element of the trailer after the header.
struct TrailerItem {
    enum class Kind { ExtensionField, Mac } kind;
    size_t offset;  // of the element within the packet
    size_t length;  // octets, including the field's 4-octet header
};

// Walks the trailer, calling @visit for each element; stops at the first
// error. The single source of the RFC 7822 rules for both parse paths.
template <typename Visit>
Result<size_t, ParseError> walk_trailer(std::span<const uint8_t> bytes, uint8_t version,
                                        Visit&& visit) {
    size_t offset = kHeaderLength;
    size_t fields = 0;
    while (offset < bytes.size()) {
        const size_t remainder = bytes.size() - offset;
        if (is_mac_length(remainder)) {
            visit(TrailerItem{TrailerItem::Kind::Mac, offset, remainder});
            return fields;
        }
        if (version < 4) {
            // Before NTPv4 only a MAC may follow the header.
            return unexpected(remainder < kMinExtensionFieldLength
                                  ? ParseError::InvalidMacLength
                                  : ParseError::ExtensionFieldInOldVersion);
        }
        if (remainder < kMinExtensionFieldLength) {
            return unexpected(ParseError::InvalidMacLength);
        }
        const size_t length = load16(bytes.data() + offset + 2);
        if (length < kMinExtensionFieldLength)
            return unexpected(ParseError::ExtensionFieldTooShort);
        if (length % 4 != 0) return unexpected(ParseError::ExtensionFieldMisaligned);
        if (length > remainder) return unexpected(ParseError::ExtensionFieldTruncated);
        visit(TrailerItem{TrailerItem::Kind::ExtensionField, offset, length});
        ++fields;
        offset += length;
    }
    return fields;
}

}  // namespace

ExtensionField ExtensionField::with_payload(uint16_t type, const std::vector<uint8_t>& payload) {
    ExtensionField field{type, payload};
    size_t padded = (payload.size() + 3) / 4 * 4;
    padded = std::max(padded, kMinExtensionFieldLength - 4);
    field.value.resize(padded, 0);
    return field;
}

Result<NtpHeader, ParseError> parse_header(std::span<const uint8_t> bytes) {
    if (bytes.size() < kHeaderLength) return unexpected(ParseError::TooShort);
    const uint8_t* p = bytes.data();
    NtpHeader h;
    h.leap = static_cast<LeapIndicator>(p[0] >> 6);
    h.version = static_cast<uint8_t>((p[0] >> 3) & 0x7);
    h.mode = static_cast<Mode>(p[0] & 0x7);
    if (h.version < 1 || h.version > 4) return unexpected(ParseError::UnsupportedVersion);
    if (h.mode == Mode::Reserved || h.mode == Mode::Control || h.mode == Mode::Private) {
        return unexpected(ParseError::UnsupportedMode);
    }
    h.stratum = p[1];
    h.poll = static_cast<int8_t>(p[2]);
    h.precision = static_cast<int8_t>(p[3]);
    h.root_delay = NtpShort{load32(p + 4)};
    h.root_dispersion = NtpShort{load32(p + 8)};
    h.reference_id = load32(p + 12);
    h.reference_time = NtpTimestamp{load64(p + 16)};
    h.origin_time = NtpTimestamp{load64(p + 24)};
    h.receive_time = NtpTimestamp{load64(p + 32)};
    h.transmit_time = NtpTimestamp{load64(p + 40)};
    return h;
}

Result<TrailerSummary, ParseError> validate_trailer(std::span<const uint8_t> bytes) {
    auto header = parse_header(bytes);
    if (!header) return unexpected(header.error());
    TrailerSummary summary;
    auto walked = walk_trailer(bytes, header->version, [&](const TrailerItem& item) {
        if (item.kind == TrailerItem::Kind::Mac) summary.has_mac = true;
    });
    if (!walked) return unexpected(walked.error());
    summary.extension_fields = *walked;
    return summary;
}

Result<Packet, ParseError> parse_packet(std::span<const uint8_t> bytes) {
    auto header = parse_header(bytes);
    if (!header) return unexpected(header.error());
    Packet packet;
    packet.header = *header;
    auto walked = walk_trailer(bytes, header->version, [&](const TrailerItem& item) {
        const uint8_t* p = bytes.data() + item.offset;
        if (item.kind == TrailerItem::Kind::Mac) {
            Mac mac;
            mac.key_id = load32(p);
            mac.digest.assign(p + 4, p + item.length);
            packet.mac = std::move(mac);
        } else {
            ExtensionField field;
            field.type = load16(p);
            field.value.assign(p + 4, p + item.length);
            packet.extensions.push_back(std::move(field));
        }
    });
    if (!walked) return unexpected(walked.error());
    return packet;
}

std::array<uint8_t, kHeaderLength> serialize_header(const NtpHeader& h) {
    std::array<uint8_t, kHeaderLength> out{};
    uint8_t* p = out.data();
    p[0] = static_cast<uint8_t>(static_cast<uint8_t>(h.leap) << 6 | (h.version & 0x7) << 3 |
                                static_cast<uint8_t>(h.mode));
    p[1] = h.stratum;
    p[2] = static_cast<uint8_t>(h.poll);
    p[3] = static_cast<uint8_t>(h.precision);
    store32(p + 4, h.root_delay.raw);
    store32(p + 8, h.root_dispersion.raw);
    store32(p + 12, h.reference_id);
    store64(p + 16, h.reference_time.raw);
    store64(p + 24, h.origin_time.raw);
    store64(p + 32, h.receive_time.raw);
    store64(p + 40, h.transmit_time.raw);
    return out;
}

Result<std::vector<uint8_t>, EncodeError> serialize(const Packet& packet) {
    const auto header = serialize_header(packet.header);
    std::vector<uint8_t> out(header.begin(), header.end());
    for (size_t i = 0; i < packet.extensions.size(); ++i) {
        const ExtensionField& field = packet.extensions[i];
        if (field.value.size() % 4 != 0) return unexpected(EncodeError::ExtensionFieldMisaligned);
        size_t length = std::max(field.wire_length(), kMinExtensionFieldLength);
        // RFC 7822 §7.5: without a MAC the last field is at least 28 octets,
        // so a receiver cannot mistake it for a MAC.
        if (i + 1 == packet.extensions.size() && !packet.mac) {
            length = std::max(length, kMinLastExtensionFieldLength);
        }
        if (length > 0xffff) return unexpected(EncodeError::ExtensionFieldTooLong);
        const size_t start = out.size();
        out.resize(start + length, 0);
        store16(out.data() + start, field.type);
        store16(out.data() + start + 2, static_cast<uint16_t>(length));
        std::copy(field.value.begin(), field.value.end(), out.data() + start + 4);
    }
    if (packet.mac) {
        const size_t digest = packet.mac->digest.size();
        if (digest != 0 && digest != 16 && digest != 20) {
            return unexpected(EncodeError::InvalidMacLength);
        }
        const size_t start = out.size();
        out.resize(start + 4);
        store32(out.data() + start, packet.mac->key_id);
        out.insert(out.end(), packet.mac->digest.begin(), packet.mac->digest.end());
    }
    return out;
}

}  // namespace nanotime::ntp
