#include <gtest/gtest.h>

#include "net/socket_address.hpp"

namespace nanotime::ntp {
namespace {

TEST(SocketAddress, ParsesIpv4AndIpv6) {
    EXPECT_EQ(*IpAddress::parse("192.0.2.254"), IpAddress::v4(192, 0, 2, 254));
    EXPECT_FALSE(IpAddress::parse("192.0.2"));
    EXPECT_FALSE(IpAddress::parse("192.0.2.256"));
    EXPECT_FALSE(IpAddress::parse("192.0.2.1x"));
    auto v6 = IpAddress::parse("2001:db8::1");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->family, AddressFamily::Ipv6);
    EXPECT_EQ(v6->bytes[0], 0x20);
    EXPECT_EQ(v6->bytes[1], 0x01);
    EXPECT_EQ(v6->bytes[15], 0x01);
    EXPECT_EQ(IpAddress::parse("::")->bytes, (std::array<uint8_t, 16>{}));
    EXPECT_EQ(IpAddress::parse("1:2:3:4:5:6:7:8")->bytes[15], 8);
    EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:6:7"));
    EXPECT_FALSE(IpAddress::parse("1::2::3"));
    EXPECT_FALSE(IpAddress::parse("12345::"));
    auto mapped = IpAddress::parse("::ffff:198.51.100.7");
    ASSERT_TRUE(mapped);
    EXPECT_EQ(mapped->unmapped(), IpAddress::v4(198, 51, 100, 7));
    EXPECT_EQ((SocketAddress{IpAddress::v4(10, 0, 0, 1), 123}).to_string(), "10.0.0.1:123");
}

}  // namespace
}  // namespace nanotime::ntp
