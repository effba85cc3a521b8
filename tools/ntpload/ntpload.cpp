// ntpload - an NTP load generator for server benchmarks.
//
//   ntpload --server 10.77.0.1:123 [--server 10.77.0.2:123 ...] --src 10.77.1.1
//           --src-count 200 --ports 16 --rate 20000 --duration 10 [--json FILE]
//
// Offers a fixed rate of NTPv4 client requests (mode 3, 48 octets) from many
// client addresses and ports and reports responses/s, loss and latency
// percentiles, as text on stdout and optionally as JSON.
//
// Several --server: request i goes to server i mod N, each server is offered
// --rate, and each gets its own report. Servers measured at the same time see
// the same machine, which matters on a shared one: a neighbour's compile
// slows them all alike instead of whichever ran at that moment.
//
// Sources: --ports sockets are bound to the wildcard address on consecutive
// ports; every request names its source address with IP_PKTINFO, cycling
// through --src-count consecutive addresses from --src (they must be local
// addresses: a /24 on the client end of a veth pair, or 127.0.0.x on
// loopback). A reply to (address, port) lands on the socket of that port, so
// addresses x ports distinct clients cost only --ports sockets.
//
// Pacing: requests are due at start + i/rate; each wake-up sends what is due
// in sendmmsg batches of at most --batch, round-robin over the sockets, and
// drains replies with recvmmsg. The transmit timestamp of each request is the
// CLOCK_MONOTONIC send time in nanoseconds, which a server copies into the
// origin timestamp of its reply: latency = receive time - origin. A reply
// whose origin is not one we sent in this run, or that arrives twice, is
// counted as bad / duplicate, not as a response.
//
// NTS (RFC 8915): a server named with --nts as well gets NTS-protected
// requests. ntpload first runs NTS-KE with it (its address, --nts-ke-port,
// TLS 1.3 through the daemon's TlsSession, nts::KeClientSession; the
// certificate must chain to --nts-ca) --nts-exchanges times, 8 cookies
// each. Every request then carries a 32-octet unique identifier (request
// index and exchange), one cookie from the pool, no placeholders, and an
// AES-SIV-CMAC-256 authenticator: 232 octets, what a client with a full jar
// sends. A reply counts only if its identifier is one we sent and its
// authenticator verifies with that exchange's S2C key; the cookie it carries
// goes back into the pool. When the pool is empty (replies in flight, or
// lost) the last cookie is sent again and counted as a reuse: the server's
// work per request does not depend on it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/sockaddr.hpp"
#include "ke_exchange.hpp"
#include "net/socket_address.hpp"
#include "nts/aead.hpp"
#include "nts/cookie.hpp"
#include "nts/nts_ef.hpp"

namespace {

constexpr size_t kPacket = 48;
constexpr size_t kMaxPacket = 512;  // an NTS request or reply with one cookie: ~232
constexpr unsigned kMaxBatch = 256;

struct Options {
    std::vector<sockaddr_in> servers;
    in_addr src{};
    unsigned src_count = 1;
    unsigned ports = 8;
    unsigned base_port = 0;  // 0: kernel-chosen ports
    double rate = 1000;
    double duration = 5;
    double drain = 0.3;  // seconds to wait for late replies after the last request
    unsigned batch = 32;
    std::string json_path;
    bool quiet = false;
    std::vector<sockaddr_in> nts;  // which of servers speak NTS
    uint16_t nts_ke_port = 4460;
    std::string nts_ca_pem;
    unsigned nts_exchanges = 8;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ntpload: %s\n", what.c_str());
    std::exit(2);
}

[[noreturn]] void die_errno(const std::string& what) {
    die(what + ": " + std::strerror(errno));
}

uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// An IPv4 address with an optional port (ntp::SocketAddress::parse, the
// daemon's one reader of addresses, and io::to_sockaddr); false for
// anything else.
bool parse_ipv4(const std::string& text, uint16_t default_port, sockaddr_in& out) {
    const auto address = nanotime::ntp::SocketAddress::parse(text, default_port);
    if (!address || address->ip.family != nanotime::ntp::AddressFamily::Ipv4 ||
        address->port == 0) {
        return false;
    }
    sockaddr_storage ss;
    nanotime::io::to_sockaddr(*address, ss, AF_INET);
    std::memcpy(&out, &ss, sizeof out);
    return true;
}

Options parse_args(int argc, char** argv) {
    Options o;
    std::vector<std::string> servers;
    std::string src;
    CLI::App app("ntpload - an NTP load generator for server benchmarks", "ntpload");
    app.add_option("--server", servers, "IPv4 server endpoint ADDR[:PORT] (port 123 by default)")
        ->required()
        ->take_all();
    app.add_option("--src", src, "first client source address (default: chosen by routing)");
    app.add_option("--src-count", o.src_count,
                   "consecutive source addresses to cycle through (with --src)")
        ->check(CLI::Range(1u, 65536u))
        ->capture_default_str();
    app.add_option("--ports", o.ports, "client sockets on consecutive ports")
        ->check(CLI::Range(1u, 4096u))
        ->capture_default_str();
    app.add_option("--base-port", o.base_port, "first port (default: kernel-chosen)")
        ->check(CLI::Range(1024u, 65535u));
    app.add_option("--rate", o.rate, "offered requests per second")
        ->check(CLI::Range(1.0, 1e8))
        ->capture_default_str();
    app.add_option("--duration", o.duration, "seconds of load")
        ->check(CLI::Range(0.01, 86400.0))
        ->capture_default_str();
    app.add_option("--drain", o.drain, "seconds to wait for late replies")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    app.add_option("--batch", o.batch, "at most this many requests per sendmmsg")
        ->check(CLI::Range(1u, kMaxBatch))
        ->capture_default_str();
    app.add_option("--json", o.json_path, "also write the results as JSON ('-' for stdout)");
    app.add_flag("--quiet", o.quiet, "no text report");
    std::vector<std::string> nts;
    std::string nts_ca;
    app.add_option("--nts", nts, "a --server endpoint to send NTS-protected requests to")
        ->take_all();
    app.add_option("--nts-ke-port", o.nts_ke_port, "NTS-KE port (at each --nts server's address)")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    app.add_option("--nts-ca", nts_ca, "PEM trust anchor for the NTS-KE certificates")
        ->check(CLI::ExistingFile);
    app.add_option("--nts-exchanges", o.nts_exchanges,
                   "NTS-KE exchanges per NTS server at start (8 cookies each)")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        std::exit(code == 0 ? 0 : 2);  // usage errors exit 2, as before CLI11
    }
    for (const std::string& text : servers) {
        sockaddr_in server{};
        if (!parse_ipv4(text, 123, server)) die("--server: bad endpoint '" + text + "'");
        o.servers.push_back(server);
    }
    for (const std::string& text : nts) {
        sockaddr_in server{};
        if (!parse_ipv4(text, 123, server)) die("--nts: bad endpoint '" + text + "'");
        const bool listed =
            std::any_of(o.servers.begin(), o.servers.end(), [&](const sockaddr_in& s) {
                return s.sin_addr.s_addr == server.sin_addr.s_addr && s.sin_port == server.sin_port;
            });
        if (!listed) die("--nts " + text + " is not a --server");
        o.nts.push_back(server);
    }
    if (!o.nts.empty()) {
        if (nts_ca.empty()) die("--nts needs --nts-ca");
        FILE* f = std::fopen(nts_ca.c_str(), "r");
        if (f == nullptr) die_errno("open " + nts_ca);
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) o.nts_ca_pem.append(buf, n);
        (void)std::fclose(f);  // read only: nothing to lose on close
    }
    const bool have_src = !src.empty();
    if (have_src) {
        const auto ip = nanotime::ntp::IpAddress::parse(src);
        if (!ip || ip->family != nanotime::ntp::AddressFamily::Ipv4)
            die("--src: bad address " + src);
        std::memcpy(&o.src, ip->bytes.data(), 4);
    }
    if (!have_src) o.src_count = 1;
    if (have_src && o.base_port != 0 && o.base_port + o.ports - 1 > 65535)
        die("--base-port + --ports exceeds 65535");
    o.src.s_addr = have_src ? o.src.s_addr : 0;
    return o;
}

struct Sock {
    int fd = -1;
};

int open_client_socket(const Options& o, unsigned index) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die_errno("socket");
    const int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    sockaddr_in b{};
    b.sin_family = AF_INET;
    b.sin_addr.s_addr = htonl(INADDR_ANY);
    b.sin_port = o.base_port ? htons(static_cast<uint16_t>(o.base_port + index)) : 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) die_errno("bind client socket");
    return fd;
}

void put_be64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

uint64_t get_be64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

struct Results {
    uint64_t sent = 0;
    uint64_t send_errors = 0;
    uint64_t received = 0;
    uint64_t duplicates = 0;
    uint64_t bad = 0;
    uint64_t late = 0;  // arrived during the drain
    bool nts = false;
    uint64_t nts_rejected = 0;   // NTS reply whose identifier or authenticator did not check
    uint64_t nts_naks = 0;       // NTSN kiss-o'-death
    uint64_t cookie_reuses = 0;  // requests that had to send a cookie again
    double elapsed = 0;
    std::vector<uint32_t> latency_ns;
};

// One NTS server's keys and cookies: the NTS-KE exchanges made at start and
// a pool of cookies, each tagged with the exchange whose keys it carries.
class NtsPeer {
  public:
    NtsPeer(const Options& o, const sockaddr_in& server) {
        auto tls = nanotime::tools::ke_client_context(o.nts_ca_pem);
        sockaddr_in ke = server;
        ke.sin_port = htons(o.nts_ke_port);
        for (unsigned i = 0; i < o.nts_exchanges; ++i) {
            std::string error;
            const auto result = nanotime::tools::ke_exchange_blocking(tls, ke, 10.0, error);
            if (!result) die("NTS-KE with " + endpoint_text(ke) + ": " + error);
            const auto keys = nts::SessionKeys::from(result->keys);
            if (!keys) die("NTS-KE with " + endpoint_text(ke) + ": unusable keys");
            keys_.push_back(*keys);
            for (const auto& cookie : result->cookies) give_back(cookie, i);
        }
        auto aead = nts::Aead::create(keys_.empty()
                                          ? static_cast<uint16_t>(nts::AeadAlgorithm::AesSivCmac256)
                                          : keys_.front().aead);
        if (!aead) die("the negotiated AEAD is not available");
        aead_.emplace(std::move(*aead));
    }

    static std::string endpoint_text(const sockaddr_in& a) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
    }

    // Appends the NTS fields to the 48-octet header in @packet for request
    // @seq; returns the length (0: the AEAD failed).
    size_t build(uint8_t* packet, uint64_t seq, Results& r) {
        if (!pool_.empty()) {
            last_ = pool_.front();
            pool_.pop_front();
        } else {
            ++r.cookie_reuses;
        }
        std::array<uint8_t, nts::kUniqueIdLength> unique_id{};
        put_be64(unique_id.data(), seq);
        unique_id[8] = static_cast<uint8_t>(last_.exchange >> 8);
        unique_id[9] = static_cast<uint8_t>(last_.exchange);
        nts::FieldWriter w(std::span<uint8_t>(packet, kMaxPacket), kPacket);
        if (!w.add(nts::FieldType::UniqueIdentifier, unique_id) ||
            !w.add(nts::FieldType::Cookie,
                   std::span<const uint8_t>(last_.bytes.data(), last_.length)))
            return 0;
        auto slot = w.add_authenticator(aead_->nts_nonce_length(), nts::kAeadTagLength);
        if (!slot) return 0;
        ++nonce_counter_;
        std::fill(slot->nonce.begin(), slot->nonce.end(), 0);
        put_be64(slot->nonce.data(), nonce_counter_);
        const auto sealed = aead_->seal(keys_[last_.exchange].c2s(), slot->nonce, slot->associated,
                                        std::span<const uint8_t>{}, slot->ciphertext);
        return sealed ? w.size() : 0;
    }

    // Whether @reply is the authentic answer to our request @seq; its fresh
    // cookies go into the pool.
    bool check(std::span<const uint8_t> reply, uint64_t seq, Results& r) {
        const auto fields = nts::parse_nts_fields(reply);
        if (!fields || fields->unique_id.size() != nts::kUniqueIdLength ||
            get_be64(fields->unique_id.data()) != seq) {
            return false;
        }
        const uint16_t exchange =
            static_cast<uint16_t>(fields->unique_id[8] << 8 | fields->unique_id[9]);
        if (exchange >= keys_.size()) return false;
        if (!fields->has_authenticator) {
            if (reply[1] == 0 && std::memcmp(reply.data() + 12, "NTSN", 4) == 0) ++r.nts_naks;
            return false;
        }
        const auto plain =
            aead_->open(keys_[exchange].s2c(), fields->nonce,
                        reply.first(fields->authenticator_offset), fields->ciphertext, scratch_);
        if (!plain) return false;
        nts::for_each_field(std::span<const uint8_t>(scratch_.data(), *plain),
                            [&](uint16_t type, std::span<const uint8_t> body) {
                                if (type == static_cast<uint16_t>(nts::FieldType::Cookie))
                                    give_back(body, exchange);
                            });
        return true;
    }

  private:
    struct Cookie {
        std::array<uint8_t, 256> bytes{};
        uint16_t length = 0;
        uint16_t exchange = 0;
    };
    static constexpr size_t kMaxPool = 4096;

    void give_back(std::span<const uint8_t> cookie, unsigned exchange) {
        if (cookie.empty() || cookie.size() > 256 || pool_.size() >= kMaxPool) return;
        Cookie c;
        std::memcpy(c.bytes.data(), cookie.data(), cookie.size());
        c.length = static_cast<uint16_t>(cookie.size());
        c.exchange = static_cast<uint16_t>(exchange);
        pool_.push_back(c);
    }

    std::vector<nts::SessionKeys> keys_;
    std::deque<Cookie> pool_;
    Cookie last_;
    std::optional<nts::Aead> aead_;
    uint64_t nonce_counter_ = 0;
    std::array<uint8_t, 2048> scratch_{};
};

double percentile(const std::vector<uint32_t>& sorted, double p) {
    if (sorted.empty()) return 0;
    size_t idx = static_cast<size_t>(p * static_cast<double>(sorted.size()));
    if (idx >= sorted.size()) idx = sorted.size() - 1;
    return sorted[idx] / 1000.0;
}

class Generator {
  public:
    explicit Generator(const Options& o) : o_(o) {
        for (unsigned i = 0; i < o.ports; ++i) socks_.push_back(Sock{open_client_socket(o, i)});
        // The reply's origin carries the request index, so a reply maps to
        // one entry of seen_.
        nservers_ = o.servers.size();
        total_ = static_cast<uint64_t>(o.rate * o.duration) * nservers_;
        seen_.assign(total_, false);
        res_.resize(nservers_);
        for (Results& r : res_) r.latency_ns.reserve(total_ / nservers_);
        nts_.resize(nservers_);
        for (size_t i = 0; i < nservers_; ++i) {
            const sockaddr_in& s = o.servers[i];
            for (const sockaddr_in& n : o.nts) {
                if (n.sin_addr.s_addr == s.sin_addr.s_addr && n.sin_port == s.sin_port) {
                    nts_[i] = std::make_unique<NtsPeer>(o, s);
                    res_[i].nts = true;
                }
            }
        }
    }
    ~Generator() {
        for (Sock& s : socks_) close(s.fd);
    }

    std::vector<Results> run() {
        start_ = mono_ns();
        const double per_ns = o_.rate * static_cast<double>(nservers_) / 1e9;  // requests per ns
        const uint64_t end_send = start_ + static_cast<uint64_t>(o_.duration * 1e9);
        uint64_t index = 0;
        unsigned next_sock = 0;
        while (index < total_) {
            const uint64_t now = mono_ns();
            // Requests due by now: index i is due at start + i * interval.
            uint64_t due = static_cast<uint64_t>(static_cast<double>(now - start_) * per_ns) + 1;
            if (due > total_) due = total_;
            while (index < due) {
                const unsigned n = static_cast<unsigned>(std::min<uint64_t>(due - index, o_.batch));
                send_batch(socks_[next_sock].fd, index, n);
                next_sock = (next_sock + 1) % socks_.size();
                index += n;
            }
            receive_all(false);
            if (index >= total_) break;
            const uint64_t next_due =
                start_ + static_cast<uint64_t>(static_cast<double>(index) / per_ns);
            const uint64_t t = mono_ns();
            if (next_due > t) wait_for(next_due - t);
        }
        const uint64_t drain_end =
            std::max(mono_ns(), end_send) + static_cast<uint64_t>(o_.drain * 1e9);
        while (mono_ns() < drain_end) {
            wait_for(std::min<uint64_t>(drain_end - mono_ns(), 10'000'000));
            receive_all(true);
        }
        for (Results& r : res_) r.elapsed = o_.duration;
        return res_;
    }

  private:
    void wait_for(uint64_t ns) {
        std::vector<pollfd> fds(socks_.size());
        for (size_t i = 0; i < socks_.size(); ++i) fds[i] = pollfd{socks_[i].fd, POLLIN, 0};
        timespec ts{static_cast<time_t>(ns / 1'000'000'000u),
                    static_cast<long>(ns % 1'000'000'000u)};
        ppoll(fds.data(), fds.size(), &ts, nullptr);
    }

    void send_batch(int fd, uint64_t first, unsigned n) {
        mmsghdr msgs[kMaxBatch];
        iovec iov[kMaxBatch];
        alignas(cmsghdr) uint8_t control[kMaxBatch][CMSG_SPACE(sizeof(in_pktinfo))];
        static uint8_t packets[kMaxBatch][kMaxPacket];
        const uint64_t now = mono_ns();
        for (unsigned i = 0; i < n; ++i) {
            const uint64_t seq = first + i;
            uint8_t* p = packets[i];
            std::memset(p, 0, kPacket);
            p[0] = (4 << 3) | 3;  // LI 0, VN 4, mode 3
            p[2] = 6;             // poll 64 s
            p[3] = 0xec;          // precision
            // Transmit timestamp: the sequence number in the seconds word,
            // the low 32 bits of the send time (ns) in the fraction word.
            put_be64(p + 40, (seq << 32) | (now & 0xffffffffu));
            size_t length = kPacket;
            const size_t server = seq % nservers_;
            if (nts_[server]) length = nts_[server]->build(p, seq, res_[server]);
            iov[i] = iovec{p, length};
            msgs[i] = mmsghdr{};
            const sockaddr_in& to = o_.servers[server];
            msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
            msgs[i].msg_hdr.msg_namelen = sizeof to;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (o_.src.s_addr != 0) {
                in_pktinfo pi{};
                pi.ipi_spec_dst.s_addr =
                    htonl(ntohl(o_.src.s_addr) + static_cast<uint32_t>(seq % o_.src_count));
                msghdr& h = msgs[i].msg_hdr;
                h.msg_control = control[i];
                h.msg_controllen = sizeof control[i];
                cmsghdr* c = CMSG_FIRSTHDR(&h);
                c->cmsg_level = IPPROTO_IP;
                c->cmsg_type = IP_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof pi);
                std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
            }
        }
        unsigned done = 0;
        while (done < n) {
            const int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                // EAGAIN (socket buffer full) or an ICMP error: count the rest as not sent.
                for (unsigned i = done; i < n; ++i) ++res_[(first + i) % nservers_].send_errors;
                break;
            }
            done += static_cast<unsigned>(r);
        }
        for (unsigned i = 0; i < done; ++i) ++res_[(first + i) % nservers_].sent;
        // Requests that never left are not offered load; keep indexes but mark them seen.
        for (unsigned i = done; i < n; ++i) seen_[first + i] = true;
    }

    void receive_all(bool draining) {
        mmsghdr msgs[64];
        iovec iov[64];
        static uint8_t bufs[64][kMaxPacket];
        sockaddr_in from[64];
        for (Sock& s : socks_) {
            for (;;) {
                for (unsigned i = 0; i < 64; ++i) {
                    iov[i] = iovec{bufs[i], sizeof bufs[i]};
                    msgs[i] = mmsghdr{};
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                    msgs[i].msg_hdr.msg_name = &from[i];
                    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
                }
                const int r = recvmmsg(s.fd, msgs, 64, MSG_DONTWAIT, nullptr);
                if (r <= 0) break;
                const uint64_t now = mono_ns();
                for (int i = 0; i < r; ++i)
                    account(bufs[i], msgs[i].msg_len, from[i], now, draining);
                if (r < 64) break;
            }
        }
    }

    // A reply counts for the server its request went to, and only if it
    // came from that server's address and port.
    void account(const uint8_t* p, unsigned len, const sockaddr_in& from, uint64_t now,
                 bool draining) {
        const uint64_t origin = len >= kPacket ? get_be64(p + 24) : 0;
        const uint64_t seq = origin >> 32;
        Results& bad_bin = res_[server_of(from)];
        if (len < kPacket || (p[0] & 7) != 4 || seq >= total_) {
            ++bad_bin.bad;
            return;
        }
        Results& r = res_[seq % nservers_];
        const sockaddr_in& want = o_.servers[seq % nservers_];
        if (from.sin_addr.s_addr != want.sin_addr.s_addr || from.sin_port != want.sin_port) {
            ++bad_bin.bad;
            return;
        }
        if (seen_[seq]) {
            ++r.duplicates;
            return;
        }
        if (nts_[seq % nservers_] &&
            !nts_[seq % nservers_]->check(std::span<const uint8_t>(p, len), seq, r)) {
            ++r.nts_rejected;
            return;
        }
        seen_[seq] = true;
        ++r.received;
        if (draining) ++r.late;
        const uint32_t sent_low = static_cast<uint32_t>(origin);
        r.latency_ns.push_back(static_cast<uint32_t>(now) - sent_low);
    }

    size_t server_of(const sockaddr_in& from) const {
        for (size_t i = 0; i < nservers_; ++i) {
            if (o_.servers[i].sin_addr.s_addr == from.sin_addr.s_addr &&
                o_.servers[i].sin_port == from.sin_port)
                return i;
        }
        return 0;  // a stranger's reply is charged to the first server
    }

    const Options& o_;
    std::vector<Sock> socks_;
    size_t nservers_ = 1;
    uint64_t total_ = 0;
    uint64_t start_ = 0;
    std::vector<bool> seen_;
    std::vector<Results> res_;
    std::vector<std::unique_ptr<NtsPeer>> nts_;  // per server; null: plain NTP
};

// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann-json's noexcept destructor allocates
struct Report {
    std::string text;
    nlohmann::ordered_json json;
    uint64_t received = 0;
};

Report report(const Options& o, const sockaddr_in& to, Results& r) {
    std::sort(r.latency_ns.begin(), r.latency_ns.end());
    const double loss =
        r.sent ? 100.0 * static_cast<double>(r.sent - r.received) / static_cast<double>(r.sent)
               : 100.0;
    const double rps = static_cast<double>(r.received) / r.elapsed;
    const double p50 = percentile(r.latency_ns, 0.50);
    const double p99 = percentile(r.latency_ns, 0.99);
    const double p999 = percentile(r.latency_ns, 0.999);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &to.sin_addr, addr, sizeof addr);
    const std::string target = std::string(addr) + ":" + std::to_string(ntohs(to.sin_port));
    char buf[1024];
    Report out;
    out.received = r.received;
    std::snprintf(buf, sizeof buf,
                  "server %s  offered %.0f/s for %.1f s from %u addresses x %u ports\n"
                  "sent %" PRIu64 " (send errors %" PRIu64 ")  responses %" PRIu64
                  " (%.0f/s)  loss %.3f %%\n"
                  "duplicates %" PRIu64 "  bad %" PRIu64 "  late %" PRIu64
                  "\n"
                  "latency us  p50 %.1f  p99 %.1f  p999 %.1f\n",
                  target.c_str(), o.rate, o.duration, o.src_count, o.ports, r.sent, r.send_errors,
                  r.received, rps, loss, r.duplicates, r.bad, r.late, p50, p99, p999);
    out.text = buf;
    const nlohmann::ordered_json json = {
        {"server", target},
        {"offered_pps", o.rate},
        {"duration_s", o.duration},
        {"sources", o.src_count},
        {"ports", o.ports},
        {"sent", r.sent},
        {"send_errors", r.send_errors},
        {"received", r.received},
        {"responses_per_s", rps},
        {"loss_pct", loss},
        {"duplicates", r.duplicates},
        {"bad", r.bad},
        {"late", r.late},
        {"latency_us", {{"p50", p50}, {"p99", p99}, {"p999", p999}}},
    };
    out.json = json;
    if (r.nts) {
        std::snprintf(buf, sizeof buf,
                      "NTS: rejected %" PRIu64 "  NTSN %" PRIu64 "  cookie reuses %" PRIu64 "\n",
                      r.nts_rejected, r.nts_naks, r.cookie_reuses);
        out.text += buf;
        out.json["nts"] = true;  // plain reports keep their keys as they were
        out.json["nts_rejected"] = r.nts_rejected;
        out.json["nts_naks"] = r.nts_naks;
        out.json["cookie_reuses"] = r.cookie_reuses;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse_args(argc, argv);
    std::vector<Results> results;
    {
        Generator g(o);
        results = g.run();
    }
    std::vector<Report> reports;
    for (size_t i = 0; i < results.size(); ++i)
        reports.push_back(report(o, o.servers[i], results[i]));
    bool all_answered = true;
    for (const Report& r : reports) {
        if (!o.quiet) std::fputs(r.text.c_str(), stdout);
        all_answered = all_answered && r.received > 0;
    }
    if (!o.json_path.empty()) {
        // One server: its object. Several: {"servers": [...]}, in --server order.
        nlohmann::ordered_json all;
        if (reports.size() == 1) {
            all = reports[0].json;
        } else {
            all["servers"] = nlohmann::ordered_json::array();
            for (const Report& r : reports) all["servers"].push_back(r.json);
        }
        const std::string json = all.dump() + "\n";
        if (o.json_path == "-") {
            std::fputs(json.c_str(), stdout);
        } else {
            FILE* f = std::fopen(o.json_path.c_str(), "w");
            if (f == nullptr) die_errno("open " + o.json_path);
            std::fputs(json.c_str(), f);
            // fclose flushes: a full disk shows up here, not in fputs
            if (std::fclose(f) != 0) die_errno("write " + o.json_path);
        }
    }
    return all_answered ? 0 : 1;
} catch (const std::exception& e) {  // out of memory, say: a message, not std::terminate
    die(e.what());
}
