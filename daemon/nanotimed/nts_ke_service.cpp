// nts_ke_service.cpp - the NTS-KE server on its own thread (see
// nts_ke_service.hpp).
#include "nanotimed/nts_ke_service.hpp"

#include <sys/socket.h>
#include <unistd.h>

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
    return k;
}

io::ListenerLimits limits(const config::NtsKeServerConfig& c) {
    io::ListenerLimits l;
    l.max_connections = c.max_connections;
    l.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(c.timeout * 1000));
    // One request per connection: the session closes after its response.
    l.idle_timeout = l.request_timeout;
    l.address_rate = c.address_rate;
    l.address_burst = c.address_burst;
    return l;
}

}  // namespace

std::shared_ptr<io::TlsContext> load_nts_ke_tls(const config::NtsKeServerConfig& config) {
    return load_server_tls("nts_ke", config.certificate, config.private_key, {"ntske/1"});
}

// Everything the KE thread owns. The main thread touches only the fields
// under @mutex.
struct NtsKeService::Worker {
    struct Connection {
        io::StreamServer* server;
        std::unique_ptr<nts::KeServerSession> session;
        bool responded = false;
    };

    Worker(const config::NtsKeServerConfig& config, SharedKeyStore& keys, ntp::RandomSource& random,
           UnixNow now, nts::Aead aead)
        : session_config(daemon::session_config(config)),
          cookies(keys, random, std::move(now), std::move(aead)) {}

    void on_open(io::StreamServer& server, uint64_t conn) {
        auto exporter = [&server, conn](std::string_view label, std::span<const uint8_t> context,
                                        size_t length) {
            return server.export_keying_material(conn, label, context, length);
        };
        connections[conn] = Connection{
            &server, std::make_unique<nts::KeServerSession>(session_config, exporter, cookies)};
        count([](NtsKeCounters& c) { ++c.accepted; });
    }

    void on_data(uint64_t conn, std::span<const uint8_t> plaintext) {
        auto it = connections.find(conn);
        if (it == connections.end() || it->second.responded) return;
        Connection& c = it->second;
        nts::KeServerAction action = c.session->feed(plaintext);
        if (!action.write.empty()) c.server->send(conn, action.write);
        if (action.close_after_write) {
            c.responded = true;
            record(*c.session);
            io::StreamServer* server = c.server;
            server->request_done(conn);
            // May call on_close at once, which erases c: nothing after it
            // touches the connection.
            server->close(conn);
        }
    }

    void on_close(uint64_t conn) { connections.erase(conn); }

    void record(const nts::KeServerSession& s) {
        count([&s](NtsKeCounters& c) {
            switch (s.outcome()) {
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
                    if (s.error_code() == nts::KeErrorCode::UnrecognizedCriticalRecord)
                        ++c.unrecognized_critical;
                    else if (s.error_code() == nts::KeErrorCode::BadRequest)
                        ++c.bad_request;
                    else
                        ++c.internal_error;
                    break;
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
