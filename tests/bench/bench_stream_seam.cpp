// bench_stream_seam - does abuse of a TLS listener slow the NTP server that
// shares its event loop? One loop (poll or io_uring) serves NTP on UDP
// (NtpServer, wired as the daemon wires it) and a StreamServer with TLS 1.3
// on TCP, both on loopback. A probe sends one NTP request at a time and
// times the round trip, first with the TLS listener idle, then while an
// attacker thread runs full TLS handshakes, handshakes dropped half-way and
// slowloris connections against it, then idle again. Prints the median and
// 99th percentile of each phase and the ratio attacked / idle. A benchmark,
// not a test: report Release figures from a quiet machine (README.md here).
// "separate" puts the TLS listener on a loop and thread of its own (as
// server.workers puts NTP serving on threads of its own): the handshake
// crypto then competes for a CPU, not for the NTP server's loop.
//
// "limited" keeps the listener's default per-address rate (20/s, burst 40),
// which refuses most of the one-address attacker's connections at accept;
// without it the attacker is not rate-limited.
//
//   bench_stream_seam [poll|io_uring] [samples per phase, default 4000]
//                     [shared|separate] [unlimited|limited]
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../stream/tcp_test_client.hpp"
#include "../stream/tls_test_cert.hpp"
#include "io/event_loop.hpp"
#include "io/sockaddr.hpp"
#include "io/stream_server.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

namespace {

using namespace nanotime;
using nanotime::io::testing::raw_connect;
using nanotime::io::testing::reset_close;
using namespace std::chrono_literals;

ntp::NtpInstant realtime_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

// One full TLS 1.3 handshake over a blocking socket, then a reset.
bool full_handshake(uint16_t port, const std::shared_ptr<io::TlsContext>& ctx) {
    const int fd = raw_connect(port);
    if (fd < 0) return false;
    io::TlsSession tls(ctx);
    std::vector<uint8_t> buf;
    uint8_t in[4096];
    while (!tls.handshake_done() && !tls.failed()) {
        buf.clear();
        tls.take_ciphertext(buf);
        if (!buf.empty() && send(fd, buf.data(), buf.size(), MSG_NOSIGNAL) < 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) break;
        const ssize_t n = recv(fd, in, sizeof in, 0);
        if (n <= 0) break;
        tls.feed(std::span<const uint8_t>(in, static_cast<size_t>(n)));
    }
    reset_close(fd);
    return tls.handshake_done();
}

struct Percentiles {
    double median_us;
    double p99_us;
};

// @samples NTP round trips, one at a time, 100 us apart.
Percentiles probe(const sockaddr_in& server, int samples) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    std::vector<double> rtt;
    for (int i = 0; i < samples; ++i) {
        uint8_t req[48] = {};
        req[0] = (4 << 3) | 3;
        std::memcpy(req + 40, &i, sizeof i);
        const auto t0 = std::chrono::steady_clock::now();
        sendto(fd, req, sizeof req, 0, reinterpret_cast<const sockaddr*>(&server), sizeof server);
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) continue;  // lost: not counted
        uint8_t reply[512];
        if (recv(fd, reply, sizeof reply, 0) != 48) continue;
        rtt.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count());
        std::this_thread::sleep_for(100us);
    }
    close(fd);
    std::sort(rtt.begin(), rtt.end());
    if (rtt.empty()) return {0, 0};
    return {rtt[rtt.size() / 2], rtt[rtt.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
    const std::string backend = argc > 1 ? argv[1] : "io_uring";
    const int samples = argc > 2 ? std::atoi(argv[2]) : 4000;
    const bool separate = argc > 3 && std::string(argv[3]) == "separate";
    const bool limited = argc > 4 && std::string(argv[4]) == "limited";
    io::LoopOptions lo;
    lo.choice = backend == "poll" ? io::BackendChoice::Poll : io::BackendChoice::IoUring;
    std::unique_ptr<io::EventLoop> loop = io::make_event_loop(lo);
    std::unique_ptr<io::EventLoop> stream_loop = separate ? io::make_event_loop(lo) : nullptr;
    const io::testing::TestCertificate cert = io::testing::make_test_certificate();

    // NTP on UDP, as Daemon::on_server_datagram does it (rate limiting off:
    // one probe client).
    ntp::SplitMix64 random(1);
    ntp::ServerConfig config;
    config.access.allow(*ntp::Cidr::parse("127.0.0.0/8"));
    ntp::NtpServer ntp_server(std::move(config), random);
    ntp::SystemState state;
    state.leap = ntp::LeapIndicator::NoWarning;
    state.stratum = 2;
    io::UdpOptions uo;
    uo.bind = ntp::SocketAddress::v4_loopback(0);
    const uint64_t udp = loop->open_udp(uo, [&](const io::ReceivedDatagram& d) {
        const ntp::ServerResponse r =
            ntp_server.handle(d.payload, d.peer, realtime_now(), realtime_now(), state);
        if (r.decision != ntp::ServerDecision::Drop)
            loop->send_udp(d.socket, d.peer, r.bytes(), d.local ? &*d.local : nullptr);
    });
    sockaddr_in ntp_addr{};
    sockaddr_storage bound{};
    io::to_sockaddr(*loop->local_address(udp), bound);
    std::memcpy(&ntp_addr, &bound, sizeof ntp_addr);

    // The TLS listener with its default limits but for the per-address rate
    // (the attacker is one address) and slowloris timeout.
    io::TlsServerConfig tc;
    tc.certificate_pem = cert.certificate_pem;
    tc.private_key_pem = cert.private_key_pem;
    io::ListenerLimits limits;
    if (!limited) {
        limits.address_rate = 1e6;
        limits.address_burst = 1u << 20;
    }
    limits.request_timeout = 2000ms;
    const int lfd = io::open_tcp_listener(ntp::SocketAddress::v4_loopback(0), 1024);
    sockaddr_in la{};
    socklen_t len = sizeof la;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&la), &len);
    const uint16_t tls_port = ntohs(la.sin_port);
    io::StreamServer::Handlers h;
    io::StreamServer tls_server(separate ? *stream_loop : *loop, lfd, limits,
                                io::TlsContext::server(tc), std::move(h));

    std::atomic<bool> stop{false};
    std::thread server_thread([&] {
        while (!stop.load()) loop->run_once(50ms);
    });
    std::thread stream_thread([&] {
        while (separate && !stop.load()) stream_loop->run_once(50ms);
    });

    io::TlsClientConfig cc;
    cc.trusted_pem = cert.certificate_pem;
    cc.server_name = "localhost";
    auto client_ctx = io::TlsContext::client(cc);
    std::vector<uint8_t> half_hello;
    io::TlsSession(client_ctx).take_ciphertext(half_hello);
    half_hello.resize(half_hello.size() / 2);

    const Percentiles idle = probe(ntp_addr, samples);
    std::atomic<bool> attacking{true};
    std::atomic<uint64_t> handshakes{0}, dropped{0};
    std::thread attacker([&] {
        std::vector<int> slow;  // slowloris: 20 connections trickling a byte each round
        while (attacking.load()) {
            if (full_handshake(tls_port, client_ctx)) ++handshakes;
            const int fd = raw_connect(tls_port);
            if (fd >= 0) {
                send(fd, half_hello.data(), half_hello.size(), MSG_NOSIGNAL);
                reset_close(fd);
                ++dropped;
            }
            if (slow.size() < 20) {
                const int s = raw_connect(tls_port);
                if (s >= 0) slow.push_back(s);
            }
            for (int& s : slow) {
                if (send(s, "\x16", 1, MSG_NOSIGNAL) < 0) {  // cut by the server: replace it
                    close(s);
                    s = raw_connect(tls_port);
                }
            }
        }
        for (int s : slow) close(s);
    });
    const Percentiles attacked = probe(ntp_addr, samples);
    attacking = false;
    attacker.join();
    const Percentiles idle_again = probe(ntp_addr, samples);
    stop = true;
    server_thread.join();
    stream_thread.join();

    const double base_median = (idle.median_us + idle_again.median_us) / 2;
    const double base_p99 = (idle.p99_us + idle_again.p99_us) / 2;
    std::printf("backend %s (%s), %d samples per phase, TLS listener on %s loop\n", backend.c_str(),
                loop->describe().c_str(), samples, separate ? "its own" : "the NTP server's");
    std::printf("idle        median %7.1f us  p99 %7.1f us\n", idle.median_us, idle.p99_us);
    std::printf("attacked    median %7.1f us  p99 %7.1f us  (%llu full handshakes, %llu dropped)\n",
                attacked.median_us, attacked.p99_us,
                static_cast<unsigned long long>(handshakes.load()),
                static_cast<unsigned long long>(dropped.load()));
    std::printf("idle again  median %7.1f us  p99 %7.1f us\n", idle_again.median_us,
                idle_again.p99_us);
    std::printf("ratio attacked/idle: median %.2f, p99 %.2f\n", attacked.median_us / base_median,
                attacked.p99_us / base_p99);
    std::printf(
        "TLS listener (%s): %llu accepted, %llu refused by rate, %llu timed out, "
        "%llu TLS failures\n",
        limited ? "default per-address rate" : "no per-address rate",
        static_cast<unsigned long long>(tls_server.stats().accepted),
        static_cast<unsigned long long>(tls_server.stats().refused_rate),
        static_cast<unsigned long long>(tls_server.stats().timed_out),
        static_cast<unsigned long long>(tls_server.stats().tls_failed));
    return 0;
}
