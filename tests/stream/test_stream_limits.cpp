// The stream listener's limits as pure objects, driven with made-up times.
#include <gtest/gtest.h>

#include "io/stream_limits.hpp"

namespace nanotime::io::testing {
namespace {

using namespace std::chrono_literals;

ntp::SocketAddress addr(const char* text) {
    return *ntp::SocketAddress::parse(text, 0);
}

TEST(AddressRateLimiterTest, BurstThenRefillAtTheRate) {
    AddressRateLimiter r(2.0, 3, 16);  // 2/s, burst 3
    const MonoClock::time_point t0{};
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.allow(addr("192.0.2.1:1000"), t0));
    EXPECT_FALSE(r.allow(addr("192.0.2.1:1001"), t0)) << "the port does not make a new client";
    EXPECT_TRUE(r.allow(addr("192.0.2.2:1000"), t0)) << "another address has its own bucket";
    EXPECT_FALSE(r.allow(addr("192.0.2.1:1000"), t0 + 400ms));  // 0.8 token
    EXPECT_TRUE(r.allow(addr("192.0.2.1:1000"), t0 + 500ms));   // 1.0 token
    EXPECT_FALSE(r.allow(addr("192.0.2.1:1000"), t0 + 500ms));
    // Refill stops at the burst.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.allow(addr("192.0.2.1:1000"), t0 + 100s));
    EXPECT_FALSE(r.allow(addr("192.0.2.1:1000"), t0 + 100s));
}

TEST(AddressRateLimiterTest, TableStaysBoundedForgettingTheLeastRecent) {
    AddressRateLimiter r(1.0, 1, 2);
    const MonoClock::time_point t0{};
    EXPECT_TRUE(r.allow(addr("[2001:db8::1]:1"), t0));
    EXPECT_TRUE(r.allow(addr("[2001:db8::2]:1"), t0));
    EXPECT_FALSE(r.allow(addr("[2001:db8::1]:1"), t0));  // ::1 is now the most recent
    EXPECT_TRUE(r.allow(addr("[2001:db8::3]:1"), t0));   // pushes out ::2
    EXPECT_EQ(r.tracked(), 2u);
    EXPECT_FALSE(r.allow(addr("[2001:db8::1]:1"), t0)) << "::1 was kept";
    EXPECT_TRUE(r.allow(addr("[2001:db8::2]:1"), t0)) << "::2 was forgotten: full bucket";
    for (int i = 0; i < 1000; ++i) {
        r.allow(addr(("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)).c_str()),
                t0);
    }
    EXPECT_EQ(r.tracked(), 2u);
}

TEST(ConnectionGateTest, CountsConnectionsAndBytes) {
    ListenerLimits l;
    l.max_connections = 2;
    l.max_bytes_in_flight = 100;
    l.address_rate = 1000;
    l.address_burst = 1000;
    ConnectionGate g(l);
    const MonoClock::time_point t0{};
    EXPECT_EQ(g.admit(addr("192.0.2.1:1"), t0), Admission::Admit);
    EXPECT_EQ(g.admit(addr("192.0.2.1:2"), t0), Admission::Admit);
    EXPECT_EQ(g.admit(addr("192.0.2.1:3"), t0), Admission::TooManyConnections);
    g.release();
    EXPECT_EQ(g.open(), 1u);
    g.account(0, 150);
    EXPECT_TRUE(g.over_byte_budget());
    EXPECT_EQ(g.admit(addr("192.0.2.1:4"), t0), Admission::TooManyBytesInFlight);
    g.account(150, 40);
    EXPECT_EQ(g.bytes_in_flight(), 40u);
    EXPECT_EQ(g.admit(addr("192.0.2.1:5"), t0), Admission::Admit);
}

TEST(ConnectionGateTest, RateRefusalDoesNotCountAConnection) {
    ListenerLimits l;
    l.address_rate = 1;
    l.address_burst = 1;
    ConnectionGate g(l);
    const MonoClock::time_point t0{};
    EXPECT_EQ(g.admit(addr("192.0.2.9:1"), t0), Admission::Admit);
    EXPECT_EQ(g.admit(addr("192.0.2.9:2"), t0), Admission::AddressRateExceeded);
    EXPECT_EQ(g.open(), 1u);
    EXPECT_STREQ(admission_name(Admission::AddressRateExceeded),
                 "connection rate of the address exceeded");
}

}  // namespace
}  // namespace nanotime::io::testing
