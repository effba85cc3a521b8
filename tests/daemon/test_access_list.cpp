#include <gtest/gtest.h>

#include <string>

#include "server/access_list.hpp"

namespace nanotime::ntp {
namespace {

IpAddress ip(const char* text) {
    return *IpAddress::parse(text);
}

TEST(Cidr, ParsesAndMasks) {
    auto c = Cidr::parse("192.0.2.77/24");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->network, ip("192.0.2.0"));
    EXPECT_EQ(c->prefix, 24);
    EXPECT_TRUE(c->contains(ip("192.0.2.255")));
    EXPECT_FALSE(c->contains(ip("192.0.3.0")));
    EXPECT_TRUE(c->contains(ip("::ffff:192.0.2.9")));
    EXPECT_FALSE(c->contains(ip("2001:db8::1")));
    EXPECT_EQ(Cidr::parse("10.1.2.3")->prefix, 32);
    EXPECT_EQ(Cidr::parse("2001:db8::/32")->prefix, 32);
    EXPECT_TRUE(Cidr::parse("2001:db8::/32")->contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(Cidr::parse("2001:db8::/32")->contains(ip("2001:db9::1")));
    EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("203.0.113.1")));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/8x"));
    EXPECT_FALSE(Cidr::parse("::/129"));
    EXPECT_TRUE(Cidr::parse("2001:db8::1:2/127")->contains(ip("2001:db8::1:3")));
    auto mapped = Cidr::parse("::ffff:192.0.2.0/120");
    ASSERT_TRUE(mapped);
    EXPECT_EQ(mapped->network, ip("192.0.2.0"));
    EXPECT_EQ(mapped->prefix, 24);
    EXPECT_TRUE(mapped->contains(ip("::ffff:192.0.2.7")));
}

// Every prefix length of both families: an address that differs from the
// network only in its first host bit is inside, one that differs in the last
// network bit is outside (the octet-and-mask comparison's edges).
TEST(Cidr, EveryPrefixLengthSplitsAtItsOwnBit) {
    for (const char* base : {"203.0.113.0", "2001:db8:85a3::8a2e:370:7334"}) {
        const IpAddress network = ip(base);
        const unsigned bits = static_cast<unsigned>(network.size()) * 8;
        for (unsigned prefix = 0; prefix <= bits; ++prefix) {
            const std::string text = std::string(base) + "/" + std::to_string(prefix);
            const auto cidr = Cidr::parse(text);
            ASSERT_TRUE(cidr) << text;
            IpAddress inside = cidr->network;
            if (prefix < bits)
                inside.bytes[prefix / 8] ^= static_cast<uint8_t>(0x80u >> (prefix % 8));
            EXPECT_TRUE(cidr->contains(inside)) << text;
            if (prefix > 0) {
                IpAddress outside = cidr->network;
                const unsigned bit = prefix - 1;
                outside.bytes[bit / 8] ^= static_cast<uint8_t>(0x80u >> (bit % 8));
                EXPECT_FALSE(cidr->contains(outside)) << text;
            }
        }
    }
}

TEST(AccessList, ClosedByDefault) {
    AccessList acl;
    EXPECT_FALSE(acl.permits(ip("127.0.0.1")));
    EXPECT_FALSE(acl.permits(ip("::1")));
}

TEST(AccessList, LongestPrefixWinsAndDenyWinsTies) {
    AccessList acl;
    acl.allow(*Cidr::parse("10.0.0.0/8"));
    acl.deny(*Cidr::parse("10.66.0.0/16"));
    acl.allow(*Cidr::parse("10.66.1.0/24"));
    acl.allow(*Cidr::parse("2001:db8::/32"));
    acl.deny(*Cidr::parse("2001:db8:bad::/48"));
    acl.allow(*Cidr::parse("192.0.2.0/24"));
    acl.deny(*Cidr::parse("192.0.2.0/24"));
    EXPECT_TRUE(acl.permits(ip("10.1.2.3")));
    EXPECT_FALSE(acl.permits(ip("10.66.2.3")));
    EXPECT_TRUE(acl.permits(ip("10.66.1.3")));
    EXPECT_TRUE(acl.permits(ip("::ffff:10.1.2.3")));
    EXPECT_TRUE(acl.permits(ip("2001:db8:1::5")));
    EXPECT_FALSE(acl.permits(ip("2001:db8:bad::5")));
    EXPECT_FALSE(acl.permits(ip("192.0.2.1")));
    EXPECT_FALSE(acl.permits(ip("172.16.0.1")));
}

}  // namespace
}  // namespace nanotime::ntp
