// nts_ke_service.cpp - the NTS-KE server on its own thread (see
// nts_ke_service.hpp).
#include "nanotimed/nts_ke_service.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/stream_server.hpp"
#include "nanotimed/stream_service.hpp"
#include "nts/aead.hpp"
#include "nts/cookie.hpp"
#include "nts/ke_server.hpp"
#include "nts/nts_server.hpp"
#include "nts/pool_tokens.hpp"

namespace nanotime::daemon {
namespace {

// Seals the session keys under the master key that seals cookies now.
class KeyStoreCookies final : public nts::CookieSource {
  public:
    KeyStoreCookies(SharedKeyStore& keys, ntp::RandomSource& random, NtsKeService::UnixNow now,
                    nts::Aead aead)
        : keys_(keys), random_(random), now_(std::move(now)), aead_(std::move(aead)) {}

    // An empty cookie tells the session it failed (Error 2, internal).
    std::vector<uint8_t> make_cookie(const nts::NtsKeys& keys) override {
        if (auto newer = keys_.get_if_newer(seen_)) store_ = std::move(newer);
        const auto session = nts::SessionKeys::from(keys);
        const nts::MasterKey* master = store_ ? store_->sealing_key(now_()) : nullptr;
        if (!session || master == nullptr) return {};
        std::array<uint8_t, nts::kCookieNonceLength> nonce{};
        nts::fill_random(random_, nonce);
        std::vector<uint8_t> cookie(nts::kMaxCookieLength);
        auto sealed = nts::seal_cookie(aead_, *master, nonce, *session, cookie);
        if (!sealed) return {};
        cookie.resize(*sealed);
        return cookie;
    }

  private:
    SharedKeyStore& keys_;
    ntp::RandomSource& random_;
    NtsKeService::UnixNow now_;
    nts::Aead aead_;
    uint64_t seen_ = 0;
    std::shared_ptr<const nts::KeyStore> store_;
};

nts::KeServerConfig session_config(const config::NtsKeServerConfig& c) {
    nts::KeServerConfig k;
    if (!c.ntp_server.empty()) k.ntp_server = c.ntp_server;
    if (c.ntp_port != 0) k.ntp_port = c.ntp_port;
    k.aead_algorithms = c.aead_algorithms;
    if (c.pool_enabled()) {
        k.pool.enabled = true;
        k.pool.tokens = nts::PoolTokens(load_pool_tokens(c));
        k.pool.max_requests = c.pool_max_requests;
    }
    return k;
}

io::ListenerLimits limits(const config::NtsKeServerConfig& c) {
    io::ListenerLimits l;
    l.max_connections = c.max_connections;
    l.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(c.timeout * 1000));
    // One request per connection: the session closes after its response.
    // Only a pool's Keep Alive session outlives it, and waits up to
    // pool_idle_timeout for its next request.
    l.idle_timeout = l.request_timeout;
    if (c.pool_enabled()) {
        l.idle_timeout =
            std::max(l.idle_timeout,
                     std::chrono::milliseconds(static_cast<int64_t>(c.pool_idle_timeout * 1000)));
    }
    l.address_rate = c.address_rate;
    l.address_burst = c.address_burst;
    return l;
}

}  // namespace

std::shared_ptr<io::TlsContext> load_nts_ke_tls(const config::NtsKeServerConfig& config) {
    return load_server_tls("nts_ke", config.certificate, config.private_key, {"ntske/1"},
                           config.pool_ca);
}

std::vector<std::string> load_pool_tokens(const config::NtsKeServerConfig& config) {
    std::vector<std::string> tokens = config.pool_tokens;
    if (config.pool_token_file.empty()) return tokens;
    const std::string where = "nts_ke: pool_token_file " + config.pool_token_file + ": ";
    std::ifstream in(config.pool_token_file, std::ios::binary);
    if (!in) throw std::runtime_error(where + std::generic_category().message(errno));
    std::string text(nts::kMaxPoolTokenFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    auto parsed = nts::parse_pool_token_file(text);
    if (!parsed) throw std::runtime_error(where + parsed.error());
    tokens.insert(tokens.end(), parsed->begin(), parsed->end());
    return tokens;
}

// Everything the KE thread owns. The main thread touches only the fields
// under @mutex.
struct NtsKeService::Worker {
    struct Connection {
        io::StreamServer* server;
        std::unique_ptr<nts::KeServerSession> session;
        bool request_done = false;  // the first response went out
        bool responded = false;     // the last response went out: closing
    };

    Worker(const config::NtsKeServerConfig& config, SharedKeyStore& keys, ntp::RandomSource& random,
           UnixNow now, nts::Aead aead)
        : session_config(daemon::session_config(config)),
          pool_max_sessions(config.pool_max_sessions),
          cookies(keys, random, std::move(now), std::move(aead)) {
        counters.pool = config.pool_enabled();
    }

    void on_open(io::StreamServer& server, uint64_t conn) {
        auto exporter = [&server, conn](std::string_view label, std::span<const uint8_t> context,
                                        size_t length) {
            return server.export_keying_material(conn, label, context, length);
        };
        nts::PoolPeer peer = nts::PoolPeer::NoCertificate;
        if (session_config.pool.enabled) {
            if (const auto cert = server.peer_certificate(conn)) {
                peer = cert->verified ? nts::PoolPeer::CertificateVerified
                                      : nts::PoolPeer::CertificateRejected;
            }
        }
        connections[conn] = Connection{
            &server, std::make_unique<nts::KeServerSession>(session_config, exporter, cookies, peer,
                                                            [this] { return admit_keep_alive(); })};
        count([](NtsKeCounters& c) { ++c.accepted; });
    }

    // The cap on Keep Alive sessions open at once (pool_max_sessions).
    bool admit_keep_alive() {
        const bool admit = kept_alive_open < pool_max_sessions;
        if (admit) ++kept_alive_open;
        count([admit, open = kept_alive_open](NtsKeCounters& c) {
            ++(admit ? c.pool_keep_alive_sessions : c.pool_keep_alive_refused);
            c.pool_keep_alive_open = open;
        });
        return admit;
    }

    void on_data(uint64_t conn, std::span<const uint8_t> plaintext) {
        auto it = connections.find(conn);
        if (it == connections.end() || it->second.responded) return;
        Connection& c = it->second;
        nts::KeServerAction action = c.session->feed(plaintext);
        // Counted before the response leaves, so that a peer that reads
        // the counters after its answer sees its request in them.
        for (const nts::KeRequestResult& r : action.answered) record(r);
        if (!action.write.empty()) c.server->send(conn, action.write);
        // The first response ends the request deadline; a Keep Alive
        // session then lives by the idle one.
        if (!action.answered.empty() && !c.request_done) {
            c.request_done = true;
            c.server->request_done(conn);
        }
        if (action.close_after_write) {
            c.responded = true;
            // May call on_close at once, which erases c: nothing after it
            // touches the connection.
            c.server->close(conn);
        }
    }

    void on_close(uint64_t conn) {
        auto it = connections.find(conn);
        if (it != connections.end() && it->second.session->kept_alive()) {
            --kept_alive_open;
            count([open = kept_alive_open](NtsKeCounters& c) { c.pool_keep_alive_open = open; });
        }
        connections.erase(conn);
    }

    static void record_pool(NtsKeCounters& c, const nts::KeRequestResult& r) {
        switch (r.pool_refusal) {
            case nts::PoolRefusal::None:
                if (r.outcome == nts::KeServerOutcome::PoolSupportSent) ++c.pool_support_served;
                if (r.outcome == nts::KeServerOutcome::PoolKeysIssued) ++c.pool_fixed_key_served;
                break;
            case nts::PoolRefusal::NoCertificate:
                ++c.pool_refused_no_certificate;
                break;
            case nts::PoolRefusal::CertificateRejected:
                ++c.pool_refused_certificate;
                break;
            case nts::PoolRefusal::BadToken:
                ++c.pool_refused_token;
                break;
            case nts::PoolRefusal::Malformed:
                ++c.pool_refused_malformed;
                break;
            case nts::PoolRefusal::UnsupportedProtocol:
                ++c.pool_refused_protocol;
                break;
            case nts::PoolRefusal::UnsupportedAead:
                ++c.pool_refused_aead;
                break;
            case nts::PoolRefusal::Internal:
                ++c.pool_refused_internal;
                break;
        }
    }

    void record(const nts::KeRequestResult& r) {
        count([&r](NtsKeCounters& c) {
            c.server_deny += r.denied_servers;
            if (r.pool_request) {
                record_pool(c, r);
                if (r.outcome != nts::KeServerOutcome::ErrorSent) return;
            }
            switch (r.outcome) {
                case nts::KeServerOutcome::KeysIssued:
                    ++c.keys_issued;
                    break;
                case nts::KeServerOutcome::NoCommonProtocol:
                    ++c.no_common_protocol;
                    break;
                case nts::KeServerOutcome::NoCommonAead:
                    ++c.no_common_aead;
                    break;
                case nts::KeServerOutcome::ErrorSent:
                    if (r.error_code == nts::KeErrorCode::UnrecognizedCriticalRecord)
                        ++c.unrecognized_critical;
                    else if (r.error_code == nts::KeErrorCode::BadRequest)
                        ++c.bad_request;
                    else
                        ++c.internal_error;
                    break;
                case nts::KeServerOutcome::PoolSupportSent:
                case nts::KeServerOutcome::PoolKeysIssued:
                case nts::KeServerOutcome::Pending:
                    break;
            }
        });
    }

    template <typename Fn>
    void count(Fn fn) {
        std::lock_guard<std::mutex> lock(mutex);
        fn(counters);
    }

    // The listeners' own counts, folded in when the main thread asks.
    void publish_listener_stats() {
        NtsKeCounters sum;
        for (const auto& s : service->servers()) {
            const io::StreamServerStats& st = s->stats();
            sum.tls_failed += st.tls_failed;
            sum.timed_out += st.timed_out;
            sum.refused += st.refused_connections + st.refused_rate + st.refused_bytes;
        }
        std::lock_guard<std::mutex> lock(mutex);
        listener = sum;
    }

    // The listeners' counters reach the main thread once a second.
    void arm_stats() {
        service->loop().add_timer_after(std::chrono::seconds(1), [this] {
            publish_listener_stats();
            arm_stats();
        });
    }

    nts::KeServerConfig session_config;
    size_t pool_max_sessions;
    size_t kept_alive_open = 0;  // Keep Alive sessions open now
    KeyStoreCookies cookies;
    std::unordered_map<uint64_t, Connection> connections;

    std::mutex mutex;  // guards what follows
    NtsKeCounters counters;
    NtsKeCounters listener;  // tls_failed, timed_out, refused

    // Last: destroyed first, its thread joined while the state above lives.
    std::unique_ptr<StreamService> service;
};

NtsKeService::NtsKeService(const config::NtsKeServerConfig& config,
                           const io::LoopOptions& loop_options, SharedKeyStore& keys,
                           ntp::RandomSource& random, io::RateLimitedLog& log, UnixNow now)
    : config_(config) {
    auto aead = nts::Aead::create(static_cast<uint16_t>(nts::AeadAlgorithm::AesSivCmac256));
    if (!aead) throw std::runtime_error("nts_ke: AES-SIV-CMAC-256 is not available in OpenSSL");
    worker_ = std::make_unique<Worker>(config_, keys, random, std::move(now), std::move(*aead));
    Worker& w = *worker_;
    const std::shared_ptr<io::TlsContext> tls = load_nts_ke_tls(config_);

    StreamService::Handlers h;
    h.on_open = [&w](io::StreamServer& server, uint64_t conn) { w.on_open(server, conn); };
    h.on_data = [&w](uint64_t conn, std::span<const uint8_t> d) { w.on_data(conn, d); };
    h.on_close = [&w](uint64_t conn) { w.on_close(conn); };
    w.service = std::make_unique<StreamService>("nts_ke", config_.listen, loop_options,
                                                limits(config_), tls, std::move(h));
    w.arm_stats();
    log.info(io::LogClass::General, "NTS-KE server: " + std::to_string(config_.listen.size()) +
                                        " listener(s), certificate " + config_.certificate);
    if (config_.pool_enabled()) {
        log.info(io::LogClass::General,
                 "NTS-KE server: NTS pool time source for certificates from " + config_.pool_ca +
                     ", " + std::to_string(w.session_config.pool.tokens.size()) + " token(s)");
    }
}

NtsKeService::~NtsKeService() = default;

void NtsKeService::start() {
    worker_->service->start();
}

std::optional<std::string> NtsKeService::reload_certificate() {
    std::shared_ptr<io::TlsContext> tls;
    try {
        tls = load_nts_ke_tls(config_);
    } catch (const std::exception& e) {
        return std::string(e.what()) + "; keeping the certificate in use";
    }
    worker_->count([](NtsKeCounters& c) { ++c.certificate_reloads; });
    return worker_->service->replace_tls(std::move(tls));
}

NtsKeCounters NtsKeService::counters() const {
    std::lock_guard<std::mutex> lock(worker_->mutex);
    NtsKeCounters c = worker_->counters;
    c.tls_failed = worker_->listener.tls_failed;
    c.timed_out = worker_->listener.timed_out;
    c.refused = worker_->listener.refused;
    return c;
}

}  // namespace nanotime::daemon
