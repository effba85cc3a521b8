// Event loop behaviour, identical on every backend: UDP with kernel
// timestamps (IPv4, IPv6), batched sends, streams, timers, signals.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loop_test_support.hpp"

namespace nanotime::io::testing {
namespace {

int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t to_ns(const timespec& ts) {
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::vector<uint8_t> bytes(const std::string& s) {
    return {s.begin(), s.end()};
}

using EventLoopTest = LoopTest;

void echo_with_timestamps(EventLoop& loop, const ntp::SocketAddress& any_loopback) {
    UdpOptions so;
    so.bind = any_loopback;
    so.tx_timestamps = true;
    std::vector<TxTimestamp> server_tx;
    uint64_t server = 0;
    uint64_t reply_token = 0;
    server = loop.open_udp(
        so,
        [&](const ReceivedDatagram& d) {
            ASSERT_TRUE(d.rx.software.has_value());
            ASSERT_TRUE(d.local);
            reply_token = loop.send_udp(server, d.peer, d.payload, &*d.local);
        },
        [&](const TxTimestamp& t) { server_tx.push_back(t); });
    const ntp::SocketAddress server_addr = *loop.local_address(server);
    ASSERT_NE(server_addr.port, 0);

    UdpOptions co = so;
    std::vector<ReceivedDatagram> replies;
    std::vector<std::vector<uint8_t>> reply_bytes;
    std::vector<TxTimestamp> client_tx;
    const uint64_t client = loop.open_udp(
        co,
        [&](const ReceivedDatagram& d) {
            replies.push_back(d);
            reply_bytes.emplace_back(d.payload.begin(), d.payload.end());
        },
        [&](const TxTimestamp& t) { client_tx.push_back(t); });

    const int64_t before = realtime_ns();
    const auto msg = bytes("nanotime echo");
    const uint64_t token = loop.send_udp(client, server_addr, msg);
    ASSERT_NE(token, 0u);
    ASSERT_TRUE(run_until(
        loop, [&] { return !replies.empty() && !client_tx.empty() && !server_tx.empty(); }));
    const int64_t after = realtime_ns();

    EXPECT_EQ(reply_bytes[0], msg);
    EXPECT_EQ(replies[0].peer, server_addr);
    ASSERT_TRUE(replies[0].rx.software.has_value());
    const int64_t rx = to_ns(*replies[0].rx.software);
    EXPECT_GE(rx, before);
    EXPECT_LE(rx, after);
    EXPECT_EQ(client_tx[0].token, token);
    EXPECT_EQ(client_tx[0].socket, client);
    ASSERT_TRUE(client_tx[0].tx.software.has_value());
    const int64_t tx = to_ns(*client_tx[0].tx.software);
    EXPECT_GE(tx, before);
    EXPECT_LE(tx, rx);  // sent before the reply came back
    EXPECT_EQ(server_tx[0].token, reply_token);
    loop.close_udp(client);
    loop.close_udp(server);
    loop.run_once(std::chrono::milliseconds(10));
}

TEST_P(EventLoopTest, UdpEchoIpv4WithRxAndTxTimestamps) {
    echo_with_timestamps(*loop_, ntp::SocketAddress::v4_loopback(0));
}

TEST_P(EventLoopTest, UdpEchoIpv6WithRxAndTxTimestamps) {
    const int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    const bool v6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (probe >= 0) close(probe);
    if (!v6) GTEST_SKIP() << "no IPv6 loopback";
    echo_with_timestamps(*loop_, ntp::SocketAddress::v6_loopback(0));
}

// The kernel stamps incoming packets only while a global switch (a static key)
// is on; the first timestamping socket on the host turns it on from a work
// item, some milliseconds after setsockopt(SO_TIMESTAMPING). Datagrams that
// arrived in between used to be delivered without a software RX stamp. Each
// round opens a fresh socket while the switch has had time to go off again
// (the previous round's socket closed 50 ms ago; nothing else in this process
// holds it, and the sender asks for no timestamps) and sends a burst at once:
// every datagram must carry a stamp taken no earlier than the open.
TEST_P(EventLoopTest, EveryDatagramRightAfterOpenHasRxTimestamp) {
    constexpr int kRounds = 5;
    constexpr size_t kBurst = 8;
    const int sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sender, 0);
    const auto settle = [&] {  // let closes finish and the kernel switch go cold
        const auto end = MonoClock::now() + std::chrono::milliseconds(50);
        while (MonoClock::now() < end) loop_->run_once(std::chrono::milliseconds(10));
    };
    settle();
    for (int round = 0; round < kRounds; ++round) {
        SCOPED_TRACE(::testing::Message() << "round " << round);
        UdpOptions so;
        so.bind = ntp::SocketAddress::v4_loopback(0);
        std::vector<std::optional<timespec>> stamps;
        const int64_t before = realtime_ns();
        const uint64_t server = loop_->open_udp(
            so, [&](const ReceivedDatagram& d) { stamps.push_back(d.rx.software); });
        const ntp::SocketAddress addr = *loop_->local_address(server);
        for (size_t i = 0; i < kBurst; ++i) {
            const uint8_t b = static_cast<uint8_t>(i);
            ASSERT_EQ(send_to(sender, &b, 1, addr), 1);
        }
        ASSERT_TRUE(run_until(*loop_, [&] { return stamps.size() >= kBurst; }));
        const int64_t after = realtime_ns();
        ASSERT_EQ(stamps.size(), kBurst);
        for (size_t i = 0; i < kBurst; ++i) {
            ASSERT_TRUE(stamps[i].has_value()) << "datagram " << i;
            EXPECT_GE(to_ns(*stamps[i]), before) << "datagram " << i;
            EXPECT_LE(to_ns(*stamps[i]), after) << "datagram " << i;
        }
        loop_->close_udp(server);
        settle();
    }
    close(sender);
    EXPECT_EQ(loop_->stats().rx_control_truncated, 0u);
}

// A reply can be handled before the loop has seen its request's TX stamp:
// collect_tx_timestamps() reads the error queue on demand.
// Under run(), an iteration's replies may be left for the next wait to
// submit (io_uring). A reply queued by the callback that stops the loop
// must still reach the kernel before run() returns.
TEST_P(EventLoopTest, RunHandsOverTheRepliesOfItsLastIteration) {
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    o.rx_timestamps = false;
    const uint64_t server = loop_->open_udp(o, [&](const ReceivedDatagram& d) {
        const uint8_t reply[] = {'o', 'k'};
        loop_->send_udp(d.socket, d.peer, reply);
        loop_->stop();
    });
    const int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    const ntp::SocketAddress to = *loop_->local_address(server);
    ASSERT_EQ(send_to(client, "q", 1, to), 1);
    loop_->run();
    // The loop is not running any more: the reply is in the kernel already.
    pollfd pfd{client, POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 1000), 1);
    char got[8] = {};
    EXPECT_EQ(recv(client, got, sizeof got, MSG_DONTWAIT), 2);
    EXPECT_EQ(std::string(got, 2), "ok");
    close(client);
}

// The io_uring ring lends its receive buffers a few at a time (16 at
// first): a burst larger than that is received whole, in order.
TEST_P(EventLoopTest, BurstLargerThanTheFirstReceiveBuffersArrivesWhole) {
    constexpr int kBurst = 200;
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<int> got;
    const uint64_t server = loop_->open_udp(
        o, [&](const ReceivedDatagram& d) { got.push_back(d.payload[0] | d.payload[1] << 8); });
    const int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    const ntp::SocketAddress to = *loop_->local_address(server);
    loop_->run_once(std::chrono::milliseconds(0));  // the receive is armed
    for (int i = 0; i < kBurst; ++i) {
        const uint8_t b[2] = {static_cast<uint8_t>(i & 0xff), static_cast<uint8_t>(i >> 8)};
        ASSERT_EQ(send_to(client, b, 2, to), 2);
    }
    ASSERT_TRUE(run_until(*loop_, [&] { return got.size() >= kBurst; }));
    for (int i = 0; i < kBurst; ++i) ASSERT_EQ(got[i], i);
    close(client);
}

TEST_P(EventLoopTest, TxTimestampCollectedOnDemand) {
    UdpOptions so;
    so.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<ReceivedDatagram> got;
    const uint64_t server =
        loop_->open_udp(so, [&](const ReceivedDatagram& d) { got.push_back(d); });
    UdpOptions co = so;
    co.tx_timestamps = true;
    std::vector<TxTimestamp> stamps;
    const uint64_t client = loop_->open_udp(
        co, [](const ReceivedDatagram&) {}, [&](const TxTimestamp& t) { stamps.push_back(t); });
    const int64_t before = realtime_ns();
    const uint64_t token = loop_->send_udp(client, *loop_->local_address(server), bytes("t1"));
    ASSERT_TRUE(run_until(*loop_, [&] { return loop_->stats().datagrams_sent >= 1; }));
    loop_->collect_tx_timestamps(client);
    ASSERT_EQ(stamps.size(), 1u);
    EXPECT_EQ(stamps[0].token, token);
    ASSERT_TRUE(stamps[0].tx.software.has_value());
    EXPECT_GE(to_ns(*stamps[0].tx.software), before);
    EXPECT_LE(to_ns(*stamps[0].tx.software), realtime_ns());
    loop_->collect_tx_timestamps(client);  // nothing more, no duplicate
    loop_->collect_tx_timestamps(server);  // no TX stamps asked: no-op
    loop_->collect_tx_timestamps(12345);   // unknown: no-op
    EXPECT_EQ(stamps.size(), 1u);
}

// tx_timestamps_on_request (the server's sockets): only the datagrams sent
// with want_tx_timestamp are stamped, each stamp comes back with its own
// token (the kernel counts OPT_ID keys for stamped datagrams only), and the
// stamp request rides along with pktinfo on a wildcard socket.
TEST_P(EventLoopTest, TxTimestampsOnlyForDatagramsThatAskForOne) {
    UdpOptions so;
    so.bind = ntp::SocketAddress::v4_any(0);
    so.tx_timestamps_on_request = true;
    uint64_t server = 0;
    int requests = 0;
    std::vector<uint64_t> stamped_tokens;
    std::vector<TxTimestamp> stamps;
    const int64_t before = realtime_ns();
    server = loop_->open_udp(
        so,
        [&](const ReceivedDatagram& d) {
            ASSERT_TRUE(d.local);
            const bool want = requests++ % 2 == 1;
            const uint64_t token = loop_->send_udp(server, d.peer, d.payload, &*d.local, want);
            if (want) stamped_tokens.push_back(token);
        },
        [&](const TxTimestamp& t) { stamps.push_back(t); });
    UdpOptions co;
    co.bind = ntp::SocketAddress::v4_loopback(0);
    int replies = 0;
    const uint64_t client = loop_->open_udp(co, [&](const ReceivedDatagram&) { ++replies; });
    ntp::SocketAddress to = ntp::SocketAddress::v4_loopback(loop_->local_address(server)->port);
    for (int i = 0; i < 5; ++i) {
        loop_->send_udp(client, to, bytes("q" + std::to_string(i)));
        ASSERT_TRUE(run_until(*loop_, [&] { return replies == i + 1; }));
    }
    ASSERT_TRUE(run_until(*loop_, [&] { return stamps.size() >= 2; }));
    run_until(
        *loop_, [] { return false; }, std::chrono::milliseconds(30));
    ASSERT_EQ(stamps.size(), 2u);
    EXPECT_EQ(stamped_tokens.size(), 2u);
    for (size_t i = 0; i < stamps.size(); ++i) {
        EXPECT_EQ(stamps[i].token, stamped_tokens[i]);
        ASSERT_TRUE(stamps[i].tx.software.has_value());
        EXPECT_GE(to_ns(*stamps[i].tx.software), before);
        EXPECT_LE(to_ns(*stamps[i].tx.software), realtime_ns());
    }
    EXPECT_EQ(loop_->stats().tx_timestamps, 2u);
}

// A datagram larger than the receive buffer (MSG_TRUNC) is never handed to
// the socket's owner, whose answer would be to a request it never saw whole:
// it is dropped and counted. The next datagram is delivered as usual.
TEST_P(EventLoopTest, TruncatedDatagramIsDroppedAndCounted) {
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<size_t> delivered;
    const uint64_t rx = loop_->open_udp(
        o, [&](const ReceivedDatagram& d) { delivered.push_back(d.payload.size()); });
    const uint64_t tx = loop_->open_udp(o, [](const ReceivedDatagram&) {});
    const std::vector<uint8_t> big(LoopOptions{}.buffer_size + 1000, 0x23);
    const std::vector<uint8_t> small(48, 0x23);
    loop_->send_udp(tx, *loop_->local_address(rx), big);
    loop_->send_udp(tx, *loop_->local_address(rx), small);
    EXPECT_TRUE(run_until(*loop_, [&] { return !delivered.empty(); }));
    run_until(
        *loop_, [] { return false; }, std::chrono::milliseconds(100));
    EXPECT_EQ(delivered, std::vector<size_t>{48});
    EXPECT_EQ(loop_->stats().datagrams_truncated, 1u);
    EXPECT_EQ(loop_->stats().datagrams_received, 1u);
}

TEST_P(EventLoopTest, BatchedSendsAllArriveInOrder) {
    std::vector<uint32_t> got;
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    const uint64_t rx = loop_->open_udp(o, [&](const ReceivedDatagram& d) {
        uint32_t v = 0;
        ASSERT_EQ(d.payload.size(), sizeof v);
        std::memcpy(&v, d.payload.data(), sizeof v);
        got.push_back(v);
    });
    const uint64_t tx = loop_->open_udp(o, [](const ReceivedDatagram&) {});
    const ntp::SocketAddress to = *loop_->local_address(rx);
    constexpr uint32_t kCount = 200;
    for (uint32_t i = 0; i < kCount; ++i) {
        loop_->send_udp(tx, to, std::span<const uint8_t>(reinterpret_cast<uint8_t*>(&i), sizeof i));
    }
    ASSERT_TRUE(run_until(*loop_, [&] { return got.size() == kCount; }));
    for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(got[i], i);
    EXPECT_GE(loop_->stats().datagrams_sent, kCount);
}

TEST_P(EventLoopTest, CloseSocketFromItsOwnCallback) {
    int received = 0;
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    uint64_t rx = 0;
    rx = loop_->open_udp(o, [&](const ReceivedDatagram&) {
        ++received;
        loop_->close_udp(rx);
    });
    const ntp::SocketAddress to = *loop_->local_address(rx);
    const uint64_t tx = loop_->open_udp(o, [](const ReceivedDatagram&) {});
    for (int i = 0; i < 5; ++i) loop_->send_udp(tx, to, bytes("x"));
    run_until(
        *loop_, [&] { return false; }, std::chrono::milliseconds(200));
    EXPECT_EQ(received, 1);
}

TEST_P(EventLoopTest, SendToUnknownSocketIsIgnored) {
    EXPECT_EQ(loop_->send_udp(12345, ntp::SocketAddress::v4_loopback(9), bytes("x")), 0u);
}

std::string temp_socket_path() {
    char dir[] = "/tmp/nanotime-loop-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    return std::string(dir) + "/s";
}

int unix_listener(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd, 16), 0);
    return fd;
}

int unix_connect(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
}

TEST_P(EventLoopTest, StreamAcceptReadWriteAndClose) {
    const std::string path = temp_socket_path();
    std::map<uint64_t, std::string> received;
    std::vector<uint64_t> closed;
    loop_->listen_stream(unix_listener(path), [&](int fd) {
        loop_->add_stream(
            fd,
            [&](uint64_t c, std::span<const uint8_t> data) {
                received[c].append(data.begin(), data.end());
                // Echo in upper case.
                std::string up(data.begin(), data.end());
                for (char& ch : up) ch = static_cast<char>(std::toupper(ch));
                loop_->write_stream(c, std::span<const uint8_t>(
                                           reinterpret_cast<const uint8_t*>(up.data()), up.size()));
            },
            [&](uint64_t c) { closed.push_back(c); });
    });
    const int a = unix_connect(path);
    const int b = unix_connect(path);
    ASSERT_EQ(write(a, "hello", 5), 5);
    ASSERT_EQ(write(b, "world", 5), 5);
    ASSERT_TRUE(run_until(*loop_, [&] {
        size_t total = 0;
        for (auto& [c, s] : received) total += s.size();
        return total == 10;
    }));
    char buf[16] = {};
    ASSERT_EQ(read(a, buf, sizeof buf), 5);
    EXPECT_EQ(std::string(buf, 5), "HELLO");
    ASSERT_EQ(read(b, buf, sizeof buf), 5);
    EXPECT_EQ(std::string(buf, 5), "WORLD");
    close(a);
    ASSERT_TRUE(run_until(*loop_, [&] { return closed.size() == 1; }));
    close(b);
    ASSERT_TRUE(run_until(*loop_, [&] { return closed.size() == 2; }));
    unlink(path.c_str());
}

TEST_P(EventLoopTest, LargeStreamWriteIsDeliveredWholeThenClosed) {
    const std::string path = temp_socket_path();
    constexpr size_t kSize = 4 << 20;  // far beyond the socket buffer: partial writes
    std::string payload(kSize, '\0');
    for (size_t i = 0; i < kSize; ++i) payload[i] = static_cast<char>('a' + i % 26);
    bool server_closed = false;
    loop_->listen_stream(unix_listener(path), [&](int fd) {
        const uint64_t c = loop_->add_stream(
            fd, [](uint64_t, std::span<const uint8_t>) {}, [&](uint64_t) { server_closed = true; });
        loop_->write_stream(
            c, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()),
                                        payload.size()));
        loop_->close_stream(c);  // after the flush
    });
    std::string got;
    std::thread reader([&] {
        const int fd = unix_connect(path);
        char buf[65536];
        for (;;) {
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<size_t>(n));
        }
        close(fd);
    });
    run_until(
        *loop_, [&] { return server_closed; }, std::chrono::milliseconds(10000));
    reader.join();
    EXPECT_TRUE(server_closed);
    EXPECT_EQ(got.size(), payload.size());
    EXPECT_TRUE(got == payload);
    unlink(path.c_str());
}

TEST_P(EventLoopTest, TimersFireInDeadlineOrderFifoOnTies) {
    using namespace std::chrono_literals;
    std::vector<std::string> order;
    const auto base = MonoClock::now() + 20ms;
    loop_->add_timer(base + 30ms, [&] { order.push_back("c"); });
    loop_->add_timer(base + 10ms, [&] { order.push_back("a"); });
    loop_->add_timer(base + 20ms, [&] { order.push_back("b1"); });
    loop_->add_timer(base + 20ms, [&] { order.push_back("b2"); });
    const uint64_t cancelled = loop_->add_timer(base + 15ms, [&] { order.push_back("never"); });
    MonoClock::time_point nested_deadline{};
    loop_->add_timer(base, [&] {
        order.push_back("first");
        nested_deadline = MonoClock::now();  // what add_timer_after(0ms) would use
        loop_->add_timer(nested_deadline, [&] { order.push_back("nested"); });
    });
    EXPECT_TRUE(loop_->cancel_timer(cancelled));
    EXPECT_FALSE(loop_->cancel_timer(cancelled));
    ASSERT_TRUE(run_until(*loop_, [&] { return order.size() == 6; }));
    // "nested" is due at once, so it normally runs right after "first"; if
    // the loop woke late (a loaded machine), timers whose deadlines had
    // already passed by then are earlier in deadline order and run first,
    // and so does a tie, added before it.
    std::vector<std::string> expected{"first"};
    bool nested_placed = false;
    for (const auto& [deadline, name] :
         {std::pair{base + 10ms, "a"}, std::pair{base + 20ms, "b1"}, std::pair{base + 20ms, "b2"},
          std::pair{base + 30ms, "c"}}) {
        if (!nested_placed && nested_deadline < deadline) {
            expected.emplace_back("nested");
            nested_placed = true;
        }
        expected.emplace_back(name);
    }
    if (!nested_placed) expected.emplace_back("nested");
    EXPECT_EQ(order, expected);
}

TEST_P(EventLoopTest, TimerWakesAnIdleLoopOnTime) {
    using namespace std::chrono_literals;
    bool fired = false;
    const auto start = MonoClock::now();
    loop_->add_timer_after(50ms, [&] { fired = true; });
    while (!fired && MonoClock::now() - start < 2s) loop_->run_once(std::nullopt);
    const auto elapsed = MonoClock::now() - start;
    EXPECT_TRUE(fired);
    EXPECT_GE(elapsed, 50ms);
    EXPECT_LT(elapsed, 500ms);
}

TEST_P(EventLoopTest, SignalsAreDeliveredThroughTheLoop) {
    std::vector<int> got;
    loop_->watch_signals({SIGUSR1, SIGUSR2}, [&](const signalfd_siginfo& si) {
        got.push_back(static_cast<int>(si.ssi_signo));
    });
    raise(SIGUSR1);
    ASSERT_TRUE(run_until(*loop_, [&] { return got.size() == 1; }));
    raise(SIGUSR2);
    ASSERT_TRUE(run_until(*loop_, [&] { return got.size() == 2; }));
    EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST_P(EventLoopTest, RunStopsOnStop) {
    using namespace std::chrono_literals;
    loop_->add_timer_after(5ms, [&] { loop_->stop(); });
    loop_->run();
    EXPECT_TRUE(loop_->stopping());
}

NANOTIME_ALL_BACKENDS(EventLoopTest);

TEST(EventLoopSelection, ExplicitPollIsPoll) {
    LoopOptions o;
    o.choice = BackendChoice::Poll;
    std::string note;
    auto loop = make_event_loop(o, &note);
    EXPECT_EQ(loop->backend(), Backend::Poll);
    EXPECT_FALSE(note.empty());
}

TEST(EventLoopSelection, AutoPrefersIoUringWhenUsable) {
    std::string note;
    auto loop = make_event_loop(LoopOptions{}, &note);
    EXPECT_EQ(loop->backend(), uring_usable() ? Backend::IoUring : Backend::Poll) << note;
}

}  // namespace
}  // namespace nanotime::io::testing
