// metrics_service.cpp - the Prometheus exporter on its own thread (see
// metrics_service.hpp).
#include "nanotimed/metrics_service.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "http/http_connection.hpp"
#include "http/router.hpp"
#include "io/stream_server.hpp"
#include "io/tls_session.hpp"
#include "metrics/exposition.hpp"
#include "metrics/metrics_text.hpp"
#include "nanotimed/stream_service.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kIdleTimeout{60'000};  // between requests on one connection

std::shared_ptr<io::TlsContext> load_tls(const config::MetricsConfig& config) {
    if (!config.tls()) return nullptr;
    return load_server_tls("metrics", config.certificate, config.private_key, {"http/1.1"});
}

std::chrono::milliseconds request_timeout(const config::MetricsConfig& c) {
    return std::chrono::milliseconds(static_cast<int64_t>(c.timeout * 1000));
}

io::ListenerLimits listener_limits(const config::MetricsConfig& c) {
    io::ListenerLimits l;
    l.max_connections = c.max_connections;
    // The HTTP connection's deadlines come first (a 408 is clearer than a
    // cut); these catch a TLS handshake that never ends.
    l.request_timeout = request_timeout(c) + 1s;
    l.idle_timeout = kIdleTimeout + 1s;
    l.max_bytes_in_flight = size_t{1} << 20;
    return l;
}

http::Limits http_limits(const config::MetricsConfig& c) {
    http::Limits l;
    l.max_header_bytes = size_t{8} * 1024;
    l.max_body_bytes = size_t{4} * 1024;  // GET has none; the limit only bounds a stray one
    l.max_buffered_bytes = size_t{16} * 1024;
    l.request_timeout = request_timeout(c);
    l.idle_timeout = kIdleTimeout;
    return l;
}

}  // namespace

// Everything the exporter thread owns; the main thread touches only
// latest (atomic).
struct MetricsService::Worker {
    struct Connection {
        io::StreamServer* server;
        std::unique_ptr<http::ServerConnection> http;  // not movable
        bool first_done = false;                       // request_done() told to the StreamServer
    };

    // GET /metrics: the newest published data as text.
    class MetricsHandler final : public http::Handler {
      public:
        explicit MetricsHandler(const Worker& w) : worker_(w) {}
        http::Response handle(const http::Request&) override {
            http::Response r;
            const std::shared_ptr<const metrics::MetricsData> data = worker_.latest.load();
            if (!data) {
                r.status = 503;
                r.body = "nanotimed has not published metrics yet\n";
                return r;
            }
            r.content_type = metrics::kExpositionContentType;
            r.body = metrics::render_metrics(*data);
            return r;
        }

      private:
        const Worker& worker_;
    };

    explicit Worker(const config::MetricsConfig& config) : limits(http_limits(config)) {
        router.add("GET", "/metrics", std::make_shared<MetricsHandler>(*this));
    }

    void on_open(io::StreamServer& server, uint64_t conn) {
        connections.emplace(conn, Connection{&server, std::make_unique<http::ServerConnection>(
                                                          limits, io::MonoClock::now())});
    }

    void on_data(uint64_t conn, std::span<const uint8_t> bytes) {
        auto it = connections.find(conn);
        if (it == connections.end()) return;
        it->second.http->receive(bytes, io::MonoClock::now());
        pump(conn, it->second);
    }

    // Answers what is complete, sends, and closes when the HTTP side says so.
    void pump(uint64_t conn, Connection& c) {
        while (auto request = c.http->next_request()) {
            if (!c.first_done) {
                c.first_done = true;
                c.server->request_done(conn);
            }
            c.http->respond(router.route(*request), io::MonoClock::now());
        }
        const std::string out = c.http->take_output();
        if (!out.empty())
            c.server->send(conn, {reinterpret_cast<const uint8_t*>(out.data()), out.size()});
        // May call on_close at once, which erases c: nothing after it.
        if (c.http->closing()) c.server->close(conn);
    }

    void on_close(uint64_t conn) { connections.erase(conn); }

    // One timer for every connection's HTTP deadline.
    void arm_sweep() {
        const auto period =
            std::clamp<std::chrono::milliseconds>(limits.request_timeout / 10, 10ms, 1000ms);
        service->loop().add_timer_after(period, [this] {
            sweep();
            arm_sweep();
        });
    }

    void sweep() {
        const auto now = io::MonoClock::now();
        std::vector<uint64_t> due;
        for (const auto& [conn, c] : connections) {
            const auto deadline = c.http->deadline();
            if (deadline && *deadline <= now) due.push_back(conn);
        }
        for (const uint64_t conn : due) {
            auto it = connections.find(conn);
            if (it == connections.end() || it->second.http->closing()) continue;
            it->second.http->expire(now);
            pump(conn, it->second);
        }
    }

    http::Limits limits;
    http::Router router;
    std::unordered_map<uint64_t, Connection> connections;
    std::atomic<std::shared_ptr<const metrics::MetricsData>> latest;

    // Last: destroyed first, its thread joined while the state above lives.
    std::unique_ptr<StreamService> service;
};

MetricsService::MetricsService(const config::MetricsConfig& config,
                               const io::LoopOptions& loop_options, io::RateLimitedLog& log)
    : config_(config), worker_(std::make_unique<Worker>(config)) {
    Worker& w = *worker_;
    const std::shared_ptr<io::TlsContext> tls = load_tls(config_);
    StreamService::Handlers h;
    h.on_open = [&w](io::StreamServer& server, uint64_t conn) { w.on_open(server, conn); };
    h.on_data = [&w](uint64_t conn, std::span<const uint8_t> d) { w.on_data(conn, d); };
    h.on_close = [&w](uint64_t conn) { w.on_close(conn); };
    w.service = std::make_unique<StreamService>("metrics", config_.listen, loop_options,
                                                listener_limits(config_), tls, std::move(h));
    for (const ntp::SocketAddress& a : config_.listen) {
        log.info(io::LogClass::General, std::string("serving metrics on ") +
                                            (tls ? "https://" : "http://") + a.to_string() +
                                            "/metrics");
    }
    w.arm_sweep();
}

MetricsService::~MetricsService() = default;

void MetricsService::start() {
    worker_->service->start();
}

void MetricsService::publish(std::shared_ptr<const metrics::MetricsData> data) {
    worker_->latest.store(std::move(data));
}

std::optional<std::string> MetricsService::reload_certificate() {
    if (!config_.tls()) return std::nullopt;
    std::shared_ptr<io::TlsContext> tls;
    try {
        tls = load_tls(config_);
    } catch (const std::exception& e) {
        return std::string(e.what()) + "; keeping the certificate in use";
    }
    return worker_->service->replace_tls(std::move(tls));
}

}  // namespace nanotime::daemon
