// The pure parts of the event loop: control-message parsing and building
// (io/timestamps.hpp) on hand-built messages, and the timer queue
// (io/timer_queue.hpp) on a clock the test sets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/timer_queue.hpp"
#include "io/timestamps.hpp"

namespace nanotime::io {
namespace {

// Builds control messages one after another into an aligned buffer.
class ControlBuilder {
  public:
    template <typename T>
    ControlBuilder& add(int level, int type, const T& value) {
        const size_t at = used_;
        used_ += CMSG_SPACE(sizeof value);
        EXPECT_LE(used_, sizeof buf_);
        cmsghdr c{};
        c.cmsg_level = level;
        c.cmsg_type = type;
        c.cmsg_len = CMSG_LEN(sizeof value);
        std::memcpy(buf_ + at, &c, sizeof c);
        std::memcpy(buf_ + at + CMSG_LEN(0), &value, sizeof value);
        return *this;
    }
    msghdr msg() {
        msghdr m{};
        m.msg_control = buf_;
        m.msg_controllen = used_;
        return m;
    }

  private:
    alignas(cmsghdr) uint8_t buf_[512] = {};
    size_t used_ = 0;
};

scm_timestamping stamps(timespec software, timespec hardware) {
    scm_timestamping s{};
    s.ts[0] = software;
    s.ts[2] = hardware;
    return s;
}

bool same(const std::optional<timespec>& a, timespec b) {
    return a && a->tv_sec == b.tv_sec && a->tv_nsec == b.tv_nsec;
}

TEST(RxControl, TimestampingAndPktinfoV4) {
    in_pktinfo pi{};
    pi.ipi_ifindex = 7;
    inet_pton(AF_INET, "192.0.2.5", &pi.ipi_addr);
    ControlBuilder b;
    b.add(SOL_SOCKET, SO_TIMESTAMPING, stamps({100, 5}, {200, 6}));
    b.add(IPPROTO_IP, IP_PKTINFO, pi);
    ReceivedDatagram d;
    parse_rx_control(b.msg(), d);
    EXPECT_TRUE(same(d.rx.software, {100, 5}));
    EXPECT_TRUE(same(d.rx.hardware, {200, 6}));
    ASSERT_TRUE(d.local);
    EXPECT_EQ(d.local->ip.to_string(), "192.0.2.5");
    EXPECT_EQ(d.ifindex, 7);
}

TEST(RxControl, TimestampNsFillsInAMissingSoftwareStamp) {
    ControlBuilder b;
    b.add(SOL_SOCKET, SO_TIMESTAMPING, stamps({0, 0}, {0, 0}));  // not stamped yet
    b.add(SOL_SOCKET, SCM_TIMESTAMPNS, timespec{300, 7});
    ReceivedDatagram d;
    parse_rx_control(b.msg(), d);
    EXPECT_TRUE(same(d.rx.software, {300, 7}));
    EXPECT_FALSE(d.rx.hardware);
}

TEST(RxControl, Ipv6PktinfoAndNothingElse) {
    in6_pktinfo pi{};
    pi.ipi6_ifindex = 3;
    inet_pton(AF_INET6, "2001:db8::9", &pi.ipi6_addr);
    ControlBuilder b;
    b.add(IPPROTO_IPV6, IPV6_PKTINFO, pi);
    ReceivedDatagram d;
    parse_rx_control(b.msg(), d);
    EXPECT_FALSE(d.rx.software);
    ASSERT_TRUE(d.local);
    EXPECT_EQ(d.local->ip.to_string(), "2001:db8::9");
    EXPECT_EQ(d.ifindex, 3);
}

TEST(RxControl, ShortMessagesAreSkipped) {
    ControlBuilder b;
    const uint32_t too_short = 1;  // claims to be SO_TIMESTAMPING
    b.add(SOL_SOCKET, SO_TIMESTAMPING, too_short);
    ReceivedDatagram d;
    parse_rx_control(b.msg(), d);
    EXPECT_FALSE(d.rx.software);
}

TEST(TxReport, TimestampWithItsKey) {
    sock_extended_err ee{};
    ee.ee_origin = SO_EE_ORIGIN_TIMESTAMPING;
    ee.ee_data = 41;
    ControlBuilder b;
    b.add(SOL_SOCKET, SO_TIMESTAMPING, stamps({500, 1}, {0, 0}));
    b.add(SOL_IP, IP_RECVERR, ee);
    const auto r = parse_tx_report(b.msg());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->key, 41u);
    EXPECT_TRUE(same(r->tx.software, {500, 1}));
    EXPECT_FALSE(r->tx.hardware);
}

TEST(TxReport, OtherErrorsAreNotReports) {
    sock_extended_err ee{};
    ee.ee_origin = SO_EE_ORIGIN_ICMP;
    ControlBuilder b;
    b.add(SOL_IPV6, IPV6_RECVERR, ee);
    EXPECT_FALSE(parse_tx_report(b.msg()));
    ControlBuilder none;
    none.add(SOL_SOCKET, SO_TIMESTAMPING, stamps({1, 0}, {0, 0}));
    EXPECT_FALSE(parse_tx_report(none.msg()));  // stamps without the error header
}

std::string ntop(int family, const void* address) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, address, text, sizeof text);
    return text;
}

// build_pktinfo() of @from for a socket of @family, as a message to read back.
struct BuiltPktinfo {
    BuiltPktinfo(const std::optional<ntp::SocketAddress>& from, int family) {
        len = build_pktinfo(from, family, buf, sizeof buf);
        msg.msg_control = buf;
        msg.msg_controllen = len;
    }
    BuiltPktinfo(const BuiltPktinfo&) = delete;  // msg points into buf
    BuiltPktinfo& operator=(const BuiltPktinfo&) = delete;

    // "IP_PKTINFO <ipi_spec_dst>" or "IPV6_PKTINFO <ipi6_addr>", each only
    // at its exact length; "" for anything else.
    std::string source() const {
        const cmsghdr* c = CMSG_FIRSTHDR(&msg);
        if (c == nullptr) return "";
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            len == CMSG_SPACE(sizeof(in_pktinfo))) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            return "IP_PKTINFO " + ntop(AF_INET, &pi.ipi_spec_dst);
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
            len == CMSG_SPACE(sizeof(in6_pktinfo))) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            return "IPV6_PKTINFO " + ntop(AF_INET6, &pi.ipi6_addr);
        }
        return "";
    }

    alignas(cmsghdr) uint8_t buf[64];
    size_t len = 0;
    msghdr msg{};
};

// A send's pktinfo names the source address: ipi_spec_dst for IPv4 (ipi_addr
// is the receive side's), ipi6_addr for IPv6.
TEST(Pktinfo, BuiltForTheSourceAddress) {
    EXPECT_EQ(BuiltPktinfo(ntp::SocketAddress::parse("192.0.2.44", 123), AF_INET).source(),
              "IP_PKTINFO 192.0.2.44");
    const BuiltPktinfo v6(ntp::SocketAddress::parse("2001:db8::44", 123), AF_INET6);
    EXPECT_EQ(v6.source(), "IPV6_PKTINFO 2001:db8::44");
    ReceivedDatagram d;
    parse_rx_control(v6.msg, d);  // the same layout as a received IPV6_PKTINFO
    ASSERT_TRUE(d.local);
    EXPECT_EQ(d.local->ip.to_string(), "2001:db8::44");

    EXPECT_EQ(BuiltPktinfo(std::nullopt, AF_INET).len, 0u);
    EXPECT_EQ(BuiltPktinfo(ntp::SocketAddress::parse("2001:db8::44", 1), AF_INET).len, 0u)
        << "an AF_INET socket cannot send from an IPv6 address";
    alignas(cmsghdr) uint8_t tiny[8];
    EXPECT_EQ(build_pktinfo(ntp::SocketAddress::parse("192.0.2.1", 1), AF_INET, tiny, sizeof tiny),
              0u);
}

// A dual-stack AF_INET6 socket reports an IPv4 request's destination as
// IPV6_PKTINFO ::ffff:a.b.c.d: it reads as the IPv4 address, and the reply
// from it is IPV6_PKTINFO with the same mapped address again.
TEST(Pktinfo, IPv4OnADualStackSocketIsMappedBothWays) {
    const BuiltPktinfo mapped(ntp::SocketAddress::parse("192.0.2.44", 0), AF_INET6);
    EXPECT_EQ(mapped.source(), "IPV6_PKTINFO ::ffff:192.0.2.44");
    ReceivedDatagram d;
    parse_rx_control(mapped.msg, d);
    ASSERT_TRUE(d.local);
    EXPECT_EQ(d.local->ip, ntp::IpAddress::v4(192, 0, 2, 44));
}

// The stamp request of an interleaved reply: SO_TIMESTAMPING with the
// software TX record flag, after the pktinfo (IPv6's, the largest) or alone,
// and left out when it does not fit.
TEST(SendControl, StampRequestFollowsPktinfoAndFits) {
    alignas(cmsghdr) uint8_t buf[kSendControlSize];
    const auto from = ntp::SocketAddress::parse("2001:db8::7", 0);
    const size_t len = build_send_control(from, AF_INET6, true, buf, sizeof buf);
    EXPECT_EQ(len, kSendControlSize);
    msghdr msg{};
    msg.msg_control = buf;
    msg.msg_controllen = len;
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->cmsg_type, IPV6_PKTINFO);
    c = CMSG_NXTHDR(&msg, const_cast<cmsghdr*>(c));
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->cmsg_level, SOL_SOCKET);
    EXPECT_EQ(c->cmsg_type, SO_TIMESTAMPING);
    int flags = 0;
    std::memcpy(&flags, CMSG_DATA(c), sizeof flags);
    EXPECT_EQ(flags, SOF_TIMESTAMPING_TX_SOFTWARE);

    EXPECT_EQ(build_send_control(std::nullopt, AF_INET, true, buf, sizeof buf),
              CMSG_SPACE(sizeof(int)));
    EXPECT_EQ(build_send_control(std::nullopt, AF_INET, false, buf, sizeof buf), 0u);
    EXPECT_EQ(build_send_control(from, AF_INET6, false, buf, sizeof buf),
              CMSG_SPACE(sizeof(in6_pktinfo)));
    EXPECT_EQ(build_send_control(from, AF_INET6, true, buf, kSendControlSize - 1),
              CMSG_SPACE(sizeof(in6_pktinfo)));
}

TEST(TimerQueue, FiresInDeadlineOrderFifoOnTiesAndSkipsCancelled) {
    TimerQueue q;
    const MonoClock::time_point t0{};
    std::vector<std::string> fired;
    q.add(t0 + std::chrono::seconds(2), [&] { fired.push_back("b"); });
    q.add(t0 + std::chrono::seconds(1), [&] { fired.push_back("a1"); });
    const uint64_t gone = q.add(t0 + std::chrono::seconds(1), [&] { fired.push_back("x"); });
    q.add(t0 + std::chrono::seconds(1), [&] { fired.push_back("a2"); });
    EXPECT_TRUE(q.cancel(gone));
    EXPECT_FALSE(q.cancel(gone));
    EXPECT_EQ(q.next_deadline(), t0 + std::chrono::seconds(1));
    q.fire_due(t0 + std::chrono::milliseconds(999));
    EXPECT_TRUE(fired.empty());
    q.fire_due(t0 + std::chrono::seconds(1));
    EXPECT_EQ(fired, (std::vector<std::string>{"a1", "a2"}));
    EXPECT_EQ(q.next_deadline(), t0 + std::chrono::seconds(2));
    EXPECT_EQ(q.pending(), 1u);
}

TEST(TimerQueue, CallbacksMayAddTimersThatAreAlreadyDue) {
    TimerQueue q;
    const MonoClock::time_point t0{};
    int runs = 0;
    q.add(t0, [&] {
        ++runs;
        q.add(t0, [&] { ++runs; });
    });
    q.fire_due(t0);
    EXPECT_EQ(runs, 2);
    EXPECT_FALSE(q.next_deadline());
}

}  // namespace
}  // namespace nanotime::io
