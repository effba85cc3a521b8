// KernelChannel's requests never hold the event loop waiting for a reply.
// On the host (no nanoclock modules): requests sent to a userspace netlink
// socket standing in for a kernel that never answers fail at once, and
// answers the real kernel gives (generic netlink's controller refusing an
// unknown command) are still read, without any wait.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "kernel/kernel_channel.hpp"

namespace nanotime::kernel {
namespace {

using Clock = std::chrono::steady_clock;

// A netlink socket that receives requests and never answers.
class SilentPeer {
  public:
    SilentPeer() {
        fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        sockaddr_nl a{};
        a.nl_family = AF_NETLINK;
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = a.nl_pid;
    }
    ~SilentPeer() { close(fd_); }
    uint32_t port() const { return port_; }
    // The type (family id) of the next queued request; 0 if none.
    uint16_t next_request_type() {
        alignas(nlmsghdr) uint8_t buf[8192];
        const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return 0;
        return reinterpret_cast<const nlmsghdr*>(buf)->nlmsg_type;
    }

  private:
    int fd_ = -1;
    uint32_t port_ = 0;
};

constexpr int kClockFamily = 0x7a01;  // ids the peer pretends the families have
constexpr int kPpsFamily = 0x7a02;
constexpr auto kNoWait = std::chrono::milliseconds(100);  // was 1 s per request

TEST(KernelChannel, RequestsToAPeerThatNeverAnswersFailAtOnce) {
    if (geteuid() != 0) GTEST_SKIP() << "sending to a userspace netlink port needs CAP_NET_ADMIN";
    SilentPeer peer;
    ASSERT_NE(peer.port(), 0u);
    KernelChannel channel(KernelChannelTarget{peer.port(), kClockFamily, kPpsFamily});

    auto start = Clock::now();
    const auto clock = channel.get_clock(0);
    EXPECT_LT(Clock::now() - start, kNoWait);
    EXPECT_EQ(clock.status.error, -ENOMSG) << clock.status.message;
    EXPECT_EQ(peer.next_request_type(), kClockFamily);  // it was sent

    start = Clock::now();
    const auto sources = channel.pps_sources();
    EXPECT_LT(Clock::now() - start, kNoWait);
    EXPECT_EQ(sources.status.error, -ENOMSG);
    EXPECT_EQ(peer.next_request_type(), kPpsFamily);

    start = Clock::now();
    const RequestStatus injected = channel.inject(0, timespec{1, 0});
    EXPECT_LT(Clock::now() - start, kNoWait);
    EXPECT_EQ(injected.error, -ENOMSG);
    EXPECT_EQ(peer.next_request_type(), kPpsFamily);
    EXPECT_EQ(channel.counters().request_errors, 3u);
}

TEST(KernelChannel, TheKernelsAnswersAreReadWithoutWaiting) {
    // nlctrl knows no command 1 (NANOCLOCK_CMD_GET_CLOCK and
    // NANOCLOCK_PPS_CMD_GET_SOURCE): it refuses, inside our sendmsg.
    KernelChannel channel(KernelChannelTarget{0, GENL_ID_CTRL, GENL_ID_CTRL});
    const auto start = Clock::now();
    const auto clock = channel.get_clock(0);
    EXPECT_EQ(clock.status.error, -EOPNOTSUPP) << clock.status.message;
    const auto sources = channel.pps_sources();  // a dump request
    EXPECT_EQ(sources.status.error, -EOPNOTSUPP) << sources.status.message;
    EXPECT_LT(Clock::now() - start, kNoWait);
}

}  // namespace
}  // namespace nanotime::kernel
