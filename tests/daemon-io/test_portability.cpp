// The event loop's fallbacks where the system refuses something (io/syscalls.hpp
// is the seam): a socket() without SOCK_NONBLOCK|SOCK_CLOEXEC, sendmmsg,
// recvmmsg, accept4, signalfd, sigaction failing, poll() that reports idle
// descriptors as readable and knows no POLLERR (clknetsim's), and the
// millisecond rounding of the poll timeout. Each failure is injected by
// replacing one pointer of the Syscalls table; the rest stays libc's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/syscalls.hpp"
#include "loop_test_support.hpp"

namespace nanotime::io::testing {
namespace {

using namespace std::chrono_literals;

// What the fakes saw; reset by each test (one test at a time in a process).
struct Seen {
    int socket_refused = 0;  // socket() calls refused for their type flags
    int last_socket = -1;    // the last descriptor socket() returned
    int sendmmsg_calls = 0;
    int recvmmsg_calls = 0;
    int accept4_calls = 0;
    int poll_calls = 0;
    bool poll_timeout_short = false;  // a poll timeout ended before the deadline
    MonoClock::time_point deadline;   // for the timeout check
    short udp_events = 0;             // events asked for the last UDP socket polled
    int sendmmsg_errno = ENOSYS;
    int timestampns_fd = -1;  // the socket SO_TIMESTAMPNS was turned on for
};
Seen seen;

bool is_socket(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int setsockopt_noting_timestampns(int fd, int level, int name, const void* value, socklen_t len) {
    if (level == SOL_SOCKET && name == SO_TIMESTAMPNS && len == sizeof(int) &&
        *static_cast<const int*>(value) != 0)
        seen.timestampns_fd = fd;
    return ::setsockopt(fd, level, name, value, len);
}

int socket_without_type_flags(int domain, int type, int protocol) {
    if ((type & (SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
        ++seen.socket_refused;
        errno = EINVAL;  // what clknetsim's socket() says
        return -1;
    }
    seen.last_socket = ::socket(domain, type, protocol);
    return seen.last_socket;
}

int sendmmsg_failing(int, mmsghdr*, unsigned, int) {
    ++seen.sendmmsg_calls;
    errno = seen.sendmmsg_errno;
    return -1;
}

int sendmmsg_counting(int fd, mmsghdr* msgs, unsigned count, int flags) {
    ++seen.sendmmsg_calls;
    return ::sendmmsg(fd, msgs, count, flags);
}

int recvmmsg_enosys(int, mmsghdr*, unsigned, int, timespec*) {
    ++seen.recvmmsg_calls;
    errno = ENOSYS;
    return -1;
}

int accept4_enosys(int, sockaddr*, socklen_t*, int) {
    ++seen.accept4_calls;
    errno = ENOSYS;
    return -1;
}

int signalfd_enosys(int, const sigset_t*, int) {
    errno = ENOSYS;
    return -1;
}

int sigaction_eperm(int, const struct sigaction*, struct sigaction*) {
    errno = EPERM;
    return -1;
}

int socketpair_emfile(int, int, int, int*) {
    errno = EMFILE;
    return -1;
}

// poll() that checks its timeout against the deadline the test set.
int poll_checking_timeout(pollfd* fds, nfds_t n, int timeout) {
    ++seen.poll_calls;
    if (timeout >= 0 && MonoClock::now() + std::chrono::milliseconds(timeout) < seen.deadline) {
        seen.poll_timeout_short = true;
    }
    return ::poll(fds, n, timeout);
}

// poll() as clknetsim emulates it: a descriptor it does not simulate (here:
// anything that is not a socket) is always readable, at once; POLLERR is
// never reported (the error queue shows as POLLPRI, which it maps from
// select()'s exception set).
int poll_like_clknetsim(pollfd* fds, nfds_t n, int timeout) {
    ++seen.poll_calls;
    int ready = 0;
    for (nfds_t i = 0; i < n; ++i) {
        fds[i].revents = 0;
        if ((fds[i].events & POLLIN) && !is_socket(fds[i].fd)) {
            fds[i].revents = POLLIN;
            ++ready;
        }
    }
    if (ready > 0) return ready;
    const int r = ::poll(fds, n, timeout);
    for (nfds_t i = 0; i < n; ++i) fds[i].revents &= static_cast<short>(~POLLERR);
    return r;
}

// Only strips POLLERR (a poll that reports the error queue as POLLPRI alone),
// and remembers what UDP sockets asked for.
int poll_without_pollerr(pollfd* fds, nfds_t n, int timeout) {
    ++seen.poll_calls;
    for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].events & POLLIN) seen.udp_events = fds[i].events;
    }
    const int r = ::poll(fds, n, timeout);
    if (r <= 0) return r;
    int ready = 0;
    for (nfds_t i = 0; i < n; ++i) {
        fds[i].revents &= static_cast<short>(~POLLERR);
        if (fds[i].revents != 0) ++ready;
    }
    return ready;
}

std::unique_ptr<EventLoop> loop_with(Flavour f, const Syscalls* sys) {
    LoopOptions o;
    o.syscalls = sys;
    o.choice = f == Flavour::Poll ? BackendChoice::Poll : BackendChoice::IoUring;
    o.force_single_shot = f == Flavour::UringSingleShot;
    return make_event_loop(o);
}

bool has_fallback(const EventLoop& loop, const std::string& word) {
    for (const std::string& f : loop.fallbacks()) {
        if (f.find(word) != std::string::npos) return true;
    }
    return false;
}

// Two loopback UDP sockets on @loop; a sends @count datagrams to b.
struct Pair {
    uint64_t a = 0, b = 0;
    std::vector<std::string> got;
    std::vector<TxTimestamp> stamps;
    explicit Pair(EventLoop& loop, bool tx_timestamps = false) {
        UdpOptions o;
        o.bind = ntp::SocketAddress::v4_loopback(0);
        o.tx_timestamps = tx_timestamps;
        a = loop.open_udp(
            o, [](const ReceivedDatagram&) {},
            [this](const TxTimestamp& t) { stamps.push_back(t); });
        b = loop.open_udp(o, [this](const ReceivedDatagram& d) {
            got.emplace_back(d.payload.begin(), d.payload.end());
        });
    }
    void send(EventLoop& loop, const std::string& text) {
        const std::vector<uint8_t> bytes(text.begin(), text.end());
        loop.send_udp(a, *loop.local_address(b), bytes);
    }
};

TEST(PollTimeout, RoundsUpToWholeMilliseconds) {
    EXPECT_EQ(poll_timeout_ms(-5ms), 0);
    EXPECT_EQ(poll_timeout_ms(0ns), 0);
    EXPECT_EQ(poll_timeout_ms(1ns), 1);
    EXPECT_EQ(poll_timeout_ms(300us), 1);
    EXPECT_EQ(poll_timeout_ms(1ms), 1);
    EXPECT_EQ(poll_timeout_ms(1ms + 1ns), 2);
    EXPECT_EQ(poll_timeout_ms(2500ms), 2500);
    EXPECT_EQ(poll_timeout_ms(std::chrono::hours(24 * 365 * 100)), INT_MAX);
}

TEST(PollBackend, WaitsInPollNeverShorterThanTheNextTimer) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.poll = poll_checking_timeout;
    auto loop = loop_with(Flavour::Poll, &sys);
    bool fired = false;
    seen.deadline = MonoClock::now() + 300us;
    loop->add_timer(seen.deadline, [&] { fired = true; });
    for (int i = 0; i < 100 && !fired; ++i) loop->run_once(std::nullopt);
    EXPECT_TRUE(fired);
    EXPECT_GE(seen.poll_calls, 1);  // poll(), not ppoll
    EXPECT_FALSE(seen.poll_timeout_short);
    // One wait (timeout 1 ms, not 0) was enough: no spinning toward the deadline.
    EXPECT_EQ(loop->stats().wakeups, 1u);
}

using PortableLoopTest = LoopTest;

TEST_P(PortableLoopTest, SocketTypeFlagsRefusedAreSetWithFcntl) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.socket = socket_without_type_flags;
    auto loop = loop_with(GetParam(), &sys);
    Pair p(*loop);
    EXPECT_GE(seen.socket_refused, 2);
    ASSERT_GE(seen.last_socket, 0);
    EXPECT_NE(fcntl(seen.last_socket, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(fcntl(seen.last_socket, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_TRUE(has_fallback(*loop, "SOCK_NONBLOCK"));
    p.send(*loop, "one");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 1; }));
    EXPECT_EQ(p.got[0], "one");
}

// SO_TIMESTAMPNS only bridges the kernel's timestamp switch going on; after
// a second the loop turns it off (one control message per datagram less),
// and datagrams still carry SO_TIMESTAMPING's software stamp.
TEST_P(PortableLoopTest, SoTimestampnsIsTurnedOffASecondAfterOpen) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.setsockopt = setsockopt_noting_timestampns;
    auto loop = loop_with(GetParam(), &sys);
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<std::optional<timespec>> stamps;
    const uint64_t id =
        loop->open_udp(o, [&](const ReceivedDatagram& d) { stamps.push_back(d.rx.software); });
    ASSERT_GE(seen.timestampns_fd, 0);
    const int fd = seen.timestampns_fd;
    const auto timestampns = [fd] {
        int on = -1;
        socklen_t len = sizeof on;
        EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, &len), 0);
        return on;
    };
    const int sender = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sender, 0);
    const ntp::SocketAddress to = *loop->local_address(id);
    const auto send_one = [&] {
        const uint8_t b = 1;
        ASSERT_EQ(send_to(sender, &b, 1, to), 1);
    };
    send_one();
    ASSERT_TRUE(run_until(*loop, [&] { return stamps.size() == 1; }));
    EXPECT_EQ(timestampns(), 1);  // within the first second: still on
    std::this_thread::sleep_for(1100ms);
    send_one();
    ASSERT_TRUE(run_until(*loop, [&] { return stamps.size() == 2; }));
    EXPECT_EQ(timestampns(), 0);
    send_one();
    ASSERT_TRUE(run_until(*loop, [&] { return stamps.size() == 3; }));
    for (const auto& st : stamps) EXPECT_TRUE(st.has_value());
    close(sender);
}

TEST_P(PortableLoopTest, SignalfdRefusedSignalsComeThroughASelfPipe) {
    Syscalls sys = Syscalls::system();
    sys.signalfd = signalfd_enosys;
    auto loop = loop_with(GetParam(), &sys);
    std::vector<int> got;
    loop->watch_signals({SIGUSR1, SIGUSR2}, [&](const signalfd_siginfo& si) {
        got.push_back(static_cast<int>(si.ssi_signo));
    });
    EXPECT_EQ(loop->signal_delivery(), SignalDelivery::SelfPipe);
    EXPECT_TRUE(has_fallback(*loop, "self-pipe"));
    raise(SIGUSR1);
    ASSERT_TRUE(run_until(*loop, [&] { return got.size() == 1; }));
    raise(SIGUSR2);
    ASSERT_TRUE(run_until(*loop, [&] { return got.size() == 2; }));
    EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST_P(PortableLoopTest, WithoutSigactionTheLoopStillRuns) {
    Syscalls sys = Syscalls::system();
    sys.signalfd = signalfd_enosys;
    sys.sigaction = sigaction_eperm;
    auto loop = loop_with(GetParam(), &sys);
    loop->watch_signals({SIGUSR1}, [](const signalfd_siginfo&) {});
    EXPECT_EQ(loop->signal_delivery(), SignalDelivery::None);
    EXPECT_TRUE(has_fallback(*loop, "without signal handling"));
    bool fired = false;
    loop->add_timer_after(1ms, [&] { fired = true; });
    EXPECT_TRUE(run_until(*loop, [&] { return fired; }));
}

NANOTIME_ALL_BACKENDS(PortableLoopTest);

TEST(PollBackend, SendmmsgUnavailableFallsBackToSendmsgAndRemembers) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.sendmmsg = sendmmsg_failing;
    auto loop = loop_with(Flavour::Poll, &sys);
    Pair p(*loop);
    p.send(*loop, "a");
    p.send(*loop, "b");
    p.send(*loop, "c");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 3; }));
    EXPECT_EQ(p.got, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(seen.sendmmsg_calls, 1);
    p.send(*loop, "d");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 4; }));
    EXPECT_EQ(seen.sendmmsg_calls, 1);  // remembered: not tried again
    EXPECT_EQ(loop->stats().send_errors, 0u);
    EXPECT_TRUE(has_fallback(*loop, "sendmmsg"));
    EXPECT_NE(loop->describe().find("sendmsg"), std::string::npos);
}

TEST(PollBackend, SendmmsgOnADescriptorItDoesNotKnowFallsBack) {
    // clknetsim intercepts sendmsg but not sendmmsg: the kernel sees a
    // descriptor number that is not open and says EBADF.
    seen = {};
    seen.sendmmsg_errno = EBADF;
    Syscalls sys = Syscalls::system();
    sys.sendmmsg = sendmmsg_failing;
    auto loop = loop_with(Flavour::Poll, &sys);
    Pair p(*loop);
    p.send(*loop, "x");
    p.send(*loop, "y");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 2; }));
    EXPECT_EQ(seen.sendmmsg_calls, 1);
}

TEST(PollBackend, ABadDatagramDoesNotDisableSendmmsg) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.sendmmsg = sendmmsg_counting;
    auto loop = loop_with(Flavour::Poll, &sys);
    Pair p(*loop);
    // An IPv6 destination on an IPv4 socket: sendmmsg and sendmsg both refuse it.
    const uint8_t byte = 1;
    loop->send_udp(p.a, ntp::SocketAddress::v6_loopback(9), std::span<const uint8_t>(&byte, 1));
    p.send(*loop, "after");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 1; }));
    EXPECT_EQ(loop->stats().send_errors, 1u);
    EXPECT_FALSE(has_fallback(*loop, "sendmmsg"));
    EXPECT_GE(seen.sendmmsg_calls, 2);  // still in use after the bad datagram
}

TEST(PollBackend, RecvmmsgUnavailableFallsBackToRecvmsg) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.recvmmsg = recvmmsg_enosys;
    auto loop = loop_with(Flavour::Poll, &sys);
    Pair p(*loop, /*tx_timestamps=*/true);
    p.send(*loop, "1");
    p.send(*loop, "2");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 2 && p.stamps.size() == 2; }));
    EXPECT_EQ(p.got, (std::vector<std::string>{"1", "2"}));
    EXPECT_TRUE(p.stamps[0].tx.software.has_value());
    EXPECT_EQ(seen.recvmmsg_calls, 1);  // remembered
    EXPECT_TRUE(has_fallback(*loop, "recvmmsg"));
}

TEST(PollBackend, TxTimestampsArriveOnPollpriAlone) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.poll = poll_without_pollerr;
    auto loop = loop_with(Flavour::Poll, &sys);
    Pair p(*loop, /*tx_timestamps=*/true);
    p.send(*loop, "stamp me");
    ASSERT_TRUE(run_until(*loop, [&] { return p.got.size() == 1 && p.stamps.size() == 1; }));
    EXPECT_TRUE(p.stamps[0].tx.software.has_value());
    EXPECT_NE(seen.udp_events & POLLPRI, 0);
}

TEST(PollBackend, Accept4RefusedUsesAccept) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.accept4 = accept4_enosys;
    auto loop = loop_with(Flavour::Poll, &sys);
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(lfd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    int accepted = -1;
    loop->listen_stream(lfd, [&](int fd) { accepted = fd; });
    const int cfd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(cfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_TRUE(run_until(*loop, [&] { return accepted >= 0; }));
    EXPECT_NE(fcntl(accepted, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(fcntl(accepted, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(seen.accept4_calls, 1);
    EXPECT_TRUE(has_fallback(*loop, "accept4"));
    close(accepted);
    close(cfd);
}

// Under a poll() that reports every descriptor it does not simulate as
// readable (clknetsim), neither a signalfd nor a self-pipe may be in the
// set: the loop would never wait. Signals then interrupt the wait.
TEST(PollBackend, PollThatCannotWaitOnPipesGetsSignalsByInterruption) {
    seen = {};
    Syscalls sys = Syscalls::system();
    sys.poll = poll_like_clknetsim;
    auto loop = loop_with(Flavour::Poll, &sys);
    EXPECT_FALSE(loop->waits_on_foreign_fds());
    std::vector<int> got;
    loop->watch_signals({SIGUSR1}, [&](const signalfd_siginfo& si) {
        got.push_back(static_cast<int>(si.ssi_signo));
    });
    EXPECT_EQ(loop->signal_delivery(), SignalDelivery::Interrupt);
    // The loop really waits: one wake-up for a timer 30 ms ahead.
    bool fired = false;
    loop->add_timer_after(30ms, [&] { fired = true; });
    const auto start = MonoClock::now();
    const uint64_t wakeups = loop->stats().wakeups;
    while (!fired && MonoClock::now() - start < 2s) loop->run_once(std::nullopt);
    EXPECT_TRUE(fired);
    EXPECT_GE(MonoClock::now() - start, 30ms);
    EXPECT_LE(loop->stats().wakeups - wakeups, 2u);
    // A signal sent to the loop's thread while it waits ends the wait.
    const pthread_t self = pthread_self();
    std::thread sender([self] {
        std::this_thread::sleep_for(50ms);
        pthread_kill(self, SIGUSR1);
    });
    const auto before = MonoClock::now();
    loop->run_once(5s);
    sender.join();
    EXPECT_EQ(got, (std::vector<int>{SIGUSR1}));
    EXPECT_LT(MonoClock::now() - before, 900ms);
}

TEST(Syscalls, UnixSocketsMissingIsReported) {
    Syscalls sys = Syscalls::system();
    std::string why;
    EXPECT_TRUE(unix_stream_sockets_available(sys, &why));
    sys.socket = socket_without_type_flags;
    EXPECT_FALSE(unix_stream_sockets_available(sys, &why));
    EXPECT_NE(why.find("AF_UNIX"), std::string::npos);
}

TEST(Syscalls, SocketpairFallsBackToFcntl) {
    Syscalls sys = Syscalls::system();
    sys.socketpair = [](int d, int t, int p, int* fds) {
        if ((t & (SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
            errno = EINVAL;
            return -1;
        }
        return ::socketpair(d, t, p, fds);
    };
    int fds[2];
    bool fell_back = false;
    ASSERT_EQ(open_socketpair(sys, AF_UNIX, SOCK_STREAM, fds, &fell_back), 0);
    EXPECT_TRUE(fell_back);
    for (int fd : fds) {
        EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
        close(fd);
    }
    sys.socketpair = socketpair_emfile;
    EXPECT_NE(open_socketpair(sys, AF_UNIX, SOCK_STREAM, fds), 0);
    EXPECT_EQ(errno, EMFILE);
}

}  // namespace
}  // namespace nanotime::io::testing
