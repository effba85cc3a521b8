// StreamServer and StreamClient on both loop backends, over loopback: a TLS
// echo server and client (ALPN, exporters agreeing), the last response and
// close_notify in one segment, connection limits, a
// slowloris client cut at the request timeout, and 10 000 connections
// dropped mid-handshake leaving no state behind (and RSS flat).
#include <fcntl.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "io/stream_client.hpp"
#include "io/stream_server.hpp"
#include "loop_test_support.hpp"
#include "tcp_test_client.hpp"
#include "tls_test_cert.hpp"

namespace nanotime::io::testing {
namespace {

using namespace std::chrono_literals;

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const TestCertificate& cert() {
    static const TestCertificate c = make_test_certificate();
    return c;
}

std::shared_ptr<TlsContext> server_tls() {
    TlsServerConfig s;
    s.certificate_pem = cert().certificate_pem;
    s.private_key_pem = cert().private_key_pem;
    s.alpn = {"ntske/1"};
    return TlsContext::server(s);
}

std::shared_ptr<TlsContext> client_tls() {
    TlsClientConfig c;
    c.trusted_pem = cert().certificate_pem;
    c.server_name = "localhost";
    c.alpn = {"ntske/1"};
    return TlsContext::client(c);
}

// The server's listener and an echo application on it.
class TlsStreamTest : public LoopTest {
  protected:
    void start(const ListenerLimits& limits, bool tls = true) {
        const int fd = open_tcp_listener(ntp::SocketAddress::v4_loopback(0), 1024);
        sockaddr_in a{};
        socklen_t len = sizeof a;
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        StreamServer::Handlers h;
        h.on_open = [this](uint64_t, const ntp::SocketAddress&) { ++opened_; };
        h.on_data = [this](uint64_t c, std::span<const uint8_t> d) {
            server_->send(c, d);
            server_->request_done(c);
        };
        h.on_close = [this](uint64_t) { ++closed_; };
        server_ = std::make_unique<StreamServer>(*loop_, fd, limits, tls ? server_tls() : nullptr,
                                                 std::move(h));
    }
    uint16_t port_ = 0;
    int opened_ = 0;
    int closed_ = 0;
    std::unique_ptr<StreamServer> server_;
};

TEST_P(TlsStreamTest, EchoOverTls13WithAlpnAndAgreeingExporters) {
    start(ListenerLimits{});
    constexpr int kClients = 5;
    std::vector<std::unique_ptr<StreamClient>> clients;
    std::vector<std::string> echoed(kClients);
    std::vector<std::string> close_reason(kClients, "open");
    for (int i = 0; i < kClients; ++i) {
        StreamClient::Handlers h;
        h.on_data = [&echoed, i](std::span<const uint8_t> d) {
            echoed[i].append(d.begin(), d.end());
        };
        h.on_close = [&close_reason, i](const std::string& e) { close_reason[i] = e; };
        clients.push_back(std::make_unique<StreamClient>(
            *loop_, ntp::SocketAddress::v4_loopback(port_), client_tls(), std::move(h), 3000ms));
        clients.back()->send(bytes("ping " + std::to_string(i)));  // before the handshake
    }
    ASSERT_TRUE(run_until(*loop_,
                          [&] {
                              for (int i = 0; i < kClients; ++i)
                                  if (echoed[i] != "ping " + std::to_string(i)) return false;
                              return true;
                          }))
        << echoed[0] << " / " << close_reason[0];
    EXPECT_EQ(opened_, kClients);
    EXPECT_EQ(server_->open_connections(), static_cast<size_t>(kClients));
    for (auto& c : clients) {
        EXPECT_TRUE(c->is_open());
        EXPECT_EQ(c->alpn(), "ntske/1");
    }
    // Close them all; the server sees each close.
    for (auto& c : clients) c->close();
    ASSERT_TRUE(run_until(*loop_, [&] { return closed_ == kClients; }));
    for (const std::string& r : close_reason) EXPECT_EQ(r, "");
    EXPECT_EQ(server_->open_connections(), 0u);
    EXPECT_EQ(server_->bytes_in_flight(), 0u);
}

TEST_P(TlsStreamTest, ServerAndClientExportTheSameKeys) {
    std::optional<std::vector<uint8_t>> server_key;
    const int fd = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    StreamServer* srv = nullptr;
    StreamServer::Handlers h;
    const uint8_t ctx[] = {0, 0, 0, 15, 0};
    h.on_open = [&](uint64_t c, const ntp::SocketAddress&) {
        server_key = srv->export_keying_material(c, "EXPORTER-network-time-security", ctx, 32);
        EXPECT_EQ(srv->alpn(c), "ntske/1");
    };
    StreamServer server(*loop_, fd, ListenerLimits{}, server_tls(), std::move(h));
    srv = &server;
    bool open = false;
    StreamClient::Handlers ch;
    ch.on_open = [&] { open = true; };
    StreamClient client(*loop_, ntp::SocketAddress::v4_loopback(ntohs(a.sin_port)), client_tls(),
                        std::move(ch), 3000ms);
    ASSERT_TRUE(run_until(*loop_, [&] { return open && server_key.has_value(); }));
    const auto client_key =
        client.export_keying_material("EXPORTER-network-time-security", ctx, 32);
    ASSERT_TRUE(client_key);
    EXPECT_EQ(*client_key, *server_key);
}

TEST_P(TlsStreamTest, ClientReportsRefusedConnect) {
    const int probe = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    close(probe);
    std::string reason = "open";
    StreamClient::Handlers h;
    h.on_close = [&](const std::string& e) { reason = e; };
    StreamClient client(*loop_, ntp::SocketAddress::v4_loopback(ntohs(a.sin_port)), client_tls(),
                        std::move(h), 3000ms);
    ASSERT_TRUE(run_until(*loop_, [&] { return reason != "open"; }));
    EXPECT_NE(reason.find("refused"), std::string::npos) << reason;
}

TEST_P(TlsStreamTest, ClientTimesOutOnAServerThatNeverAnswers) {
    // A listener nobody accepts from: the kernel completes the TCP
    // handshake, and the ClientHello is never answered.
    const int mute = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(mute, reinterpret_cast<sockaddr*>(&a), &len);
    std::string reason = "open";
    StreamClient::Handlers h;
    h.on_close = [&](const std::string& e) { reason = e; };
    const auto t0 = MonoClock::now();
    StreamClient client(*loop_, ntp::SocketAddress::v4_loopback(ntohs(a.sin_port)), client_tls(),
                        std::move(h), 200ms);
    ASSERT_TRUE(run_until(*loop_, [&] { return reason != "open"; }));
    EXPECT_EQ(reason, "connect/handshake timed out");
    EXPECT_GE(MonoClock::now() - t0, 200ms);
    close(mute);
}

TEST_P(TlsStreamTest, WrongServerNameFailsBothSides) {
    start(ListenerLimits{});
    TlsClientConfig c;
    c.trusted_pem = cert().certificate_pem;
    c.server_name = "ntp.example.org";
    std::string reason = "open";
    StreamClient::Handlers h;
    h.on_close = [&](const std::string& e) { reason = e; };
    StreamClient client(*loop_, ntp::SocketAddress::v4_loopback(port_), TlsContext::client(c),
                        std::move(h), 3000ms);
    ASSERT_TRUE(run_until(*loop_, [&] {
        return reason != "open" && server_->open_connections() == 0 &&
               server_->stats().tls_failed == 1;
    })) << reason;
    EXPECT_NE(reason.find("certificate verify failed"), std::string::npos) << reason;
    EXPECT_EQ(opened_, 0);
}

TEST_P(TlsStreamTest, ConnectionCountAndPerAddressRateAreEnforced) {
    ListenerLimits limits;
    limits.max_connections = 2;
    start(limits, false);
    int a = raw_connect(port_), b = raw_connect(port_), c = raw_connect(port_);
    ASSERT_TRUE(run_until(*loop_, [&] { return server_->stats().refused_connections == 1; }));
    EXPECT_EQ(server_->open_connections(), 2u);
    // The refused one was closed at once: its read sees EOF (or a reset).
    char buf[8];
    EXPECT_LE(recv(c, buf, sizeof buf, 0), 0);
    for (int fd : {a, b, c}) close(fd);
    ASSERT_TRUE(run_until(*loop_, [&] { return server_->open_connections() == 0; }));

    ListenerLimits rate;
    rate.address_rate = 0.001;  // no refill during the test
    rate.address_burst = 3;
    start(rate, false);
    std::vector<int> fds;
    for (int i = 0; i < 5; ++i) fds.push_back(raw_connect(port_));
    ASSERT_TRUE(run_until(*loop_, [&] { return server_->stats().refused_rate == 2; }));
    EXPECT_EQ(server_->stats().accepted, 3u);
    for (int fd : fds) close(fd);
}

TEST_P(TlsStreamTest, ListenerByteBudgetStopsReadingAndRefusesNewConnections) {
    ListenerLimits limits;
    limits.max_bytes_in_flight = 256 * 1024;
    limits.max_queued_per_connection = 64 << 20;  // not the per-connection cap: the budget
    const int fd = open_tcp_listener(ntp::SocketAddress::v4_loopback(0), 64);
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    StreamServer::Handlers h;
    // An amplifying application: 16 bytes out per byte in.
    h.on_data = [this](uint64_t c, std::span<const uint8_t> d) {
        for (int i = 0; i < 16; ++i) server_->send(c, d);
    };
    server_ = std::make_unique<StreamServer>(*loop_, fd, limits, nullptr, std::move(h));
    const int client = raw_connect(port_);
    const int small = 64 * 1024;
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
    const std::vector<uint8_t> chunk(4096, 0x42);
    size_t sent = 0;
    size_t most = 0;
    int stalled = 0;
    const auto end = MonoClock::now() + 5s;
    while (stalled < 200 && MonoClock::now() < end) {
        const ssize_t n = send(client, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<size_t>(n);
        stalled = n > 0 ? 0 : stalled + 1;
        loop_->run_once(1ms);
        most = std::max(most, server_->bytes_in_flight());
    }
    EXPECT_GT(server_->bytes_in_flight(), limits.max_bytes_in_flight);
    // Over by at most the replies to one read (16 x 4 KiB).
    EXPECT_LE(most, limits.max_bytes_in_flight + 16 * 4096);
    // A newcomer is refused while the listener is over its budget.
    const int late = raw_connect(port_);
    ASSERT_TRUE(run_until(*loop_, [&] { return server_->stats().refused_bytes == 1; }));
    close(late);
    // The client reads: the budget frees, reading resumes, all replies arrive.
    size_t got = 0;
    std::vector<uint8_t> buf(256 * 1024);
    const auto end2 = MonoClock::now() + 10s;
    while (got < 16 * sent && MonoClock::now() < end2) {
        const ssize_t n = recv(client, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) got += static_cast<size_t>(n);
        loop_->run_once(1ms);
    }
    EXPECT_EQ(got, 16 * sent);
    EXPECT_EQ(server_->bytes_in_flight(), 0u);
    close(client);
}

TEST_P(TlsStreamTest, SlowlorisIsCutAtTheRequestTimeout) {
    ListenerLimits limits;
    limits.request_timeout = 300ms;
    limits.idle_timeout = 5000ms;
    start(limits);
    // A slowloris: connects, then trickles a ClientHello one byte per 20 ms
    // so that it never completes (and is never idle for long).
    TlsSession hello_maker(client_tls());
    std::vector<uint8_t> hello;
    hello_maker.take_ciphertext(hello);
    const int slow = raw_connect(port_);
    // A polite client on the same listener finishes its request in time and stays.
    std::string echoed;
    StreamClient::Handlers h;
    h.on_data = [&](std::span<const uint8_t> d) { echoed.append(d.begin(), d.end()); };
    StreamClient polite(*loop_, ntp::SocketAddress::v4_loopback(port_), client_tls(), std::move(h),
                        3000ms);
    polite.send(bytes("hi"));
    const auto t0 = MonoClock::now();
    size_t next = 0;
    bool cut = false;
    while (!cut && MonoClock::now() - t0 < 3s) {
        if (next < hello.size()) send(slow, &hello[next++], 1, MSG_NOSIGNAL);
        loop_->run_once(20ms);
        pollfd p{slow, POLLIN | POLLRDHUP, 0};
        cut = poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
    }
    const auto cut_after =
        std::chrono::duration_cast<std::chrono::milliseconds>(MonoClock::now() - t0);
    ASSERT_TRUE(cut) << "slowloris still connected after 3 s; timed out "
                     << server_->stats().timed_out << " open " << server_->open_connections()
                     << " accepted " << server_->stats().accepted;
    std::printf("  slowloris cut after %lld ms (request_timeout 300 ms)\n",
                static_cast<long long>(cut_after.count()));
    RecordProperty("slowloris_cut_ms", static_cast<int>(cut_after.count()));
    EXPECT_GE(cut_after, 300ms);
    EXPECT_LT(cut_after, 800ms);
    EXPECT_EQ(server_->stats().timed_out, 1u);
    EXPECT_EQ(echoed, "hi");
    EXPECT_TRUE(polite.is_open()) << "the polite client was cut too";
    close(slow);
}

// The last response and the close_notify behind it are one write: the
// client receives two data segments in all (the server's handshake flight,
// then both records), not a third for the close_notify (an extra send, a
// segment and its ACK per NTS-KE exchange). Counted by the client socket's
// TCP_INFO (tcpi_data_segs_in).
TEST_P(TlsStreamTest, LastResponseAndCloseNotifyLeaveInOneSegment) {
    const int lfd = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
    sockaddr_in a{};
    socklen_t alen = sizeof a;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen);
    StreamServer* srv = nullptr;
    StreamServer::Handlers h;
    h.on_data = [&](uint64_t c, std::span<const uint8_t>) {
        srv->send(c, bytes(std::string(900, 'r')));
        srv->request_done(c);
        srv->close(c);
    };
    StreamServer server(*loop_, lfd, ListenerLimits{}, server_tls(), std::move(h));
    srv = &server;
    const int fd = raw_connect(ntohs(a.sin_port));
    ASSERT_GE(fd, 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    TlsSession client(client_tls());
    std::vector<uint8_t> wire;
    std::vector<uint8_t> plain;
    bool request_sent = false;
    bool eof = false;
    auto pump = [&] {
        wire.clear();
        client.take_ciphertext(wire);
        if (!wire.empty()) {
            ASSERT_EQ(send(fd, wire.data(), wire.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(wire.size()));
        }
        uint8_t buf[4096];
        for (;;) {
            const ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n == 0) eof = true;
            if (n <= 0) break;
            client.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
        }
        if (client.handshake_done() && !request_sent) {
            client.write(bytes("request"));
            request_sent = true;
        }
        client.take_plaintext(plain);
    };
    ASSERT_TRUE(run_until(*loop_, [&] {
        pump();
        return eof;
    }));
    EXPECT_FALSE(client.failed()) << client.error();
    EXPECT_EQ(plain.size(), 900u);
    EXPECT_TRUE(client.peer_closed());
    tcp_info info{};
    socklen_t ilen = sizeof info;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen), 0);
    EXPECT_EQ(info.tcpi_data_segs_in, 2u) << "data segments from the server";
    close(fd);
}

long rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

// malloc's bytes in use (glibc: arena chunks in use plus mmapped chunks).
long heap_in_use_kib() {
    const struct mallinfo2 m = mallinfo2();
    return static_cast<long>((m.uordblks + m.hblkhd) / 1024);
}

// Opens @count connections that each send part of a ClientHello and reset.
void drop_mid_handshake(EventLoop& loop, StreamServer& server, uint16_t port,
                        const std::vector<uint8_t>& partial_hello, int count) {
    auto seen = [&server] {
        const StreamServerStats& s = server.stats();
        return s.accepted + s.refused_connections + s.refused_rate + s.refused_bytes;
    };
    const uint64_t start = seen();
    for (int i = 0; i < count; ++i) {
        const int fd = raw_connect(port);
        ASSERT_GE(fd, 0);
        send(fd, partial_hello.data(), partial_hello.size(), MSG_NOSIGNAL);
        reset_close(fd);
        if (i % 64 == 63) {
            // Keep the accept queue short: no more than 32 behind.
            const uint64_t want = start + static_cast<uint64_t>(i) + 1 - 32;
            ASSERT_TRUE(run_until(
                loop, [&] { return seen() >= want; }, 5000ms));
        }
    }
    ASSERT_TRUE(run_until(
        loop,
        [&] {
            return server.stats().accepted == start + static_cast<uint64_t>(count) &&
                   server.open_connections() == 0;
        },
        20000ms));
}

TEST_P(TlsStreamTest, TenThousandDroppedHandshakesLeaveMemoryFlat) {
    ListenerLimits limits;
    limits.max_connections = 100'000;  // every one admitted: the test counts them
    limits.address_rate = 1e9;         // one client address for all of them
    limits.address_burst = 1u << 30;
    start(limits);
    TlsSession hello_maker(client_tls());
    std::vector<uint8_t> hello;
    hello_maker.take_ciphertext(hello);
    hello.resize(hello.size() / 2);                            // mid-ClientHello
    drop_mid_handshake(*loop_, *server_, port_, hello, 1000);  // warm-up: pools, caches
    const long start = rss_kib();
    const long heap_start = heap_in_use_kib();
    drop_mid_handshake(*loop_, *server_, port_, hello, 10000);
    const long first = rss_kib();
    const long heap_first = heap_in_use_kib();
    drop_mid_handshake(*loop_, *server_, port_, hello, 10000);
    const long second = rss_kib();
    const long heap_second = heap_in_use_kib();
    std::printf(
        "  RSS %ld KiB, %+ld KiB after 10000 dropped handshakes, %+ld KiB after 10000 "
        "more; heap in use %+ld KiB, %+ld KiB\n",
        start, first - start, second - first, heap_first - heap_start, heap_second - heap_first);
    RecordProperty("rss_growth_kib", static_cast<int>(second - start));
    RecordProperty("heap_growth_kib", static_cast<int>(heap_second - heap_start));
    EXPECT_EQ(server_->open_connections(), 0u);
    EXPECT_EQ(server_->bytes_in_flight(), 0u);
    EXPECT_EQ(server_->stats().accepted, 21000u);
#ifndef NANOTIME_SANITIZED
    // Live heap (malloc's bytes in use) must come back: under 256 KiB for
    // each 10 000 (one half-open TLS session left behind per connection
    // would be about 54 KiB each, 500 MiB). RSS may still rise by the
    // allocator's high-water mark, set by how many half-open sessions were
    // alive at once (varies from run to run: up to 7 MiB seen), so it only
    // gets a loose bound. Not checked under ASan, whose allocator and
    // quarantine hold freed memory by design.
    EXPECT_LT(heap_first - heap_start, 256) << "KiB of heap growth, first 10000";
    EXPECT_LT(heap_second - heap_first, 256) << "KiB of heap growth, second 10000";
    EXPECT_LT(second - start, 16 * 1024) << "KiB of RSS growth, 20000";
#endif
}

NANOTIME_ALL_BACKENDS(TlsStreamTest);

}  // namespace
}  // namespace nanotime::io::testing
