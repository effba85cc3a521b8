// ntpfloor - the trivial batched NTP responder that marks the kernel's floor.
//
//   ntpfloor --listen 10.77.0.1:123 [--batch 64] [--threads N] [--timestamps]
//
// recvmmsg a batch -> turn each request into a mode-4 reply in place (origin
// = the request's transmit timestamp, stratum 1, refid "FLOR") -> sendmmsg
// the batch back. No timestamps, no access checks, no validation beyond
// "48 octets or more": whatever a real server costs above this is its own
// work. With --threads N, N threads each own an SO_REUSEPORT socket (the
// kernel spreads clients by a hash of the 4-tuple). SIGTERM / SIGINT end it.
//
// --timestamps asks the kernel for software RX and TX timestamps
// (SO_TIMESTAMPING, as a timestamping server does), receives the RX stamps
// with each datagram and drains the TX stamps from the error queue after each
// batch, without looking at them: the floor of a server that timestamps.
#include <arpa/inet.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/sockaddr.hpp"
#include "net/socket_address.hpp"

namespace {

constexpr unsigned kMaxBatch = 256;
constexpr size_t kPacket = 48;

std::atomic<bool> g_stop{false};
bool g_timestamps = false;
constexpr size_t kControl = 256;

void on_signal(int) {
    g_stop.store(true);
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ntpfloor: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(2);
}

int open_socket(const sockaddr_in& addr, bool reuse_port) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    const int one = 1;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        die("SO_REUSEPORT");
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (g_timestamps) {
        const int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
                          SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                          SOF_TIMESTAMPING_OPT_TSONLY;
        if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) != 0)
            die("SO_TIMESTAMPING");
    }
    const timeval tv{0, 200'000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) die("SO_RCVTIMEO");
    return fd;
}

void serve(int fd, unsigned batch) {
    std::vector<mmsghdr> msgs(batch);
    std::vector<iovec> iov(batch);
    std::vector<sockaddr_in> peers(batch);
    std::vector<uint8_t> bufs(static_cast<size_t>(batch) * 2048);
    std::vector<mmsghdr> out(batch);
    std::vector<uint8_t> control(static_cast<size_t>(batch) * kControl);
    while (!g_stop.load(std::memory_order_relaxed)) {
        for (unsigned i = 0; i < batch; ++i) {
            iov[i] = iovec{&bufs[static_cast<size_t>(i) * 2048], 2048};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_name = &peers[i];
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (g_timestamps) {
                msgs[i].msg_hdr.msg_control = &control[static_cast<size_t>(i) * kControl];
                msgs[i].msg_hdr.msg_controllen = kControl;
            }
        }
        // One system call per batch: block for the first datagram, take
        // whatever else is queued. A signal interrupts it (no SA_RESTART);
        // SO_RCVTIMEO bounds the wait if the signal came just before.
        const int n = recvmmsg(fd, msgs.data(), batch, MSG_WAITFORONE, nullptr);
        if (n <= 0) continue;
        unsigned k = 0;
        for (int i = 0; i < n; ++i) {
            if (msgs[i].msg_len < kPacket) continue;
            uint8_t* pkt = static_cast<uint8_t*>(iov[i].iov_base);
            const uint8_t version = (pkt[0] >> 3) & 7;
            pkt[0] = static_cast<uint8_t>((version << 3) | 4);  // LI 0, same VN, mode 4
            pkt[1] = 1;                                         // stratum 1
            // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a refid has no NUL
            std::memcpy(pkt + 12, "FLOR", 4);    // refid
            std::memcpy(pkt + 24, pkt + 40, 8);  // origin = client's transmit
            out[k] = mmsghdr{};
            out[k].msg_hdr.msg_name = &peers[i];
            out[k].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
            iov[i].iov_len = kPacket;
            out[k].msg_hdr.msg_iov = &iov[i];
            out[k].msg_hdr.msg_iovlen = 1;
            ++k;
        }
        unsigned done = 0;
        while (done < k) {
            const int r = sendmmsg(fd, out.data() + done, k - done, 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                break;  // drop the rest of the batch, as a busy server would
            }
            done += static_cast<unsigned>(r);
        }
        if (g_timestamps) {
            // One TX stamp per reply on the error queue: take them all.
            for (;;) {
                for (unsigned i = 0; i < batch; ++i) {
                    iov[i] = iovec{&bufs[static_cast<size_t>(i) * 2048], 2048};
                    msgs[i] = mmsghdr{};
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                    msgs[i].msg_hdr.msg_control = &control[static_cast<size_t>(i) * kControl];
                    msgs[i].msg_hdr.msg_controllen = kControl;
                }
                const int e =
                    recvmmsg(fd, msgs.data(), batch, MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
                if (e < static_cast<int>(batch)) break;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) try {
    std::string listen;
    unsigned batch = 64;
    unsigned threads = 1;
    CLI::App app("ntpfloor - the trivial batched NTP responder that marks the kernel's floor",
                 "ntpfloor");
    app.add_option("--listen", listen, "IPv4 ADDR:PORT to serve on")->required();
    app.add_option("--batch", batch, "datagrams per recvmmsg/sendmmsg")
        ->check(CLI::Range(1u, kMaxBatch))
        ->capture_default_str();
    app.add_option("--threads", threads, "SO_REUSEPORT sockets, one thread each")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_flag("--timestamps", g_timestamps, "ask for kernel software RX and TX timestamps");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;  // usage errors exit 2, as before CLI11
    }
    // ADDR:PORT through the daemon's one address reader; the port is required.
    const auto address = nanotime::ntp::SocketAddress::parse(listen, 0);
    if (!address || address->ip.family != nanotime::ntp::AddressFamily::Ipv4 ||
        address->port == 0) {
        std::fprintf(stderr, "ntpfloor: bad --listen '%s' (wants IPv4 ADDR:PORT)\n",
                     listen.c_str());
        return 2;
    }
    sockaddr_storage bound;
    nanotime::io::to_sockaddr(*address, bound, AF_INET);
    sockaddr_in addr{};
    std::memcpy(&addr, &bound, sizeof addr);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    std::vector<int> fds;
    for (unsigned t = 0; t < threads; ++t) fds.push_back(open_socket(addr, threads > 1));
    std::fprintf(stderr, "ntpfloor: serving on %s:%u with %u thread(s)\n", inet_ntoa(addr.sin_addr),
                 ntohs(addr.sin_port), threads);
    std::vector<std::thread> workers;
    for (unsigned t = 1; t < threads; ++t) workers.emplace_back(serve, fds[t], batch);
    serve(fds[0], batch);
    for (std::thread& w : workers) w.join();
    for (int fd : fds) close(fd);
    return 0;
} catch (const std::exception& e) {  // thread creation failed, say: a message, not std::terminate
    std::fprintf(stderr, "ntpfloor: %s\n", e.what());
    return 2;
}
