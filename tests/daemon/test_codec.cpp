// NTPv4 codec: round trips, RFC 7822 extension field and MAC rules, errors.
#include <gtest/gtest.h>

#include "packet/codec.hpp"

namespace nanotime::ntp {
namespace {

NtpHeader sample_header() {
    NtpHeader h;
    h.leap = LeapIndicator::InsertSecond;
    h.version = 4;
    h.mode = Mode::Server;
    h.stratum = 2;
    h.poll = 6;
    h.precision = -23;
    h.root_delay = NtpShort{0x00001234};
    h.root_dispersion = NtpShort{0x00005678};
    h.reference_id = 0xc0000201;
    h.reference_time = NtpTimestamp{0xe7a1b2c3d4e5f607ULL};
    h.origin_time = NtpTimestamp{0x0102030405060708ULL};
    h.receive_time = NtpTimestamp{0xe7a1b2c4000000ffULL};
    h.transmit_time = NtpTimestamp{0xe7a1b2c400000fffULL};
    return h;
}

std::vector<uint8_t> header_bytes(const NtpHeader& h) {
    const auto a = serialize_header(h);
    return {a.begin(), a.end()};
}

void append_field(std::vector<uint8_t>& out, uint16_t type, uint16_t length) {
    out.push_back(static_cast<uint8_t>(type >> 8));
    out.push_back(static_cast<uint8_t>(type));
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
    for (int i = 4; i < length; ++i) out.push_back(static_cast<uint8_t>(i));
}

TEST(Codec, HeaderWireLayoutMatchesRfc5905) {
    const auto bytes = serialize_header(sample_header());
    EXPECT_EQ(bytes[0], 0x64);  // LI=1, VN=4, mode=4
    EXPECT_EQ(bytes[1], 2);
    EXPECT_EQ(bytes[2], 6);
    EXPECT_EQ(bytes[3], 0xe9);  // -23
    EXPECT_EQ(bytes[7], 0x34);
    EXPECT_EQ(bytes[12], 0xc0);
    EXPECT_EQ(bytes[15], 0x01);
    EXPECT_EQ(bytes[24], 0x01);
    EXPECT_EQ(bytes[31], 0x08);
    EXPECT_EQ(bytes[47], 0xff);
}

TEST(Codec, HeaderRoundTrip) {
    const NtpHeader h = sample_header();
    auto parsed = parse_packet(header_bytes(h));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->header, h);
    EXPECT_TRUE(parsed->extensions.empty());
    EXPECT_FALSE(parsed->mac);
}

TEST(Codec, ExtensionFieldsAndMacRoundTrip) {
    Packet p;
    p.header = sample_header();
    p.extensions.push_back(ExtensionField::with_payload(0x0104, {1, 2, 3, 4, 5}));
    p.extensions.push_back(ExtensionField::with_payload(0xabcd, std::vector<uint8_t>(40, 7)));
    p.mac = Mac{42, std::vector<uint8_t>(20, 0xaa)};
    auto bytes = serialize(p);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), 48u + 16 + 44 + 24);
    auto parsed = parse_packet(*bytes);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, p);
    // And bytes -> packet -> bytes is the identity.
    auto again = serialize(*parsed);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *bytes);
}

TEST(Codec, UnknownFieldIsPreservedVerbatim) {
    auto bytes = header_bytes(sample_header());
    append_field(bytes, 0xfeed, 32);
    auto parsed = parse_packet(bytes);
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->extensions.size(), 1u);
    EXPECT_EQ(parsed->extensions[0].type, 0xfeed);
    EXPECT_EQ(parsed->extensions[0].value.size(), 28u);
    EXPECT_EQ(*serialize(*parsed), bytes);
}

TEST(Codec, LastFieldWithoutMacIsPaddedTo28) {
    Packet p;
    p.header = sample_header();
    p.extensions.push_back(ExtensionField::with_payload(0x0001, {9}));
    auto bytes = serialize(p);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), 48u + 28);
    auto parsed = parse_packet(*bytes);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->extensions[0].value.size(), 24u);
    EXPECT_EQ(parsed->extensions[0].value[0], 9);
}

TEST(Codec, MacLengthsDisambiguateFromFields) {
    for (size_t mac : {kCryptoNakLength, kMd5MacLength, kSha1MacLength}) {
        auto bytes = header_bytes(sample_header());
        bytes.resize(bytes.size() + mac, 0x11);
        auto parsed = parse_packet(bytes);
        ASSERT_TRUE(parsed) << mac;
        ASSERT_TRUE(parsed->mac);
        EXPECT_EQ(parsed->mac->digest.size(), mac - 4);
        EXPECT_TRUE(parsed->extensions.empty());
    }
    // A field followed by a MAC.
    auto bytes = header_bytes(sample_header());
    append_field(bytes, 0x0204, 16);
    bytes.resize(bytes.size() + kMd5MacLength, 0x22);
    auto parsed = parse_packet(bytes);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->extensions.size(), 1u);
    EXPECT_TRUE(parsed->mac);
}

TEST(Codec, MalformedInputsGiveTypedErrors) {
    const auto base = header_bytes(sample_header());
    EXPECT_EQ(parse_packet(std::span<const uint8_t>(base.data(), 47)).error(),
              ParseError::TooShort);
    EXPECT_EQ(parse_packet({}).error(), ParseError::TooShort);

    auto bad_version = base;
    bad_version[0] = static_cast<uint8_t>((bad_version[0] & 0xc7) | (5 << 3));
    EXPECT_EQ(parse_packet(bad_version).error(), ParseError::UnsupportedVersion);
    bad_version[0] = static_cast<uint8_t>(bad_version[0] & 0xc7);
    EXPECT_EQ(parse_packet(bad_version).error(), ParseError::UnsupportedVersion);

    for (uint8_t mode : {0, 6, 7}) {
        auto m = base;
        m[0] = static_cast<uint8_t>((m[0] & 0xf8) | mode);
        EXPECT_EQ(parse_packet(m).error(), ParseError::UnsupportedMode);
    }

    auto odd = base;
    odd.resize(base.size() + 8);  // neither a MAC nor a field
    EXPECT_EQ(parse_packet(odd).error(), ParseError::InvalidMacLength);

    auto short_field = base;
    append_field(short_field, 1, 16);
    short_field[48 + 3] = 12;
    short_field.resize(short_field.size() + 12);  // keep the remainder above MAC sizes
    EXPECT_EQ(parse_packet(short_field).error(), ParseError::ExtensionFieldTooShort);

    auto misaligned = base;
    append_field(misaligned, 1, 32);
    misaligned[48 + 3] = 30;
    EXPECT_EQ(parse_packet(misaligned).error(), ParseError::ExtensionFieldMisaligned);

    auto truncated = base;
    append_field(truncated, 1, 32);
    truncated[48 + 3] = 36;
    EXPECT_EQ(parse_packet(truncated).error(), ParseError::ExtensionFieldTruncated);

    auto zero_length = base;
    append_field(zero_length, 1, 32);
    zero_length[48 + 3] = 0;
    EXPECT_EQ(parse_packet(zero_length).error(), ParseError::ExtensionFieldTooShort);
}

TEST(Codec, OldVersionsCarryOnlyAMac) {
    NtpHeader h = sample_header();
    h.version = 3;
    auto bytes = header_bytes(h);
    EXPECT_TRUE(parse_packet(bytes));
    auto with_mac = bytes;
    with_mac.resize(bytes.size() + kMd5MacLength);
    EXPECT_TRUE(parse_packet(with_mac));
    auto with_field = bytes;
    append_field(with_field, 1, 32);
    EXPECT_EQ(parse_packet(with_field).error(), ParseError::ExtensionFieldInOldVersion);
}

TEST(Codec, ValidateTrailerAgreesWithParse) {
    auto bytes = header_bytes(sample_header());
    append_field(bytes, 1, 16);
    append_field(bytes, 2, 28);
    auto summary = validate_trailer(bytes);
    ASSERT_TRUE(summary);
    EXPECT_EQ(summary->extension_fields, 2u);
    EXPECT_FALSE(summary->has_mac);
    bytes.resize(bytes.size() + kSha1MacLength);
    EXPECT_TRUE(validate_trailer(bytes)->has_mac);
}

TEST(Codec, EncodeRejectsMisalignedFieldsAndBadMacs) {
    Packet p;
    p.header = sample_header();
    p.extensions.push_back(ExtensionField{1, std::vector<uint8_t>(13)});
    EXPECT_EQ(serialize(p).error(), EncodeError::ExtensionFieldMisaligned);
    p.extensions.clear();
    p.mac = Mac{1, std::vector<uint8_t>(7)};
    EXPECT_EQ(serialize(p).error(), EncodeError::InvalidMacLength);
    EXPECT_FALSE(to_string(ParseError::TooShort).empty());
}

}  // namespace
}  // namespace nanotime::ntp
