// ntp::SocketAddress <-> sockaddr (io/sockaddr.hpp): IPv4, IPv6, IPv4-mapped
// IPv6 and scoped link-local IPv6 round trips, byte for byte; then the same
// on a real dual-stack socket of each backend, where an IPv4 client's
// request must be seen as IPv4 (access lists, rate limits) and answered at
// the address it came from. Loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <vector>

#include "io/sockaddr.hpp"
#include "loop_test_support.hpp"
#include "nanotimed/server_reply.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

namespace nanotime::io::testing {
namespace {

sockaddr_in make_sin(const char* text, uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, text, &sin.sin_addr), 1) << text;
    return sin;
}

sockaddr_in6 make_sin6(const char* text, uint16_t port, uint32_t scope_id) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    sin6.sin6_scope_id = scope_id;
    EXPECT_EQ(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1) << text;
    return sin6;
}

// What the kernel gave -> SocketAddress -> what a socket of @family is
// given back: the same bytes.
template <typename Sockaddr>
void expect_round_trip(const Sockaddr& kernel, int family, const ntp::SocketAddress& expected) {
    const auto address = from_sockaddr(reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    ASSERT_TRUE(address);
    EXPECT_EQ(*address, expected) << address->to_string() << " != " << expected.to_string();
    sockaddr_storage back;
    ASSERT_EQ(to_sockaddr(*address, back, family), sizeof kernel);
    EXPECT_EQ(std::memcmp(&back, &kernel, sizeof kernel), 0) << expected.to_string();
}

TEST(Sockaddr, Ipv4RoundTrips) {
    expect_round_trip(make_sin("192.0.2.1", 123), AF_INET,
                      ntp::SocketAddress{ntp::IpAddress::v4(192, 0, 2, 1), 123});
}

TEST(Sockaddr, Ipv6RoundTrips) {
    expect_round_trip(make_sin6("2001:db8::1", 4460, 0), AF_INET6,
                      *ntp::SocketAddress::parse("[2001:db8::1]:4460", 0));
}

// A dual-stack socket's IPv4 peer: IPv4 inside, ::ffff:a.b.c.d again for
// the AF_INET6 socket the reply leaves by.
TEST(Sockaddr, Ipv4MappedIsIpv4InsideAndMappedAgainForAnIpv6Socket) {
    expect_round_trip(make_sin6("::ffff:198.51.100.7", 40000, 0), AF_INET6,
                      ntp::SocketAddress{ntp::IpAddress::v4(198, 51, 100, 7), 40000});
    // The same address for an IPv4 socket is plain sockaddr_in.
    sockaddr_storage ss;
    ASSERT_EQ(to_sockaddr(ntp::SocketAddress{ntp::IpAddress::v4(198, 51, 100, 7), 40000}, ss),
              sizeof(sockaddr_in));
    EXPECT_EQ(ss.ss_family, AF_INET);
}

// A link-local address names its interface (sin6_scope_id); without it a
// reply cannot leave.
TEST(Sockaddr, ScopedLinkLocalKeepsItsInterface) {
    ntp::SocketAddress expected = *ntp::SocketAddress::parse("[fe80::1]:123", 0);
    expected.scope_id = 7;
    expect_round_trip(make_sin6("fe80::1", 123, 7), AF_INET6, expected);
    EXPECT_EQ(expected.to_string(), "[fe80::1%7]:123");
    // Another interface is another address (maps, the client's reply check).
    ntp::SocketAddress other = expected;
    other.scope_id = 8;
    EXPECT_NE(expected, other);
}

TEST(Sockaddr, RefusesWhatItCannotCarry) {
    sockaddr_storage ss;
    EXPECT_EQ(to_sockaddr(*ntp::SocketAddress::parse("[2001:db8::1]:1", 0), ss, AF_INET), 0u)
        << "IPv6 for an IPv4 socket";
    const sockaddr_in sin = make_sin("192.0.2.1", 1);
    EXPECT_FALSE(from_sockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin - 1));
    sockaddr unix_family{};
    unix_family.sa_family = AF_UNIX;
    EXPECT_FALSE(from_sockaddr(&unix_family, sizeof unix_family));
    EXPECT_FALSE(from_sockaddr(nullptr, 0));
}

// A request from an IPv4 client to an AF_INET6 socket with v6only off
// (bound to ::ffff:127.0.0.1, loopback only): the loop reports the client
// and the destination as IPv4, an access list that allows only 127.0.0.0/8
// lets it in, and the reply, from the request's destination, reaches the
// client from the address it asked.
using DualStackTest = LoopTest;

TEST_P(DualStackTest, Ipv4ClientIsSeenAsIpv4AndAnsweredWhereItAsked) {
    ntp::SplitMix64 random(1);
    ntp::ServerConfig config;
    config.access.allow(*ntp::Cidr::parse("127.0.0.0/8"));
    config.rate_limit.emplace();
    ntp::NtpServer server(std::move(config), random);
    ntp::SystemState state;
    state.leap = ntp::LeapIndicator::NoWarning;
    state.stratum = 2;

    UdpOptions o;
    o.bind = *ntp::SocketAddress::parse("[::ffff:127.0.0.1]:0", 0);
    o.v6only = false;
    o.pktinfo = true;
    std::vector<ReceivedDatagram> seen;
    std::vector<ntp::ServerDecision> decisions;
    const uint64_t sock = loop_->open_udp(o, [&](const ReceivedDatagram& d) {
        seen.push_back(d);
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        const ntp::NtpInstant now = ntp::NtpInstant::from_unix(
            ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
        decisions.push_back(daemon::answer_request(server, *loop_, d, now, now, state, nullptr));
    });
    const std::optional<ntp::SocketAddress> bound = loop_->local_address(sock);
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound->ip, ntp::IpAddress::v4(127, 0, 0, 1));

    const int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    sockaddr_in local = make_sin("127.0.0.1", 0);
    ASSERT_EQ(bind(client, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    socklen_t len = sizeof local;
    ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&local), &len), 0);
    uint8_t request[48] = {};
    request[0] = (4 << 3) | 3;  // NTPv4, mode 3
    request[40] = 1;            // transmit timestamp, non-zero
    ASSERT_EQ(send_to(client, request, sizeof request, *bound), 48);
    ASSERT_TRUE(run_until(*loop_, [&] { return !seen.empty(); }));
    loop_->run_once(std::chrono::milliseconds(0));  // the reply leaves

    EXPECT_EQ(seen[0].peer,
              (ntp::SocketAddress{ntp::IpAddress::v4(127, 0, 0, 1), ntohs(local.sin_port)}));
    ASSERT_TRUE(seen[0].local);
    EXPECT_EQ(seen[0].local->ip, ntp::IpAddress::v4(127, 0, 0, 1));
    EXPECT_EQ(decisions[0], ntp::ServerDecision::Reply);

    pollfd p{client, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 3000), 1);
    uint8_t reply[64];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        recvfrom(client, reply, sizeof reply, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    EXPECT_EQ(n, 48);
    EXPECT_EQ(reply[0] & 7, 4) << "a server reply";
    EXPECT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_EQ(ntohs(from.sin_port), bound->port);
    EXPECT_EQ(loop_->stats().send_errors, 0u);
    close(client);
}

NANOTIME_ALL_BACKENDS(DualStackTest);

}  // namespace
}  // namespace nanotime::io::testing
