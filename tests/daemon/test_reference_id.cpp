// Reference IDs, kiss codes and the MD5 used for IPv6 reference IDs.
#include <gtest/gtest.h>

#include "packet/reference_id.hpp"
#include "util/md5.hpp"

namespace nanotime::ntp {
namespace {

std::string hex(const std::array<uint8_t, 16>& d) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint8_t b : d) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::array<uint8_t, 16> md5_of(std::string_view s) {
    return md5(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

TEST(Md5, Rfc1321Vectors) {
    EXPECT_EQ(hex(md5_of("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex(md5_of("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(md5_of("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_EQ(
        hex(md5_of(
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
        "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(ReferenceId, AsciiAndAddresses) {
    EXPECT_EQ(reference_id_from_ascii("GPS"), 0x47505300U);
    EXPECT_EQ(reference_id_to_ascii(kKissRate), "RATE");
    EXPECT_EQ(reference_id_for_address(IpAddress::v4(192, 0, 2, 1)), 0xc0000201U);
    // IPv4-mapped IPv6 is treated as the IPv4 address.
    EXPECT_EQ(reference_id_for_address(*IpAddress::parse("::ffff:192.0.2.1")), 0xc0000201U);
    // IPv6: first four octets of MD5 over the 16 address octets.
    const IpAddress v6 = *IpAddress::parse("2001:db8::1");
    const auto digest = md5(std::span<const uint8_t>(v6.bytes.data(), 16));
    EXPECT_EQ(reference_id_for_address(v6), static_cast<uint32_t>(digest[0]) << 24 |
                                                digest[1] << 16 | digest[2] << 8 | digest[3]);
}

TEST(ReferenceId, KissCodes) {
    NtpHeader h;
    h.mode = Mode::Server;
    h.stratum = 0;
    h.reference_id = kKissRate;
    EXPECT_EQ(kiss_code(h), KissCode::Rate);
    h.reference_id = kKissDeny;
    EXPECT_EQ(kiss_code(h), KissCode::Deny);
    h.reference_id = kKissRstr;
    EXPECT_EQ(kiss_code(h), KissCode::Rstr);
    h.reference_id = reference_id_from_ascii("STEP");
    EXPECT_EQ(kiss_code(h), KissCode::Other);
    h.stratum = 1;
    EXPECT_FALSE(kiss_code(h));
}

}  // namespace
}  // namespace nanotime::ntp
