// The io_uring backend's ring does only what the backend needs: an SQE with
// any other opcode (OPENAT, CONNECT, SOCKET: work the seccomp filter would
// refuse as a system call) completes with -EACCES, and no io_uring_register()
// operation is allowed once the loop runs. The opcodes the backend uses still
// work on the same ring.
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "io/uring_ring.hpp"
#include "loop_test_support.hpp"

namespace nanotime::io::testing {
namespace {

// Submits the prepared SQE and returns its completion's result.
int submit_and_reap(io_uring* ring, io_uring_sqe* sqe) {
    io_uring_sqe_set_data64(sqe, 0xfeed);  // never a tag of the loop's (kind 0)
    EXPECT_EQ(io_uring_submit(ring), 1);
    io_uring_cqe* cqe = nullptr;
    EXPECT_EQ(io_uring_wait_cqe(ring, &cqe), 0);
    if (cqe == nullptr) return 0;
    EXPECT_EQ(cqe->user_data, 0xfeedu);
    const int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

class UringRestrictions : public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override {
        if (!uring_usable()) GTEST_SKIP() << "io_uring unavailable here";
        LoopOptions o;
        o.choice = BackendChoice::IoUring;
        o.force_single_shot = GetParam();
        loop_ = make_event_loop(o);
        ring_ = ring_of(*loop_);
        ASSERT_NE(ring_, nullptr);
    }
    std::unique_ptr<EventLoop> loop_;
    io_uring* ring_ = nullptr;
};

TEST_P(UringRestrictions, RefusesOpcodesTheLoopDoesNotUse) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC, 0);
    EXPECT_EQ(submit_and_reap(ring_, sqe), -EACCES) << "OPENAT ran on the daemon's ring";

    sqe = io_uring_get_sqe(ring_);
    io_uring_prep_socket(sqe, AF_INET, SOCK_DGRAM, 0, 0);
    EXPECT_EQ(submit_and_reap(ring_, sqe), -EACCES) << "SOCKET ran on the daemon's ring";

    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(s, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sqe = io_uring_get_sqe(ring_);
    io_uring_prep_connect(sqe, s, reinterpret_cast<sockaddr*>(&to), sizeof to);
    EXPECT_EQ(submit_and_reap(ring_, sqe), -EACCES) << "CONNECT ran on the daemon's ring";
    close(s);

    sqe = io_uring_get_sqe(ring_);
    io_uring_prep_nop(sqe);
    EXPECT_EQ(submit_and_reap(ring_, sqe), -EACCES);

    // Registering files (and with them fixed-file tricks) is refused too.
    int fds[1] = {0};
    EXPECT_EQ(io_uring_register_files(ring_, fds, 1), -EACCES);
}

TEST_P(UringRestrictions, AllowsTheOpcodesTheLoopUses) {
    // A relative timeout of 1 ms: TIMEOUT is one of the loop's opcodes.
    __kernel_timespec ts{0, 1'000'000};
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    EXPECT_EQ(submit_and_reap(ring_, sqe), -ETIME);

    // POLL_ADD on a readable pipe.
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(write(p[1], "x", 1), 1);
    sqe = io_uring_get_sqe(ring_);
    io_uring_prep_poll_add(sqe, p[0], POLLIN);
    EXPECT_GT(submit_and_reap(ring_, sqe), 0);
    close(p[0]);
    close(p[1]);

    // And the loop itself still moves datagrams on the restricted ring.
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    int got = 0;
    const uint64_t rx = loop_->open_udp(o, [&](const ReceivedDatagram&) { ++got; });
    const uint64_t tx = loop_->open_udp(o, [](const ReceivedDatagram&) {});
    const uint8_t payload[4] = {1, 2, 3, 4};
    loop_->send_udp(tx, *loop_->local_address(rx), payload);
    EXPECT_TRUE(run_until(*loop_, [&] { return got == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Uring, UringRestrictions, ::testing::Values(false, true),
                         [](const auto& info) {
                             return std::string(info.param ? "single_shot" : "multishot");
                         });

}  // namespace
}  // namespace nanotime::io::testing
