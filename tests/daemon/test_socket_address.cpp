#include <gtest/gtest.h>
#include <net/if.h>

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

// inet_pton(3)'s grammar: no leading zeros (some parsers read them as
// octal), no short or hex IPv4 forms, no zone or junk.
TEST(SocketAddress, RefusesWhatInetPtonRefuses) {
    for (const char* bad : {"010.0.0.1", "10.0.0.01", "127.1", "0x7f.0.0.1", "1.2.3.4.5", "",
                            " 1.2.3.4", "1.2.3.4 ", "fe80::1%eth0", "::ffff:010.0.0.1", "[::1]"}) {
        EXPECT_FALSE(IpAddress::parse(bad)) << bad;
    }
}

TEST(SocketAddress, PrintsWithInetNtop) {
    EXPECT_EQ(IpAddress::parse("2001:db8:0:0:0:0:0:1")->to_string(), "2001:db8::1");
    EXPECT_EQ(IpAddress::parse("::ffff:198.51.100.7")->to_string(), "::ffff:198.51.100.7");
    EXPECT_EQ((SocketAddress{*IpAddress::parse("2001:db8::1"), 4460}).to_string(),
              "[2001:db8::1]:4460");
}

// The one host:port splitter, used by the configuration and the event loop.
TEST(SocketAddress, ParsesHostAndPort) {
    auto a = SocketAddress::parse("192.0.2.1:4460", 123);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ip, IpAddress::v4(192, 0, 2, 1));
    EXPECT_EQ(a->port, 4460);
    EXPECT_EQ(SocketAddress::parse("192.0.2.1", 123)->port, 123);
    auto b = SocketAddress::parse("[2001:db8::1]:123", 0);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->ip, *IpAddress::parse("2001:db8::1"));
    EXPECT_EQ(b->port, 123);
    EXPECT_EQ(SocketAddress::parse("::1", 123)->port, 123);  // bare IPv6, no port
    EXPECT_EQ(SocketAddress::parse("[::1]", 7)->port, 7);
    EXPECT_EQ(SocketAddress::parse("127.0.0.1:0", 123)->port, 0);
    for (const char* bad :
         {"192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:+1", "192.0.2.1:0x7b", "[::1", "[::1]x",
          "[::1]:", "[192.0.2.1]:123", "host.example:123", "010.0.0.1:123", ":123", "[]:123"}) {
        EXPECT_FALSE(SocketAddress::parse(bad, 123)) << bad;
    }
}

// The wildcard and loopback addresses sockets are bound to.
TEST(SocketAddress, AnyAndLoopbackOfEachFamily) {
    EXPECT_EQ(SocketAddress::v4_any(123), SocketAddress::parse("0.0.0.0:123", 0));
    EXPECT_EQ(SocketAddress::v6_any(0), SocketAddress::parse("[::]:0", 1));
    EXPECT_EQ(SocketAddress::v4_loopback(5), SocketAddress::parse("127.0.0.1:5", 0));
    EXPECT_EQ(SocketAddress::v6_loopback(5), SocketAddress::parse("[::1]:5", 0));
}

// A zone (interface index) is part of a link-local address: printed, compared.
TEST(SocketAddress, ZoneIsPrintedAndCompared) {
    SocketAddress a = *SocketAddress::parse("[fe80::1]:123", 0);
    const SocketAddress unscoped = a;
    a.scope_id = 3;
    EXPECT_EQ(a.to_string(), "[fe80::1%3]:123");
    EXPECT_EQ(unscoped.to_string(), "[fe80::1]:123");
    EXPECT_NE(a, unscoped);
}

// Zones in text: an interface index or the name of one that exists (lo is
// always index 1 in a fresh namespace, but look it up), IPv6 only. Before,
// every zone was refused, so a link-local server could not be listened on.
TEST(SocketAddress, ParsesAZoneByIndexOrInterfaceName) {
    const unsigned lo = if_nametoindex("lo");
    ASSERT_NE(lo, 0u);
    auto named = SocketAddress::parse("[fe80::1%lo]:123", 0);
    ASSERT_TRUE(named);
    EXPECT_EQ(named->scope_id, lo);
    EXPECT_EQ(named->ip, *IpAddress::parse("fe80::1"));
    EXPECT_EQ(named->port, 123);
    auto numbered = SocketAddress::parse("fe80::1%2", 123);
    ASSERT_TRUE(numbered);
    EXPECT_EQ(numbered->scope_id, 2u);
    EXPECT_EQ(numbered->port, 123);
    // What it prints, it reads back.
    EXPECT_EQ(SocketAddress::parse(numbered->to_string(), 0), numbered);
    for (const char* bad :
         {"[fe80::1%]:123", "[fe80::1%0]:123", "[fe80::1%no-such-if0]:123", "127.0.0.1%lo",
          "[fe80::1%lo%lo]:123", "fe80::1%-1", "[fe80::1%abcdefghijklmnopq]:123"}) {
        EXPECT_FALSE(SocketAddress::parse(bad, 123)) << bad;
    }
}

}  // namespace
}  // namespace nanotime::ntp
