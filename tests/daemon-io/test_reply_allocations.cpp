// Heap allocations on the server reply path: none per reply once the loop
// is warm, on every backend, through the event loop alone (request in,
// NtpServer::handle, send_udp, the batch out) and through ServerWorkers.
//
// This is its own test binary because it replaces the global operator new
// to count calls (every form; they all end in malloc, so ASan still sees
// every block). A regression guard for the issue 6 CPU budget: an
// allocation per reply was a measurable share of the cost per response.
// Loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "io/sockaddr.hpp"
#include "loop_test_support.hpp"
#include "nanotimed/server_reply.hpp"
#include "nanotimed/server_workers.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

namespace {

std::atomic<uint64_t> g_allocations{0};  // operator new calls, all threads

void* counted_alloc(std::size_t size, std::size_t align) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    if (align <= alignof(std::max_align_t)) return std::malloc(size);
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}

void* counted_alloc_or_throw(std::size_t size, std::size_t align) {
    void* p = counted_alloc(size, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

}  // namespace

// The replaceable allocation functions ([new.delete]); deletes just free.
void* operator new(std::size_t n) {
    return counted_alloc_or_throw(n, 0);
}
void* operator new[](std::size_t n) {
    return counted_alloc_or_throw(n, 0);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}

namespace nanotime::io::testing {
namespace {

using namespace std::chrono_literals;

ntp::NtpInstant now_instant() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

ntp::SystemState synced_state() {
    ntp::SystemState s;
    s.leap = ntp::LeapIndicator::NoWarning;
    s.stratum = 2;
    return s;
}

// A plain client socket (no loop, no allocation): sends @count mode-3
// requests to @to, all at once, so that the server sees a batch.
class Client {
  public:
    Client() {
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        // Room for every reply of a round (stock buffers hold ~ 200 small datagrams).
        const int bytes = 1 << 20;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    ~Client() { close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    int send(const sockaddr_in& to, int count) {
        int sent = 0;
        for (int i = 0; i < count; ++i) {
            uint8_t req[48] = {};
            req[0] = (4 << 3) | 3;                  // NTPv4, mode 3
            req[40] = static_cast<uint8_t>(i + 1);  // transmit timestamp, non-zero
            if (sendto(fd_, req, sizeof req, 0, reinterpret_cast<const sockaddr*>(&to),
                       sizeof to) == 48)
                ++sent;
        }
        return sent;
    }
    // Reads every reply waiting; returns how many were 48-octet mode-4 packets.
    int drain() {
        int got = 0;
        uint8_t buf[512];
        for (;;) {
            const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) return got;
            if (n == 48 && (buf[0] & 7) == 4) ++got;
        }
    }
    // Waits up to @limit for @want replies, draining as they come.
    int wait_for(int want, std::chrono::milliseconds limit) {
        const auto end = MonoClock::now() + limit;
        int got = drain();
        while (got < want && MonoClock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            poll(&p, 1, 20);
            got += drain();
        }
        return got;
    }

  private:
    int fd_ = -1;
};

// The sockaddr_in the client sends to (the loop's sockets here are IPv4).
sockaddr_in ipv4_sockaddr(const ntp::SocketAddress& address) {
    sockaddr_storage ss{};
    to_sockaddr(address, ss);
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    return sin;
}

// The event loop and the NtpServer, wired through answer_request() as the
// server front-end and its workers are: kernel RX timestamps and pktinfo
// on, reply from the request's destination address.
class ReplyAllocationTest : public LoopTest {};

TEST_P(ReplyAllocationTest, SteadyStateRepliesAllocateNothing) {
    ntp::SplitMix64 random(1);
    ntp::ServerConfig config;
    config.access.allow(*ntp::Cidr::parse("127.0.0.0/8"));
    // Rate limiting on, as by default (its table lookup and SipHash are part
    // of the reply path), generous enough to answer every request.
    config.rate_limit.emplace();
    config.rate_limit->interval = ntp::Nanoseconds(1000);
    config.rate_limit->burst = 1e6;
    ntp::NtpServer server(std::move(config), random);
    const ntp::SystemState state = synced_state();
    EventLoop& loop = *loop_;
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    int replies_queued = 0;
    const uint64_t sock = loop.open_udp(o, [&](const ReceivedDatagram& d) {
        const ntp::NtpInstant rx =
            d.rx.software
                ? ntp::NtpInstant::from_unix(ntp::Nanoseconds(
                      int64_t{d.rx.software->tv_sec} * 1'000'000'000 + d.rx.software->tv_nsec))
                : now_instant();
        if (daemon::answer_request(server, loop, d, rx, now_instant(), state, nullptr) ==
            ntp::ServerDecision::Drop)
            return;
        ++replies_queued;
    });
    const sockaddr_in to = ipv4_sockaddr(*loop.local_address(sock));
    Client client;

    // One round: @count requests land in the socket before the loop runs, so
    // the loop receives and answers them as one batch.
    auto round = [&](int count) {
        const int target = replies_queued + client.send(to, count);
        const auto end = MonoClock::now() + 3s;
        while (replies_queued < target && MonoClock::now() < end) loop.run_once(20ms);
        loop.run_once(0ms);  // collect the send completions (io_uring)
        return client.wait_for(count, 3s);
    };
    // Warm-up with larger rounds than measured: the send queue's ring, the
    // io_uring send-op pool and completion array reach the size the measured
    // rounds need.
    for (int i = 0; i < 4; ++i) ASSERT_EQ(round(128), 128);

    constexpr int kRounds = 20;
    constexpr int kPerRound = 64;
    const uint64_t before = g_allocations.load();
    int answered = 0;
    for (int i = 0; i < kRounds; ++i) answered += round(kPerRound);
    const uint64_t allocations = g_allocations.load() - before;

    EXPECT_EQ(answered, kRounds * kPerRound);
    EXPECT_EQ(allocations, 0u) << "heap allocations for " << answered << " replies";
    std::printf("  %llu heap allocations for %d replies\n",
                static_cast<unsigned long long>(allocations), answered);
}

// A datagram longer than the inline room of a queued send (NTS, later) takes
// the heap path; mixed with short ones, all arrive intact and in order, also
// across the ring's growth and wrap-around.
TEST_P(ReplyAllocationTest, LongAndShortDatagramsArriveIntactInOrder) {
    EventLoop& loop = *loop_;
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<std::vector<uint8_t>> got;
    const uint64_t rx = loop.open_udp(o, [&](const ReceivedDatagram& d) {
        got.emplace_back(d.payload.begin(), d.payload.end());
    });
    const uint64_t tx = loop.open_udp(o, [](const ReceivedDatagram&) {});
    const ntp::SocketAddress dest = *loop.local_address(rx);
    auto datagram = [](int i) {
        // Sizes on both sides of the inline limit; content names the index.
        const size_t sizes[] = {48, 256, 257, 1200, 68};
        std::vector<uint8_t> v(sizes[i % 5]);
        for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<uint8_t>(i * 7 + k);
        return v;
    };
    int sent = 0;
    for (int batch : {3, 40, 17, 40}) {  // grows the ring, then wraps it
        for (int i = 0; i < batch; ++i) loop.send_udp(tx, dest, datagram(sent++));
        ASSERT_TRUE(run_until(loop, [&] { return static_cast<int>(got.size()) == sent; }));
    }
    for (int i = 0; i < sent; ++i) EXPECT_EQ(got[i], datagram(i)) << "datagram " << i;
}

NANOTIME_ALL_BACKENDS(ReplyAllocationTest);

// ServerWorkers (server.workers > 1): the worker threads' reply path. The
// worker publishes its counters once a second through a timer, which
// allocates a little; nothing else may.
class WorkerAllocationTest : public ::testing::TestWithParam<BackendChoice> {};

TEST_P(WorkerAllocationTest, SteadyStateRepliesAllocateAlmostNothing) {
    if (GetParam() == BackendChoice::IoUring && !uring_usable())
        GTEST_SKIP() << "io_uring unavailable";
    ntp::SplitMix64 random(1);
    LoopOptions lo;
    lo.choice = GetParam();
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    // Bind a port first, as the daemon does with its main socket.
    const int holder = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(holder, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
    close(holder);  // one worker only: the whole group is the worker's socket
    o.bind = ntp::SocketAddress::v4_loopback(ntohs(a.sin_port));
    daemon::ServerWorkers workers(
        1, lo, std::vector<UdpOptions>{o},
        [&random] {
            ntp::ServerConfig c;
            c.access.allow(*ntp::Cidr::parse("127.0.0.0/8"));
            return std::make_unique<ntp::NtpServer>(std::move(c), random);
        },
        [](const ReceivedDatagram&) { return now_instant(); }, [] { return now_instant(); },
        synced_state());
    workers.start();
    Client client;
    for (int i = 0; i < 4; ++i) {
        client.send(a, 128);
        ASSERT_EQ(client.wait_for(128, 3s), 128);
    }

    constexpr int kRounds = 20;
    constexpr int kPerRound = 64;
    const auto start = MonoClock::now();
    const uint64_t before = g_allocations.load();
    int answered = 0;
    for (int i = 0; i < kRounds; ++i) {
        client.send(a, kPerRound);
        answered += client.wait_for(kPerRound, 3s);
    }
    const uint64_t allocations = g_allocations.load() - before;
    const double seconds = std::chrono::duration<double>(MonoClock::now() - start).count();

    std::printf("  %llu heap allocations for %d replies in %.2f s\n",
                static_cast<unsigned long long>(allocations), answered, seconds);
    EXPECT_EQ(answered, kRounds * kPerRound);
    // The counter-publishing timer: a few allocations per re-arm, once a second.
    EXPECT_LE(allocations, 4 * static_cast<uint64_t>(seconds + 1))
        << "heap allocations for " << answered << " replies in " << seconds << " s";
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerAllocationTest,
                         ::testing::Values(BackendChoice::Poll, BackendChoice::IoUring),
                         [](const ::testing::TestParamInfo<BackendChoice>& info) {
                             return info.param == BackendChoice::Poll ? std::string("poll")
                                                                      : std::string("io_uring");
                         });

}  // namespace
}  // namespace nanotime::io::testing
