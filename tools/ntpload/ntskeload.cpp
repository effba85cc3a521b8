// ntskeload - an NTS-KE load generator for server benchmarks.
//
//   ntskeload --server 10.201.0.4:4460 --ca cert.pem [--src 10.201.1.2
//             --src-count 250] --concurrency 64 --duration 10 [--json FILE]
//   ntskeload ... --hold 1000 --duration 20
//
// Full exchanges (default): keeps --concurrency connections in flight; each
// is a new TCP connection, a full TLS 1.3 handshake (no resumption: the
// client keeps no session) with ALPN ntske/1, the NTS-KE request and the
// whole response (keys exported, cookies parsed by nts::KeClientSession).
// As one ends another starts. Reports completed exchanges per second, the
// failures and the latency (connect to last response octet) percentiles.
//
// --hold N: opens N connections (at most --concurrency handshaking at
// once) that complete the handshake and then send only the first 4 octets
// of the KE request, keeps them open for
// --duration seconds and reports how many got that far ("held"); prints
// "held K" on stdout as soon as all N are settled (held or failed), so that
// a script can measure the server's memory while they are open.
//
// Sources: connections bind to --src-count consecutive addresses from --src
// in turn (port chosen by the kernel), so the client's ports do not run out.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ke_exchange.hpp"
#include "net/socket_address.hpp"

namespace {

using nanotime::tools::KeExchange;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ntskeload: %s\n", what.c_str());
    std::exit(2);
}

double mono_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Options {
    sockaddr_in server{};
    std::string ca_pem;
    in_addr src{};
    unsigned src_count = 1;
    unsigned concurrency = 64;
    unsigned hold = 0;
    double duration = 5;
    std::string json_path;
    bool quiet = false;
};

Options parse_args(int argc, char** argv) {
    Options o;
    std::string server, ca, src;
    CLI::App app("ntskeload - an NTS-KE load generator for server benchmarks", "ntskeload");
    app.add_option("--server", server, "NTS-KE endpoint ADDR[:PORT] (port 4460 by default)")
        ->required();
    app.add_option("--ca", ca, "PEM trust anchor for the server's certificate")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--src", src, "first client source address (default: chosen by routing)");
    app.add_option("--src-count", o.src_count, "consecutive source addresses (with --src)")
        ->check(CLI::Range(1u, 65536u))
        ->capture_default_str();
    app.add_option("--concurrency", o.concurrency, "exchanges in flight")
        ->check(CLI::Range(1u, 100000u))
        ->capture_default_str();
    app.add_option("--hold", o.hold, "open this many connections stopped mid-request instead")
        ->check(CLI::Range(1u, 1000000u));
    app.add_option("--duration", o.duration, "seconds of load (or of holding)")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    app.add_option("--json", o.json_path, "also write the results as JSON ('-' for stdout)");
    app.add_flag("--quiet", o.quiet, "no text report");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        std::exit(code == 0 ? 0 : 2);
    }
    const auto address = nanotime::ntp::SocketAddress::parse(server, 4460);
    if (!address || address->ip.family != nanotime::ntp::AddressFamily::Ipv4 || address->port == 0)
        die("--server: bad endpoint '" + server + "'");
    o.server.sin_family = AF_INET;
    o.server.sin_port = htons(address->port);
    std::memcpy(&o.server.sin_addr, address->ip.bytes.data(), 4);
    if (!src.empty()) {
        const auto ip = nanotime::ntp::IpAddress::parse(src);
        if (!ip || ip->family != nanotime::ntp::AddressFamily::Ipv4)
            die("--src: bad address " + src);
        std::memcpy(&o.src, ip->bytes.data(), 4);
    } else {
        o.src_count = 1;
    }
    std::ifstream in(ca);
    std::stringstream text;
    text << in.rdbuf();
    o.ca_pem = text.str();
    return o;
}

struct Conn {
    std::unique_ptr<KeExchange> ke;
    double started = 0;
    bool held = false;
};

class Load {
  public:
    explicit Load(const Options& o) : o_(o), tls_(nanotime::tools::ke_client_context(o.ca_pem)) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die("epoll_create1");
    }
    ~Load() { close(ep_); }

    void run() {
        const double start = mono_s();
        const double end = start + o_.duration;
        const unsigned target = o_.concurrency;
        bool announced = false;
        while (mono_s() < end) {
            if (o_.hold == 0) {
                while (conns_.size() < target) open_one();
            } else {
                // At most --concurrency handshakes at once, so that the
                // server's memory shows what held connections keep, not
                // the peak of N handshakes at the same moment.
                while (opened_ < o_.hold && opened_ - settled_ < o_.concurrency) open_one();
            }
            if (o_.hold && !announced && settled_ >= o_.hold) {
                std::printf("held %" PRIu64 "\n", held_);
                // The driving script waits for this line: a lost one is
                // seen there as a timeout.
                (void)std::fflush(stdout);
                announced = true;
            }
            epoll_event ev[256];
            const int n = epoll_wait(ep_, ev, 256, 10);
            for (int i = 0; i < n; ++i) {
                const int fd = ev[i].data.fd;
                auto it = conns_.find(fd);
                if (it == conns_.end()) continue;
                Conn& c = it->second;
                const bool readable = (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
                const bool writable = (ev[i].events & EPOLLOUT) != 0;
                const KeExchange::Status s = c.ke->on_event(readable, writable);
                if (s == KeExchange::Status::Done) {
                    ++completed_;
                    latency_ms_.push_back((mono_s() - c.started) * 1e3);
                    finish(it);
                } else if (s == KeExchange::Status::Failed) {
                    ++failures_[c.ke->error()];
                    if (c.held) --held_;
                    if (!c.held) ++settled_;
                    finish(it);
                } else {
                    if (s == KeExchange::Status::Stalled && !c.held) {
                        c.held = true;
                        ++held_;
                        ++settled_;
                    }
                    rearm(c);
                }
            }
        }
        elapsed_ = mono_s() - start;
        if (o_.hold && !announced) {
            std::printf("held %" PRIu64 "\n", held_);
            (void)std::fflush(stdout);  // as above
        }
    }

    int report() {
        std::sort(latency_ms_.begin(), latency_ms_.end());
        auto pct = [&](double p) {
            if (latency_ms_.empty()) return 0.0;
            return latency_ms_[std::min(
                latency_ms_.size() - 1,
                static_cast<size_t>(p * static_cast<double>(latency_ms_.size())))];
        };
        uint64_t failed = 0;
        nlohmann::ordered_json reasons = nlohmann::ordered_json::object();
        for (const auto& [why, count] : failures_) {
            failed += count;
            reasons[why] = count;
        }
        const double rate = static_cast<double>(completed_) / elapsed_;
        if (!o_.quiet) {
            std::printf("opened %" PRIu64 "  completed %" PRIu64 " (%.1f/s)  failed %" PRIu64
                        "  held %" PRIu64 "\nlatency ms  p50 %.2f  p99 %.2f\n",
                        opened_, completed_, rate, failed, held_, pct(0.5), pct(0.99));
            for (const auto& [why, count] : failures_)
                std::printf("  failed: %s: %" PRIu64 "\n", why.c_str(), count);
        }
        if (!o_.json_path.empty()) {
            const nlohmann::ordered_json j = {
                {"duration_s", elapsed_},  {"concurrency", o_.concurrency},
                {"hold", o_.hold},         {"opened", opened_},
                {"completed", completed_}, {"exchanges_per_s", rate},
                {"failed", failed},        {"failures", reasons},
                {"held", held_},           {"latency_ms", {{"p50", pct(0.5)}, {"p99", pct(0.99)}}},
            };
            const std::string text = j.dump() + "\n";
            if (o_.json_path == "-") {
                std::fputs(text.c_str(), stdout);
            } else {
                FILE* f = std::fopen(o_.json_path.c_str(), "w");
                if (f == nullptr) die("open " + o_.json_path);
                std::fputs(text.c_str(), f);
                if (std::fclose(f) != 0) die("write " + o_.json_path);
            }
        }
        return (completed_ > 0 || held_ > 0) ? 0 : 1;
    }

  private:
    void open_one() {
        ++opened_;
        Conn c;
        c.started = mono_s();
        c.ke = std::make_unique<KeExchange>(tls_, o_.server, o_.hold != 0, source());
        if (c.ke->status() == KeExchange::Status::Failed) {
            ++failures_[c.ke->error()];
            ++settled_;
            return;
        }
        const int fd = c.ke->fd();
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.fd = fd;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
        conns_.emplace(fd, std::move(c));
    }

    in_addr source() {
        in_addr a{};
        if (o_.src.s_addr == 0) return a;
        a.s_addr = htonl(ntohl(o_.src.s_addr) + static_cast<uint32_t>(next_src_++ % o_.src_count));
        return a;
    }

    void rearm(const Conn& c) {
        epoll_event ev{};
        ev.events = EPOLLIN | (c.ke->wants_write() ? static_cast<uint32_t>(EPOLLOUT) : 0u);
        ev.data.fd = c.ke->fd();
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.ke->fd(), &ev);
    }

    void finish(std::map<int, Conn>::iterator it) {
        epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
        conns_.erase(it);  // closes with a reset: no TIME_WAIT left on either side
    }

    const Options& o_;
    std::shared_ptr<nanotime::io::TlsContext> tls_;
    int ep_ = -1;
    std::map<int, Conn> conns_;
    uint64_t opened_ = 0;
    uint64_t completed_ = 0;
    uint64_t held_ = 0;
    uint64_t settled_ = 0;
    uint64_t next_src_ = 0;
    double elapsed_ = 0;
    std::map<std::string, uint64_t> failures_;
    std::vector<double> latency_ms_;
};

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse_args(argc, argv);
    Load load(o);
    load.run();
    return load.report();
} catch (const std::exception& e) {
    die(e.what());
}
