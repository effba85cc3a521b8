// broker_service.cpp - the broker on its own thread (see broker_service.hpp).
#include "nanotimed/broker_service.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/broker_api.hpp"
#include "broker/broker_store.hpp"
#include "broker/certificate_authority.hpp"
#include "broker/fleet_metrics.hpp"
#include "broker/subscription_hub.hpp"
#include "http/http_connection.hpp"
#include "io/stream_server.hpp"
#include "io/tls_session.hpp"
#include "metrics/metrics_text.hpp"
#include "nanotimed/stream_service.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::chrono::milliseconds kIdleTimeout{60'000};      // between requests on one connection
constexpr std::chrono::milliseconds kStreamKeepAlive{15'000};  // SSE comment line
constexpr size_t kMaxStreamBacklog = size_t{256} * 1024;       // SSE bytes a client may owe

std::string read_file(const std::string& what, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("broker." + what + " " + path + ": " +
                                 std::generic_category().message(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::shared_ptr<io::TlsContext> load_tls(const config::BrokerConfig& c) {
    io::TlsServerConfig t;
    t.certificate_pem = read_file("certificate", c.certificate);
    t.private_key_pem = read_file("private_key", c.private_key);
    t.client_ca_pem = read_file("ca_certificate", c.ca_certificate);
    t.alpn = {"http/1.1"};
    try {
        return io::TlsContext::server(t);
    } catch (const std::exception& e) {
        throw std::runtime_error("broker: " + c.certificate + " / " + c.private_key + " / " +
                                 c.ca_certificate + ": " + e.what());
    }
}

std::chrono::milliseconds request_timeout(const config::BrokerConfig& c) {
    return std::chrono::milliseconds(static_cast<int64_t>(c.timeout * 1000));
}

io::ListenerLimits listener_limits(const config::BrokerConfig& c) {
    io::ListenerLimits l;
    l.max_connections = c.max_connections;
    // The HTTP connection's deadlines come first (a 408 is clearer than a
    // cut); this catches a TLS handshake that never ends.
    l.request_timeout = request_timeout(c) + 1s;
    // Subscriptions are kept alive by ping/pong, HTTP connections by their
    // own idle deadline; an SSE client sends nothing at all.
    l.idle_timeout = 24h;
    l.max_bytes_in_flight = size_t{64} << 20;
    l.address_table_size = 16384;
    return l;
}

http::Limits http_limits(const config::BrokerConfig& c) {
    http::Limits l;
    l.max_header_bytes = size_t{8} * 1024;
    l.max_body_bytes = size_t{64} * 1024;
    l.max_buffered_bytes = size_t{16} * 1024;
    l.request_timeout = request_timeout(c);
    l.idle_timeout = kIdleTimeout;
    return l;
}

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// One Server-Sent Event: the type and the JSON on one data line.
std::string sse_event(std::string_view type, const json& data) {
    return "event: " + std::string(type) +
           "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace

struct BrokerService::Worker {
    enum class Mode { Http, Subscription, FleetStream, AuditStream };
    struct Connection {
        io::StreamServer* server;
        std::unique_ptr<http::ServerConnection> http;  // not movable
        Mode mode = Mode::Http;
        bool first_done = false;  // request_done() told to the StreamServer
        bool waiting = false;     // a request is with the API (a relay)
        uint64_t generation = 0;  // which request the API's reply is for
    };

    static std::unique_ptr<broker::CertificateAuthority> load_ca(
        const config::BrokerConfig& config) {
        try {
            return std::make_unique<broker::CertificateAuthority>(
                read_file("ca_certificate", config.ca_certificate),
                read_file("ca_key", config.ca_key));
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("broker CA: ") + e.what());
        }
    }

    Worker(const config::BrokerConfig& config, io::RateLimitedLog& l)
        : limits(http_limits(config)),
          log(l),
          store(config.database),
          ca(load_ca(config)),
          hub(store, hub_io(), config.state_interval, [this](const json& e) { on_fleet_event(e); }),
          api(store, ca.get(), hub) {
        broker::add_v1_endpoints(api);
        broker::add_metrics_endpoint(api, fleet, [this] {
            const auto own = own_metrics.load();
            return own ? metrics::render_metrics(*own) : std::string();
        });
        fleet.seed(store.list_members());
        api.on_audit = [this](const broker::AuditEntry& e) {
            broadcast(Mode::AuditStream, "audit", broker::to_json(e));
        };
    }

    void on_fleet_event(const json& e) {
        fleet.observe(e, static_cast<double>(wall_ms()) / 1000);
        const std::string type = e.value("type", "fleet");
        if (type == "member_connected" || type == "member_disconnected") {
            log.info(io::LogClass::General,
                     "broker: " + e.value("member", std::string("?")) +
                         (type == "member_connected"
                              ? " subscribed"
                              : " unsubscribed: " + e.value("reason", std::string("?"))));
        }
        broadcast(Mode::FleetStream, type, e);
    }

    broker::SubscriptionHub::Io hub_io() {
        broker::SubscriptionHub::Io io;
        io.send = [this](uint64_t conn, std::vector<uint8_t> bytes) {
            auto it = connections.find(conn);
            if (it != connections.end()) it->second.server->send(conn, bytes);
        };
        io.close = [this](uint64_t conn) {
            auto it = connections.find(conn);
            if (it != connections.end()) it->second.server->close(conn);
        };
        return io;
    }

    void on_open(io::StreamServer& server, uint64_t conn) {
        connections.emplace(
            conn, Connection{&server,
                             std::make_unique<http::ServerConnection>(limits, io::MonoClock::now()),
                             Mode::Http, false, false, 0});
    }

    void on_data(uint64_t conn, std::span<const uint8_t> bytes) {
        auto it = connections.find(conn);
        if (it == connections.end()) return;
        switch (it->second.mode) {
            case Mode::Subscription:
                hub.receive(conn, bytes, wall_ms());
                return;
            case Mode::FleetStream:
            case Mode::AuditStream:
                return;  // an SSE client has nothing to say
            case Mode::Http:
                it->second.http->receive(bytes, io::MonoClock::now());
                pump(conn);
                return;
        }
    }

    broker::Peer peer_of(const Connection& c, uint64_t conn) const {
        broker::Peer p;
        if (const auto a = c.server->peer_address(conn)) {
            p.address = a->to_string();
            p.host = a->ip.to_string();
        }
        if (const auto cert = c.server->peer_certificate(conn)) {
            p.certificate = broker::ClientCertificate{cert->sha256, cert->subject_common_name,
                                                      cert->verified, cert->verify_error};
        }
        return p;
    }

    // Hands complete requests to the API, sends, and closes when the HTTP
    // side says so.
    void pump(uint64_t conn) {
        auto it = connections.find(conn);
        while (it != connections.end() && it->second.mode == Mode::Http && !it->second.waiting) {
            Connection& c = it->second;
            auto request = c.http->next_request();
            if (!request) break;
            if (!c.first_done) {
                c.first_done = true;
                c.server->request_done(conn);
            }
            c.waiting = true;
            const uint64_t generation = ++reply_generation;
            c.generation = generation;
            api.handle(*request, peer_of(c, conn), wall_ms(),
                       [this, conn, generation](const broker::Reply& reply) {
                           deliver(conn, generation, reply);
                       });
            it = connections.find(conn);
        }
        flush(conn);
    }

    // The API's answer to @conn's request in flight (now or later).
    void deliver(uint64_t conn, uint64_t generation, const broker::Reply& reply) {
        auto it = connections.find(conn);
        if (it == connections.end() || it->second.generation != generation) return;
        Connection& c = it->second;
        c.waiting = false;
        const auto now = io::MonoClock::now();
        switch (reply.after) {
            case broker::After::Respond:
                c.http->respond(reply.response, now);
                flush(conn);
                pump(conn);
                return;
            case broker::After::Subscribe: {
                const std::string leftover = c.http->hand_over(reply.response);
                c.mode = Mode::Subscription;
                flush(conn);
                hub.open(conn, reply.member, wall_ms());
                if (!leftover.empty()) hub.receive(conn, as_bytes(leftover), wall_ms());
                return;
            }
            case broker::After::StreamFleet:
            case broker::After::StreamAudit:
                c.http->hand_over(reply.response);
                c.mode = reply.after == broker::After::StreamFleet ? Mode::FleetStream
                                                                   : Mode::AuditStream;
                streams(c.mode).insert(conn);
                flush(conn);
                send_text(conn, ": nanotime broker stream\n\n");
                return;
        }
    }

    void flush(uint64_t conn) {
        auto it = connections.find(conn);
        if (it == connections.end()) return;
        Connection& c = it->second;
        const std::string out = c.http->take_output();
        if (!out.empty()) c.server->send(conn, as_bytes(out));
        // May call on_close at once, which erases c: nothing after it.
        if (c.mode == Mode::Http && c.http->closing()) c.server->close(conn);
    }

    void send_text(uint64_t conn, const std::string& text) {
        auto it = connections.find(conn);
        if (it == connections.end()) return;
        // A client that does not read its stream is cut, not buffered for.
        if (it->second.server->queued_bytes(conn) > kMaxStreamBacklog) {
            it->second.server->close(conn);
            return;
        }
        it->second.server->send(conn, as_bytes(text));
    }

    void broadcast(Mode mode, const std::string& type, const json& data) {
        // A copy: send_text may close a stream, which changes the set.
        const std::vector<uint64_t> targets(streams(mode).begin(), streams(mode).end());
        if (targets.empty()) return;  // nobody follows: no text to make
        const std::string text = sse_event(type, data);
        for (const uint64_t conn : targets) send_text(conn, text);
    }

    void on_close(uint64_t conn) {
        auto it = connections.find(conn);
        if (it == connections.end()) return;
        const bool subscribed = it->second.mode == Mode::Subscription;
        if (it->second.mode == Mode::FleetStream || it->second.mode == Mode::AuditStream)
            streams(it->second.mode).erase(conn);
        connections.erase(it);
        if (subscribed) hub.closed(conn, wall_ms());
    }

    // One timer: HTTP deadlines, the hub's pings and relay timeouts, SSE keep-alives.
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
            if (c.mode != Mode::Http) continue;
            const auto deadline = c.http->deadline();
            if (deadline && *deadline <= now) due.push_back(conn);
        }
        for (const uint64_t conn : due) {
            auto it = connections.find(conn);
            if (it == connections.end() || it->second.http->closing()) continue;
            it->second.http->expire(now);
            flush(conn);
        }
        hub.tick(wall_ms());
        if (now >= next_keep_alive) {
            next_keep_alive = now + kStreamKeepAlive;
            std::vector<uint64_t> targets(fleet_streams.begin(), fleet_streams.end());
            targets.insert(targets.end(), audit_streams.begin(), audit_streams.end());
            for (const uint64_t conn : targets) send_text(conn, ": keep-alive\n\n");
        }
    }

    http::Limits limits;
    io::RateLimitedLog& log;
    broker::BrokerStore store;
    std::unique_ptr<broker::CertificateAuthority> ca;
    broker::SubscriptionHub hub;
    broker::BrokerApi api;
    broker::FleetMetrics fleet;
    // The daemon's own metrics, published by the main thread once a second.
    std::atomic<std::shared_ptr<const metrics::MetricsData>> own_metrics;
    std::unordered_map<uint64_t, Connection> connections;
    // The SSE connections apart, so that a fleet event (one per member
    // state) does not walk every member's connection to find them.
    std::unordered_set<uint64_t> fleet_streams;
    std::unordered_set<uint64_t> audit_streams;
    std::unordered_set<uint64_t>& streams(Mode mode) {
        return mode == Mode::FleetStream ? fleet_streams : audit_streams;
    }
    uint64_t reply_generation = 0;
    io::MonoClock::time_point next_keep_alive{};

    // Last: destroyed first, its thread joined while the state above lives.
    std::unique_ptr<StreamService> service;
};

BrokerService::BrokerService(const config::BrokerConfig& config,
                             const io::LoopOptions& loop_options, io::RateLimitedLog& log)
    : config_(config), worker_(std::make_unique<Worker>(config, log)) {
    Worker& w = *worker_;
    const std::shared_ptr<io::TlsContext> tls = load_tls(config_);
    StreamService::Handlers h;
    h.on_open = [&w](io::StreamServer& server, uint64_t conn) { w.on_open(server, conn); };
    h.on_data = [&w](uint64_t conn, std::span<const uint8_t> d) { w.on_data(conn, d); };
    h.on_close = [&w](uint64_t conn) { w.on_close(conn); };
    w.service = std::make_unique<StreamService>("broker", config_.listen, loop_options,
                                                listener_limits(config_), tls, std::move(h));
    for (const ntp::SocketAddress& a : config_.listen) {
        log.info(io::LogClass::General, "serving the broker API on https://" + a.to_string() +
                                            "/v1 (database " + config_.database + ")");
    }
    w.arm_sweep();
}

BrokerService::~BrokerService() = default;

void BrokerService::start() {
    worker_->service->start();
}

void BrokerService::publish(std::shared_ptr<const metrics::MetricsData> data) {
    worker_->own_metrics.store(std::move(data));
}

std::optional<std::string> BrokerService::reload_certificate() {
    std::shared_ptr<io::TlsContext> tls;
    try {
        tls = load_tls(config_);
    } catch (const std::exception& e) {
        return std::string(e.what()) + "; keeping the certificate in use";
    }
    return worker_->service->replace_tls(std::move(tls));
}

int mint_broker_token(const config::BrokerConfig& config, const std::string& name,
                      const std::string& role_name, std::ostream& out, std::ostream& err) {
    const auto role = broker::role_from_string(role_name);
    if (!role || *role == broker::Role::Member) {
        err << "nanotimed: --broker-role must be monitor, operator or admin, not '" << role_name
            << "'\n";
        return 2;
    }
    if (!broker::is_valid_subject_name(name)) {
        err << "nanotimed: --broker-token NAME must be 1 to 64 characters of [A-Za-z0-9._-]\n";
        return 2;
    }
    try {
        broker::BrokerStore store(config.database);
        const int64_t now_ms = wall_ms();
        const auto t = store.create_token(name, *role, std::nullopt, "bootstrap", now_ms / 1000);
        broker::AuditEntry e;
        e.time_ms = now_ms;
        e.actor = "bootstrap";
        e.source = "command line";
        e.action = "nanotimed --broker-token";
        e.target = "token:" + std::to_string(t.info.id);
        e.result = "ok";
        e.status = 201;
        store.append_audit(e);
        out << t.token << "\n";
        err << "nanotimed: " << role_name << " token " << t.info.id << " ('" << name
            << "') added to " << config.database << "; it is shown only this once\n";
        return 0;
    } catch (const std::exception& e) {
        err << "nanotimed: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace nanotime::daemon
