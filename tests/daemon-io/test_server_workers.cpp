// ServerWorkers: extra server threads, each with its own loop and an
// SO_REUSEPORT socket, answer every client, report their counters, pick up a
// new system state, and stop and join when destroyed. Loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "nanotimed/server_workers.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

// A free loopback port for an SO_REUSEPORT group.
uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

ntp::NtpInstant now_instant() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

class ServerWorkersTest : public ::testing::TestWithParam<io::BackendChoice> {
  protected:
    std::unique_ptr<ServerWorkers> make(unsigned count, uint16_t port, ntp::SystemState state,
                                        std::optional<ntp::RateLimitConfig> rate_limit = {}) {
        io::LoopOptions lo;
        lo.choice = GetParam();
        io::UdpOptions o;
        o.bind = ntp::SocketAddress::v4_loopback(port);
        o.pktinfo = false;
        return std::make_unique<ServerWorkers>(
            count, lo, std::vector<io::UdpOptions>{o},
            [this, rate_limit] {
                ntp::ServerConfig c;
                c.access.allow(*ntp::Cidr::parse("127.0.0.0/8"));
                c.rate_limit = rate_limit;
                return std::make_unique<ntp::NtpServer>(std::move(c), random_);
            },
            [](const io::ReceivedDatagram&) { return now_instant(); }, [] { return now_instant(); },
            state);
    }

    // Sends one mode-3 request from each of @clients fresh sockets and
    // returns the stratum of every reply that came back.
    static std::vector<int> ask(uint16_t port, int clients) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port);
        std::vector<int> fds;
        for (int i = 0; i < clients; ++i) {
            const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            uint8_t req[48] = {};
            req[0] = (4 << 3) | 3;
            req[40] = static_cast<uint8_t>(i + 1);  // transmit timestamp, non-zero
            EXPECT_EQ(sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                      48);
            fds.push_back(fd);
        }
        std::vector<int> strata;
        for (int fd : fds) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 2000) == 1) {
                uint8_t reply[128];
                const ssize_t n = recv(fd, reply, sizeof reply, 0);
                if (n >= 48 && (reply[0] & 7) == 4) strata.push_back(reply[1]);
            }
            close(fd);
        }
        return strata;
    }

    ntp::SplitMix64 random_{42};
};

TEST_P(ServerWorkersTest, TwoWorkersAnswerEveryClientAndStop) {
    const uint16_t port = free_port();
    ntp::SystemState unsynced;
    auto workers = make(2, port, unsynced);
    ASSERT_EQ(workers->count(), 2u);
    workers->start();

    // 64 source ports spread over both SO_REUSEPORT sockets.
    std::vector<int> strata = ask(port, 64);
    EXPECT_EQ(strata.size(), 64u);
    for (int s : strata) EXPECT_TRUE(s == 0 || s == 16) << "unsynchronised, stratum " << s;

    // A synchronised state published by the main thread reaches the workers.
    ntp::SystemState synced;
    synced.leap = ntp::LeapIndicator::NoWarning;
    synced.stratum = 3;
    synced.reference_time = now_instant();
    synced.has_reference_time = true;
    workers->publish(synced);
    strata = ask(port, 16);
    EXPECT_EQ(strata.size(), 16u);
    for (int s : strata) EXPECT_EQ(s, 3);

    // Counters are published at most a second after traffic.
    std::this_thread::sleep_for(1300ms);
    ntp::ServerCounters c;
    workers->add_counters(c);
    EXPECT_EQ(c.received, 80u);
    EXPECT_EQ(c.replied, 80u);

    workers.reset();  // must stop and join, not hang
}

// nanotimectl clients: each worker hands over its rate-limit table with its
// counters; one client served by both is one row adding both up; clients -r
// zeroes the published copies at once and the tables themselves at the
// workers' next datagram.
TEST_P(ServerWorkersTest, WorkersPublishTheirClientTablesAndTakeAReset) {
    const uint16_t port = free_port();
    ntp::RateLimitConfig limit;
    limit.burst = 1000;  // nothing limited: every request answered and counted
    auto workers = make(2, port, ntp::SystemState{}, limit);
    workers->start();
    ASSERT_EQ(ask(port, 64).size(), 64u);  // 64 source ports: both workers serve
    std::this_thread::sleep_for(1300ms);
    const auto view = [&] {
        std::vector<ClientTable> tables;
        workers->add_client_tables(tables);
        EXPECT_EQ(tables.size(), 2u);
        return clients_view(tables, true, now_instant(), ctl::kMaxClientRows);
    };
    ctl::ClientsInfo v = view();
    EXPECT_EQ(v.tracked, 2u);  // 127.0.0.1 in each worker's table
    EXPECT_FALSE(v.truncated);
    ASSERT_EQ(v.clients.size(), 1u);
    EXPECT_EQ(v.clients[0].address, "127.0.0.1");
    EXPECT_EQ(v.clients[0].ntp_requests, 64u);
    EXPECT_EQ(v.clients[0].ntp_drops, 0u);
    EXPECT_LT(v.clients[0].last_seen_ago_s, 5.0);

    workers->reset_client_counters();
    v = view();
    ASSERT_EQ(v.clients.size(), 1u);
    EXPECT_EQ(v.clients[0].ntp_requests, 0u);
    ASSERT_EQ(ask(port, 16).size(), 16u);
    std::this_thread::sleep_for(1300ms);
    v = view();
    ASSERT_EQ(v.clients.size(), 1u);
    EXPECT_EQ(v.clients[0].ntp_requests, 16u);  // only those after the reset
}

// A request cut by the receive buffer (MSG_TRUNC) gets no reply, even when
// what was received parses: here a header and 16-octet extension fields,
// cut at a field boundary on every backend (the payload room, 2000 octets
// after the header with poll or single-shot receives, 1696 with io_uring's
// provided buffers, is a multiple of 16).
TEST_P(ServerWorkersTest, TruncatedRequestIsNotAnswered) {
    const uint16_t port = free_port();
    ntp::SystemState unsynced;
    auto workers = make(1, port, unsynced);
    workers->start();
    std::vector<uint8_t> req(48 + 200 * 16, 0);
    req[0] = (4 << 3) | 3;
    req[40] = 1;  // transmit timestamp, non-zero
    for (size_t off = 48; off < req.size(); off += 16) {
        req[off] = 0x7f;  // an unassigned field type: ignored when whole
        req[off + 3] = 16;
    }
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    ASSERT_EQ(sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(req.size()));
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 500), 0) << "a truncated request was answered";
    close(fd);
    // The worker still answers whole requests, and with the next one's
    // counters (a second later) publishes the drop for nanotimectl status.
    EXPECT_EQ(ask(port, 1).size(), 1u);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (workers->datagrams_truncated() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(workers->datagrams_truncated(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerWorkersTest,
                         ::testing::Values(io::BackendChoice::Poll, io::BackendChoice::IoUring),
                         [](const auto& info) {
                             return info.param == io::BackendChoice::Poll ? "Poll" : "IoUring";
                         });

}  // namespace
}  // namespace nanotime::daemon
