// Reference IDs and kiss codes (the MD5 vectors are in test_digest.cpp).
#include <gtest/gtest.h>

#include "packet/reference_id.hpp"

namespace nanotime::ntp {
namespace {

TEST(ReferenceId, AsciiAndAddresses) {
    EXPECT_EQ(reference_id_from_ascii("GPS"), 0x47505300U);
    EXPECT_EQ(reference_id_to_ascii(kKissRate), "RATE");
    EXPECT_EQ(reference_id_for_address(IpAddress::v4(192, 0, 2, 1)), 0xc0000201U);
    // IPv4-mapped IPv6 is treated as the IPv4 address.
    EXPECT_EQ(reference_id_for_address(*IpAddress::parse("::ffff:192.0.2.1")), 0xc0000201U);
    // IPv6: first four octets of MD5 over the 16 address octets.
    const IpAddress v6 = *IpAddress::parse("2001:db8::1");
    // (Python: hashlib.md5(ipaddress.ip_address("2001:db8::1").packed))
    EXPECT_EQ(reference_id_for_address(v6), 0x39ab9b37U);
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
