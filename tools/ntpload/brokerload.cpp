// brokerload - N simulated members subscribed to one broker, for the broker
// benchmark (tests/bench/broker-subscribers.sh, README there).
//
//   brokerload --server 127.0.0.1:4461 --ca ca.crt --token nt1.1.<...>
//              --certs DIR --members 10000 [--src 127.1.0.1 --src-count 500]
//              [--schedule 0.1:60,0.2:20] [--progress FILE]
//
// 1. Certificates: every member needs its own (the member is the
//    certificate's CN, and a newer subscription of a member replaces the
//    older one: PROTOCOL.md). All members share one P-256 key and CSR kept in
//    DIR/member.key; the certificates are issued through the API
//    (POST /v1/certificates with the CSR, role member) and kept in DIR, so a
//    second run against the same database issues none. The token is used
//    once, to issue an admin certificate for brokerload itself (a bearer
//    token costs the broker an scrypt hash, ~50 ms, per request); the rest
//    goes over one keep-alive connection authenticated by that certificate.
//    A monitor certificate (DIR/monitor.crt, same key) is issued for the
//    benchmark's API probe.
// 2. Members: one TCP connection each, non-blocking OpenSSL (TLS 1.3, ALPN
//    http/1.1, the member's certificate), epoll, one thread; GET
//    /v1/subscribe with the upgrade, then the subscription protocol through
//    the repository's codec (broker/subscription_messages): hello, pong to
//    every ping, and state messages. At most --in-flight connections are
//    being set up at once; a member that is cut reconnects after a second
//    (its seq goes on increasing).
// 3. Load: state messages at the schedule's rate per member, spread evenly
//    (member k of N is due at phase start + (k + j*N) / (N * rate)), after
//    the one each member sends at its welcome. The state's data is a real
//    nanotimed's six control-socket views (--model FILE) with the numbers
//    that change between two states (offsets, counters, times) changed.
//
// stdout: "ramped N S" when N members are subscribed (after S seconds),
// "phase I RATE" at each schedule phase, and a summary at the end. --progress
// FILE is rewritten every second with the counters as JSON (written to a
// temporary file and renamed). Exit 0 when every member subscribed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "broker/subscription_messages.hpp"
#include "net/socket_address.hpp"

namespace {

namespace broker = nanotime::broker;
using nlohmann::json;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "brokerload: %s\n", what.c_str());
    std::exit(2);
}

std::string ssl_error() {
    const unsigned long e = ERR_get_error();
    if (e == 0) return "no OpenSSL reason";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

double mono_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot read " + path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) die("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) die("cannot rename " + tmp);
}

struct Phase {
    double rate = 0.1;  // states per second per member
    double seconds = 60;
};

struct Options {
    sockaddr_in server{};
    std::string ca_path;
    std::string token;
    std::string certs_dir;
    std::string model_path;
    std::string prefix = "bench-";
    unsigned members = 100;
    in_addr src{};
    unsigned src_count = 1;
    unsigned in_flight = 128;
    double ramp_timeout = 600;
    std::vector<Phase> schedule;
    std::string progress_path;
    bool issue_only = false;
};

std::vector<Phase> parse_schedule(const std::string& text) {
    std::vector<Phase> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        const size_t colon = item.find(':');
        Phase p;
        try {
            if (colon == std::string::npos) throw std::invalid_argument("no ':'");
            size_t used = 0;
            p.rate = std::stod(item.substr(0, colon), &used);
            p.seconds = std::stod(item.substr(colon + 1));
        } catch (const std::exception&) {
            die("--schedule: '" + item + "' is not RATE:SECONDS");
        }
        if (!(p.rate >= 0 && p.rate <= 1000) || !(p.seconds > 0 && p.seconds <= 86400))
            die("--schedule: '" + item + "' out of range (rate 0..1000/s, 0 < seconds <= 86400)");
        out.push_back(p);
    }
    if (out.empty()) die("--schedule: empty");
    return out;
}

Options parse_args(int argc, char** argv) {
    Options o;
    std::string server, src, schedule = "0.1:60";
    CLI::App app("brokerload - simulated members subscribed to one broker", "brokerload");
    app.add_option("--server", server, "broker ADDR[:PORT] (port 4461 by default)")->required();
    app.add_option("--ca", o.ca_path, "PEM trust anchor of the broker's server certificate")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--token", o.token,
                   "admin bearer token (needed while certificates are missing)");
    app.add_option("--certs", o.certs_dir, "directory of the issued certificates (kept)")
        ->required();
    app.add_option("--model", o.model_path,
                   "JSON object: a member's state.data (the six control-socket views)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--prefix", o.prefix, "member name prefix")->capture_default_str();
    app.add_option("--members", o.members, "simulated members")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--src", src, "first local source address (default: chosen by routing)");
    app.add_option("--src-count", o.src_count, "consecutive source addresses (with --src)")
        ->check(CLI::Range(1u, 65536u))
        ->capture_default_str();
    app.add_option("--in-flight", o.in_flight, "connections being set up at once")
        ->check(CLI::Range(1u, 100000u))
        ->capture_default_str();
    app.add_option("--ramp-timeout", o.ramp_timeout, "seconds for every member to subscribe")
        ->check(CLI::Range(1.0, 86400.0))
        ->capture_default_str();
    app.add_option("--schedule", schedule,
                   "phases after the ramp, RATE:SECONDS,... (states/s per member)")
        ->capture_default_str();
    app.add_option("--progress", o.progress_path,
                   "rewrite this file with the counters each second");
    app.add_flag("--issue-only", o.issue_only, "issue the certificates and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        std::exit(code == 0 ? 0 : 2);
    }
    const auto address = nanotime::ntp::SocketAddress::parse(server, 4461);
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
    o.schedule = parse_schedule(schedule);
    return o;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;

CertPtr cert_from_pem(const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    CertPtr c(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
    BIO_free(b);
    return c;
}

// The members' shared key (made once, kept in @dir/member.key) and its CSR.
struct MemberKey {
    KeyPtr key;
    std::string csr_pem;
};

MemberKey member_key(const std::string& dir) {
    const std::string path = dir + "/member.key";
    MemberKey k;
    if (std::filesystem::exists(path)) {
        const std::string pem = read_text(path);
        BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
        k.key.reset(PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr));
        BIO_free(b);
        if (!k.key) die(path + ": " + ssl_error());
    } else {
        k.key.reset(EVP_EC_gen("P-256"));
        if (!k.key) die("EC key: " + ssl_error());
        BIO* b = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(b, k.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        char* data = nullptr;
        const long n = BIO_get_mem_data(b, &data);
        write_text(path, std::string(data, static_cast<size_t>(n)));
        BIO_free(b);
    }
    // The CSR's subject is ignored: the broker names the certificate.
    X509_REQ* req = X509_REQ_new();
    X509_NAME* name = X509_REQ_get_subject_name(req);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("brokerload"), -1, -1, 0);
    if (X509_REQ_set_pubkey(req, k.key.get()) != 1 ||
        X509_REQ_sign(req, k.key.get(), EVP_sha256()) <= 0)
        die("CSR: " + ssl_error());
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, req);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    k.csr_pem.assign(data, static_cast<size_t>(n));
    BIO_free(b);
    X509_REQ_free(req);
    return k;
}

CtxPtr client_context(const std::string& ca_path) {
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) die("SSL_CTX_new: " + ssl_error());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    if (SSL_CTX_load_verify_locations(ctx.get(), ca_path.c_str(), nullptr) != 1)
        die(ca_path + ": " + ssl_error());
    // The chain is checked, not the name: the broker listens on an address
    // only the benchmark knows.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn - 1);
    // 10 000 idle sessions: OpenSSL's record buffers only while in use.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

int tcp_socket(const sockaddr_in& server, in_addr source, bool blocking) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) return -1;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source.s_addr != 0) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr = source;
        if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

// ---------------------------------------------------------------------------
// Issuing the certificates: one blocking keep-alive HTTPS connection.

class ApiClient {
  public:
    ApiClient(SSL_CTX* ctx, const sockaddr_in& server, X509* cert, EVP_PKEY* key) {
        fd_ = tcp_socket(server, in_addr{}, true);
        if (fd_ < 0) die(std::string("connect: ") + std::strerror(errno));
        ssl_.reset(SSL_new(ctx));
        if (cert != nullptr) {
            SSL_use_certificate(ssl_.get(), cert);
            SSL_use_PrivateKey(ssl_.get(), key);
        }
        SSL_set_fd(ssl_.get(), fd_);
        if (SSL_connect(ssl_.get()) != 1) die("TLS to the broker: " + ssl_error());
    }
    ~ApiClient() {
        ssl_.reset();
        close(fd_);
    }
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    // One request; the status and the JSON body.
    std::pair<int, json> call(const std::string& method, const std::string& path, const json& body,
                              const std::string& token) {
        const std::string text = body.is_null() ? std::string() : body.dump();
        std::string request = method + " " + path + " HTTP/1.1\r\nHost: broker\r\n";
        if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
        if (!text.empty())
            request +=
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
                "\r\n";
        request += "\r\n" + text;
        if (SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size())) <= 0)
            die("write to the broker: " + ssl_error());
        size_t head_end;
        while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) read_more();
        const std::string head = in_.substr(0, head_end);
        size_t length = 0;
        for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
            const size_t at = head.find(name);
            if (at != std::string::npos) length = std::stoul(head.substr(at + std::strlen(name)));
        }
        while (in_.size() < head_end + 4 + length) read_more();
        const std::string response_body = in_.substr(head_end + 4, length);
        in_.erase(0, head_end + 4 + length);
        int status = 0;  // "HTTP/1.1 201 ...": 0 if the line is not that
        if (head.size() >= 12) std::from_chars(head.data() + 9, head.data() + 12, status);
        return {status, json::parse(response_body, nullptr, false)};
    }

  private:
    void read_more() {
        char buf[16384];
        const int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n <= 0) die("the broker closed the API connection: " + ssl_error());
        in_.append(buf, static_cast<size_t>(n));
    }
    int fd_ = -1;
    SslPtr ssl_;
    std::string in_;
};

// DIR/@name.crt for @name, issued through @api when missing.
CertPtr certificate_for(ApiClient* api, const std::string& dir, const std::string& name,
                        const char* role, const MemberKey& key) {
    const std::string path = dir + "/" + name + ".crt";
    if (!std::filesystem::exists(path)) {
        if (api == nullptr) die("no " + path + " and no --token to issue it");
        const auto [status, body] =
            api->call("POST", "/v1/certificates",
                      json{{"name", name}, {"role", role}, {"days", 2}, {"csr", key.csr_pem}}, "");
        if (status != 201 || !body.contains("certificate"))
            die("POST /v1/certificates " + name + ": " + std::to_string(status) + " " +
                body.dump());
        write_text(path, body["certificate"].get<std::string>());
    }
    CertPtr c = cert_from_pem(read_text(path));
    if (!c) die(path + ": not a PEM certificate");
    return c;
}

std::vector<CertPtr> issue_all(const Options& o, SSL_CTX* ctx, const MemberKey& key, double& took_s,
                               unsigned& issued) {
    const double start = mono_s();
    std::vector<std::string> missing;
    for (unsigned i = 0; i < o.members; ++i) {
        const std::string name = o.prefix + std::to_string(i);
        if (!std::filesystem::exists(o.certs_dir + "/" + name + ".crt")) missing.push_back(name);
    }
    const bool need_admin =
        !missing.empty() || !std::filesystem::exists(o.certs_dir + "/brokerload-monitor.crt");
    std::unique_ptr<ApiClient> api;
    if (need_admin) {
        const std::string admin_path = o.certs_dir + "/brokerload-admin.crt";
        if (!std::filesystem::exists(admin_path)) {
            if (o.token.empty()) die("certificates missing in " + o.certs_dir + " and no --token");
            ApiClient bootstrap(ctx, o.server, nullptr, nullptr);
            const auto [status, body] = bootstrap.call("POST", "/v1/certificates",
                                                       json{{"name", "brokerload-admin"},
                                                            {"role", "admin"},
                                                            {"days", 2},
                                                            {"csr", key.csr_pem}},
                                                       o.token);
            if (status != 201) die("admin certificate: " + std::to_string(status) + body.dump());
            write_text(admin_path, body["certificate"].get<std::string>());
        }
        CertPtr admin = cert_from_pem(read_text(admin_path));
        api = std::make_unique<ApiClient>(ctx, o.server, admin.get(), key.key.get());
        certificate_for(api.get(), o.certs_dir, "brokerload-monitor", "monitor", key);
    }
    std::vector<CertPtr> certs;
    certs.reserve(o.members);
    for (unsigned i = 0; i < o.members; ++i) {
        const std::string name = o.prefix + std::to_string(i);
        certs.push_back(certificate_for(api.get(), o.certs_dir, name, "member", key));
    }
    issued = static_cast<unsigned>(missing.size());
    took_s = mono_s() - start;
    return certs;
}

// ---------------------------------------------------------------------------
// The state a member sends: the model with the changing numbers changed.

class StateMaker {
  public:
    explicit StateMaker(json model) : model_(std::move(model)) {
        if (!model_.is_object()) die("--model: not a JSON object");
        for (const auto& [view, data] : model_.items()) {
            if (std::find(std::begin(broker::kStateViews), std::end(broker::kStateViews), view) ==
                std::end(broker::kStateViews))
                die("--model: '" + view + "' is not a state view");
            if (!data.is_object()) die("--model: '" + view + "' is not an object");
        }
    }

    // The framed state message @seq of member @index.
    std::vector<uint8_t> make(unsigned index, uint64_t seq) {
        json data = model_;
        // Numbers that move between two states of a real member: every
        // floating-point value is jittered by up to ±1 % (offsets, jitter,
        // frequency, delays), every unsigned counter grows with seq.
        rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL + index;
        perturb(data, seq);
        return broker::encode_message(broker::DaemonMessage{broker::State{seq, std::move(data)}});
    }
    size_t model_bytes() const { return model_.dump().size(); }

  private:
    void perturb(json& j, uint64_t seq) {
        if (j.is_object() || j.is_array()) {
            for (auto& v : j) perturb(v, seq);
        } else if (j.is_number_float()) {
            rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
            const double unit = static_cast<double>(rng_ >> 11) / 9007199254740992.0;  // [0,1)
            j = j.get<double>() * (0.99 + 0.02 * unit);
        } else if (j.is_number_unsigned() && j.get<uint64_t>() > 1000) {
            j = j.get<uint64_t>() + seq;  // counters, times
        }
    }
    json model_;
    uint64_t rng_ = 1;
};

// ---------------------------------------------------------------------------
// The members.

struct Member {
    enum class Stage { Idle, Connecting, Handshake, Upgrading, Subscribed };
    unsigned index = 0;
    Stage stage = Stage::Idle;
    int fd = -1;
    SslPtr ssl;
    std::string out;   // plaintext not yet taken by SSL_write
    std::string head;  // the HTTP response head, until the blank line
    std::unique_ptr<broker::BrokerMessageReader> reader;
    uint64_t seq = 0;
    double retry_at = 0;
};

struct Counters {
    uint64_t connects = 0;
    uint64_t subscribed_total = 0;  // upgrades that got welcome
    uint64_t states_sent = 0;
    uint64_t states_skipped = 0;  // due while the member was not subscribed
    uint64_t pings = 0;
    uint64_t commands = 0;
    uint64_t failures = 0;
    uint64_t state_bytes = 0;
    std::map<std::string, uint64_t> failure_reasons;
};

class Fleet {
  public:
    Fleet(const Options& o, SSL_CTX* ctx, std::vector<CertPtr> certs, EVP_PKEY* key,
          StateMaker& states)
        : o_(o), ctx_(ctx), certs_(std::move(certs)), key_(key), states_(states) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die("epoll_create1");
        members_.resize(o.members);
        for (unsigned i = 0; i < o.members; ++i) members_[i].index = i;
        hello_ = broker::encode_message(broker::DaemonMessage{broker::Hello{
            broker::kSubscriptionProtocol, "bench-host", "brokerload", {"server", "client"}}});
    }
    ~Fleet() {
        for (Member& m : members_) reset(m);
        close(ep_);
    }
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    int run() {
        start_ = mono_s();
        double next_progress = start_ + 1;
        double ramp_end = 0;
        size_t phase = 0;
        double phase_start = 0;
        uint64_t due_index = 0;  // states due in this phase so far
        bool ramped = false;
        const double ramp_deadline = start_ + o_.ramp_timeout;
        while (true) {
            const double now = mono_s();
            // Open connections: members never connected or due to retry.
            while (setting_up_ < o_.in_flight && next_open_ < members_.size()) {
                open(members_[next_open_++], now);
            }
            for (Member* m : retry_queue_due(now)) {
                if (setting_up_ >= o_.in_flight) {
                    retry_.push_back(m);
                    continue;
                }
                open(*m, now);
            }
            if (!ramped) {
                if (subscribed_ == members_.size()) {
                    ramped = true;
                    ramp_end = now;
                    std::printf("ramped %zu %.1f\n", subscribed_, now - start_);
                    phase_start = now;
                    due_index = 0;
                    std::printf("phase 0 %g\n", o_.schedule[0].rate);
                    (void)std::fflush(stdout);
                } else if (now > ramp_deadline) {
                    std::printf("ramp failed: %zu of %zu subscribed\n", subscribed_,
                                members_.size());
                    report(now, ramp_end);
                    return 1;
                }
            }
            if (ramped) {
                if (now - phase_start >= o_.schedule[phase].seconds) {
                    if (++phase == o_.schedule.size()) break;
                    phase_start = now;
                    due_index = 0;
                    std::printf("phase %zu %g\n", phase, o_.schedule[phase].rate);
                    (void)std::fflush(stdout);
                }
                const double total_rate =
                    o_.schedule[phase].rate * static_cast<double>(members_.size());
                const auto due_now = static_cast<uint64_t>((now - phase_start) * total_rate);
                for (; due_index < due_now; ++due_index) {
                    // Member offsets are spread through the period so that
                    // member k's states are evenly spaced.
                    send_state(members_[due_index % members_.size()]);
                }
            }
            if (now >= next_progress) {
                next_progress += 1;
                progress(now);
            }
            epoll_event ev[512];
            const int n = epoll_wait(ep_, ev, 512, 2);
            for (int i = 0; i < n; ++i) {
                Member& m = members_[ev[i].data.u32];
                on_event(m, ev[i].events, mono_s());
            }
        }
        drain();
        report(mono_s(), ramp_end);
        return 0;
    }

  private:
    // Up to 2 s for output still queued (a full socket buffer) to leave, so
    // that every state counted as sent reaches the broker.
    void drain() {
        const double end = mono_s() + 2;
        while (mono_s() < end) {
            bool pending = false;
            for (const Member& m : members_) pending = pending || !m.out.empty();
            if (!pending) return;
            epoll_event ev[512];
            const int n = epoll_wait(ep_, ev, 512, 10);
            for (int i = 0; i < n; ++i) on_event(members_[ev[i].data.u32], ev[i].events, mono_s());
        }
    }

    std::vector<Member*> retry_queue_due(double now) {
        std::vector<Member*> due;
        while (!retry_.empty() && retry_.front()->retry_at <= now) {
            due.push_back(retry_.front());
            retry_.pop_front();
        }
        return due;
    }

    in_addr source() {
        in_addr a{};
        if (o_.src.s_addr == 0) return a;
        a.s_addr = htonl(ntohl(o_.src.s_addr) + static_cast<uint32_t>(next_src_++ % o_.src_count));
        return a;
    }

    void open(Member& m, double now) {
        ++counters_.connects;
        m.fd = tcp_socket(o_.server, source(), false);
        if (m.fd < 0) return fail(m, std::string("connect: ") + std::strerror(errno), now);
        m.ssl.reset(SSL_new(ctx_));
        SSL_use_certificate(m.ssl.get(), certs_[m.index].get());
        SSL_use_PrivateKey(m.ssl.get(), key_);
        SSL_set_fd(m.ssl.get(), m.fd);
        SSL_set_connect_state(m.ssl.get());
        m.stage = Member::Stage::Connecting;
        m.head.clear();
        m.out.clear();
        m.reader = std::make_unique<broker::BrokerMessageReader>();
        ++setting_up_;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = m.index;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, m.fd, &ev) != 0) die("epoll_ctl");
    }

    void reset(Member& m) {
        if (m.stage == Member::Stage::Idle) return;
        if (m.stage == Member::Stage::Subscribed) {
            --subscribed_;
        } else {
            --setting_up_;
        }
        m.ssl.reset();
        if (m.fd >= 0) {
            epoll_ctl(ep_, EPOLL_CTL_DEL, m.fd, nullptr);
            close(m.fd);
        }
        m.fd = -1;
        m.stage = Member::Stage::Idle;
    }

    void fail(Member& m, const std::string& why, double now) {
        ++counters_.failures;
        ++counters_.failure_reasons[why.substr(0, 80)];
        reset(m);
        m.retry_at = now + 1.0;
        retry_.push_back(&m);
    }

    void watch(Member& m, bool want_write) {
        epoll_event ev{};
        ev.events = EPOLLIN | (want_write ? static_cast<uint32_t>(EPOLLOUT) : 0u);
        ev.data.u32 = m.index;
        epoll_ctl(ep_, EPOLL_CTL_MOD, m.fd, &ev);
    }

    void on_event(Member& m, uint32_t events, double now) {
        if (m.stage == Member::Stage::Idle) return;
        if (m.stage == Member::Stage::Connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(m.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) return fail(m, std::string("connect: ") + std::strerror(err), now);
            m.stage = Member::Stage::Handshake;
        }
        if (m.stage == Member::Stage::Handshake) {
            const int r = SSL_do_handshake(m.ssl.get());
            if (r != 1) {
                const int e = SSL_get_error(m.ssl.get(), r);
                if (e == SSL_ERROR_WANT_READ) return watch(m, false);
                if (e == SSL_ERROR_WANT_WRITE) return watch(m, true);
                return fail(m, "handshake: " + ssl_error(), now);
            }
            m.stage = Member::Stage::Upgrading;
            m.out = "GET " + std::string(broker::kSubscriptionPath) +
                    " HTTP/1.1\r\nHost: broker\r\nConnection: Upgrade\r\nUpgrade: " +
                    std::string(broker::kSubscriptionUpgrade) + "\r\n\r\n";
            m.out.append(hello_.begin(), hello_.end());
        }
        (void)events;
        if (!flush(m, now)) return;
        read(m, now);
    }

    // Plaintext out; false if the member failed.
    bool flush(Member& m, double now) {
        while (!m.out.empty()) {
            const int n = SSL_write(m.ssl.get(), m.out.data(), static_cast<int>(m.out.size()));
            if (n > 0) {
                m.out.erase(0, static_cast<size_t>(n));
                continue;
            }
            const int e = SSL_get_error(m.ssl.get(), n);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                watch(m, true);
                return true;
            }
            fail(m, "write: " + ssl_error(), now);
            return false;
        }
        watch(m, false);
        return true;
    }

    void read(Member& m, double now) {
        char buf[16384];
        while (m.stage != Member::Stage::Idle) {
            const int n = SSL_read(m.ssl.get(), buf, sizeof buf);
            if (n <= 0) {
                const int e = SSL_get_error(m.ssl.get(), n);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
                return fail(m,
                            e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL
                                ? "closed by the broker"
                                : "read: " + ssl_error(),
                            now);
            }
            std::string_view data(buf, static_cast<size_t>(n));
            if (m.stage == Member::Stage::Upgrading) {
                m.head.append(data);
                const size_t end = m.head.find("\r\n\r\n");
                if (end == std::string::npos) {
                    if (m.head.size() > 16384) return fail(m, "response head too long", now);
                    continue;
                }
                if (!m.head.starts_with("HTTP/1.1 101"))
                    return fail(m, "upgrade refused: " + m.head.substr(0, m.head.find('\r')), now);
                data = std::string_view(m.head).substr(end + 4);
                m.reader->feed(std::span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(data.data()), data.size()));
                m.head.clear();
                m.stage = Member::Stage::Subscribed;  // from the 101; counted at welcome
                --setting_up_;
                ++subscribed_;
            } else {
                m.reader->feed(std::span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(data.data()), data.size()));
            }
            if (!handle_messages(m, now)) return;
        }
    }

    bool handle_messages(Member& m, double now) {
        while (true) {
            auto parsed = m.reader->next();
            if (m.reader->failed()) {
                fail(m, "frame over 1 MiB", now);
                return false;
            }
            if (!parsed) return true;
            if (!parsed->message) {
                fail(m, "malformed message: " + parsed->error, now);
                return false;
            }
            if (const auto* w = std::get_if<broker::Welcome>(&*parsed->message)) {
                (void)w;
                ++counters_.subscribed_total;
                send_state(m);  // "the member then sends state at once"
            } else if (const auto* p = std::get_if<broker::Ping>(&*parsed->message)) {
                ++counters_.pings;
                queue(m, broker::encode_message(broker::DaemonMessage{broker::Pong{p->id}}));
            } else if (const auto* c = std::get_if<broker::Command>(&*parsed->message)) {
                ++counters_.commands;
                queue(m, broker::encode_message(broker::DaemonMessage{broker::Result{
                             c->id, json{{"ok", false}, {"error", "a brokerload member"}}}}));
            }
            if (m.stage == Member::Stage::Idle) return false;
        }
    }

    void queue(Member& m, const std::vector<uint8_t>& frame) {
        m.out.append(frame.begin(), frame.end());
        flush(m, mono_s());
    }

    void send_state(Member& m) {
        if (m.stage != Member::Stage::Subscribed) {
            ++counters_.states_skipped;
            return;
        }
        const std::vector<uint8_t> frame = states_.make(m.index, ++m.seq);
        ++counters_.states_sent;
        counters_.state_bytes += frame.size();
        queue(m, frame);
    }

    json counters_json(double now) const {
        json reasons = json::object();
        for (const auto& [why, n] : counters_.failure_reasons) reasons[why] = n;
        return json{{"elapsed_s", now - start_},
                    {"members", members_.size()},
                    {"subscribed", subscribed_},
                    {"connects", counters_.connects},
                    {"welcomes", counters_.subscribed_total},
                    {"states_sent", counters_.states_sent},
                    {"states_skipped", counters_.states_skipped},
                    {"state_bytes", counters_.state_bytes},
                    {"pings", counters_.pings},
                    {"commands", counters_.commands},
                    {"failures", counters_.failures},
                    {"failure_reasons", reasons}};
    }

    void progress(double now) const {
        if (!o_.progress_path.empty())
            write_text(o_.progress_path, counters_json(now).dump() + "\n");
    }

    void report(double now, double ramp_end) const {
        progress(now);
        json j = counters_json(now);
        j["ramp_s"] = ramp_end > 0 ? ramp_end - start_ : -1;
        std::printf("summary %s\n", j.dump().c_str());
        (void)std::fflush(stdout);
    }

    const Options& o_;
    SSL_CTX* ctx_;
    std::vector<CertPtr> certs_;
    EVP_PKEY* key_;
    StateMaker& states_;
    int ep_ = -1;
    std::vector<Member> members_;
    std::deque<Member*> retry_;
    std::vector<uint8_t> hello_;
    size_t next_open_ = 0;
    size_t setting_up_ = 0;
    size_t subscribed_ = 0;
    uint64_t next_src_ = 0;
    double start_ = 0;
    Counters counters_;
};

void raise_fd_limit(size_t needed) {
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur >= needed) return;
    r.rlim_cur = std::min<rlim_t>(std::max<rlim_t>(needed, r.rlim_cur), r.rlim_max);
    setrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur < needed)
        die("RLIMIT_NOFILE " + std::to_string(r.rlim_cur) + " < " + std::to_string(needed) +
            " (ulimit -n)");
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse_args(argc, argv);
    raise_fd_limit(o.members + 64);
    std::filesystem::create_directories(o.certs_dir);
    CtxPtr ctx = client_context(o.ca_path);
    const MemberKey key = member_key(o.certs_dir);
    double issue_s = 0;
    unsigned issued = 0;
    std::vector<CertPtr> certs = issue_all(o, ctx.get(), key, issue_s, issued);
    std::printf("certificates %u issued in %.1f s (%.2f ms each), %u kept\n", issued, issue_s,
                issued > 0 ? issue_s * 1e3 / issued : 0.0, o.members - issued);
    (void)std::fflush(stdout);
    if (o.issue_only) return 0;
    StateMaker states(json::parse(read_text(o.model_path)));
    Fleet fleet(o, ctx.get(), std::move(certs), key.key.get(), states);
    return fleet.run();
} catch (const std::exception& e) {
    die(e.what());
}
