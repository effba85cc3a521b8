// config.cpp - nanotimed's TOML configuration read into typed sections, strictly
// (see config.hpp); one parse_* function per section.
#include "config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "algorithm/constants.hpp"
#include "config/non_ascii.hpp"
#include "config/toml_checker.hpp"
#include "net/socket_address.hpp"
#include "nts/aead.hpp"
#include "nts/ke_pool_records.hpp"
#include "server/access_list.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::config {
namespace {

void parse_sources(Checker& c, const toml::table& root, Config& cfg) {
    const toml::node* n = root.get("source");
    if (n == nullptr) return;
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
        c.error(n->source(), "source: expected an array of tables ([[source]])");
        return;
    }
    for (const toml::node& e : *arr) {
        const toml::table& t = *e.as_table();
        c.only(t, "[[source]]",
               {"server", "pool", "port", "minpoll", "maxpoll", "iburst", "xleave", "max_sources",
                "nts", "nts_port", "trust"});
        SourceEntry s;
        if (t.source().path) s.file = *t.source().path;
        s.line = t.source().begin.line;
        std::string server, pool;
        c.string(t, "server", "source", server);
        c.string(t, "pool", "source", pool);
        if (server.empty() == pool.empty()) {
            c.error(t.source(), "[[source]] needs exactly one of 'server' or 'pool'");
        }
        s.kind = pool.empty() ? SourceKind::Server : SourceKind::Pool;
        s.address = pool.empty() ? server : pool;
        const bool control = std::any_of(s.address.begin(), s.address.end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
        });
        if (s.address.size() > 253 || control ||
            s.address.find_first_of(" /\"\\") != std::string::npos) {
            c.error(t.source(), "[[source]] '" + s.address + "' is not a host name or address");
        }
        c.integer(t, "port", "source", s.port, 1, 65535);
        // 3-17: RFC 5905 MINPOLL is 4, 3 allows 8 s polls on a LAN (kMinPoll).
        c.integer(t, "minpoll", "source", s.source.minpoll, ntp::kMinPoll, ntp::kMaxPoll);
        c.integer(t, "maxpoll", "source", s.source.maxpoll, ntp::kMinPoll, ntp::kMaxPoll);
        c.boolean(t, "iburst", "source", s.source.iburst);
        c.boolean(t, "xleave", "source", s.source.xleave);
        c.boolean(t, "trust", "source", s.source.trust);
        if (t.get("max_sources") != nullptr && s.kind != SourceKind::Pool) {
            c.error(t.get("max_sources")->source(),
                    "source.max_sources applies to 'pool' sources only");
        }
        c.integer(t, "max_sources", "source", s.max_sources, 1, 16);
        c.boolean(t, "nts", "source", s.nts);
        if (t.get("nts_port") != nullptr && !s.nts) {
            c.error(t.get("nts_port")->source(), "source.nts_port applies to 'nts = true' only");
        }
        c.integer(t, "nts_port", "source", s.nts_port, 1, 65535);
        if (s.nts) s.source.nts_ke_port = s.nts_port;
        if (s.nts && s.source.xleave) {
            // RFC 8915 §5.7 allows it, but a cookie per request cannot be
            // re-sent, and an interleaved exchange spans two requests.
            c.error(t.source(), "[[source]] nts and xleave cannot be combined");
        }
        if (s.source.minpoll > s.source.maxpoll) {
            c.error(t.source(), "[[source]] minpoll (" + std::to_string(s.source.minpoll) +
                                    ") exceeds maxpoll (" + std::to_string(s.source.maxpoll) + ")");
        }
        cfg.sources.push_back(std::move(s));
    }
}

// The reference ID of a refclock: 1-4 printable ASCII characters, packed
// left-aligned as NTP carries them ("GPS" -> 'G','P','S',0).
std::optional<uint32_t> pack_refid(const std::string& text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    uint32_t id = 0;
    for (size_t i = 0; i < 4; ++i) {
        const unsigned char ch = i < text.size() ? static_cast<unsigned char>(text[i]) : 0;
        if (i < text.size() && (ch < 0x21 || ch > 0x7e)) return std::nullopt;
        id = (id << 8) | ch;
    }
    return id;
}

void parse_refclocks(Checker& c, const toml::table& root, Config& cfg) {
    const toml::node* n = root.get("refclock");
    if (n == nullptr) return;
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
        c.error(n->source(), "refclock: expected an array of tables ([[refclock]])");
        return;
    }
    for (const toml::node& e : *arr) {
        const toml::table& t = *e.as_table();
        c.only(t, "[[refclock]]",
               {"driver", "path", "unit", "edge", "lock", "refid", "poll", "filter", "offset",
                "delay", "precision", "prefer", "noselect", "trust", "nocrossts"});
        RefclockEntry r;
        r.line = t.source().begin.line;
        if (t.get("driver") == nullptr) {
            c.error(t.source(),
                    "[[refclock]] needs 'driver' (\"sock\", \"shm\", \"pps\" or \"phc\")");
        }
        c.choice(t, "driver", "refclock", r.driver,
                 {{"sock", RefclockDriver::Sock},
                  {"shm", RefclockDriver::Shm},
                  {"pps", RefclockDriver::Pps},
                  {"phc", RefclockDriver::Phc}});
        c.string(t, "path", "refclock", r.path);
        c.integer(t, "unit", "refclock", r.unit, 0, 3);
        c.choice(t, "edge", "refclock", r.edge,
                 {{"assert", PpsEdgeKind::Assert}, {"clear", PpsEdgeKind::Clear}});
        c.string(t, "lock", "refclock", r.lock);
        c.boolean(t, "nocrossts", "refclock", r.nocrossts);
        ntp::RefclockConfig& rc = r.refclock;
        c.integer(t, "poll", "refclock", rc.poll, 0, 10);
        c.integer(t, "filter", "refclock", rc.filter, 1, 1024);
        c.number(t, "offset", "refclock", rc.offset, -1.0, 1.0);
        c.number(t, "delay", "refclock", rc.delay, 1e-9, 1.0);
        c.integer(t, "precision", "refclock", rc.precision, -30, 0);
        c.boolean(t, "prefer", "refclock", rc.prefer);
        c.boolean(t, "noselect", "refclock", rc.noselect);
        c.boolean(t, "trust", "refclock", rc.trust);
        rc.pulse = r.driver == RefclockDriver::Pps;
        const char* driver_name = to_string(r.driver);
        if (r.driver == RefclockDriver::Shm) {
            if (t.get("path") != nullptr)
                c.error(t.get("path")->source(),
                        "refclock.path applies to drivers \"sock\", \"pps\" and \"phc\" only");
            if (t.get("unit") == nullptr)
                c.error(t.source(), "[[refclock]] driver \"shm\" needs 'unit' (segment 0-3)");
        } else {
            if (r.path.empty() || r.path.front() != '/') {
                c.error(t.source(),
                        std::string("[[refclock]] driver \"") + driver_name +
                            "\" needs 'path', an absolute path " +
                            (r.driver == RefclockDriver::Sock ? "for the socket nanotimed creates"
                             : r.driver == RefclockDriver::Pps
                                 ? "of the PPS device (\"/dev/pps0\")"
                                 : "of the PTP hardware clock (\"/dev/ptp0\")"));
            } else if (r.driver == RefclockDriver::Sock && r.path.size() >= 108) {
                c.error(t.get("path")->source(),  // sockaddr_un.sun_path
                        "refclock.path is too long for a Unix socket");
            }
            if (t.get("unit") != nullptr)
                c.error(t.get("unit")->source(), "refclock.unit applies to driver \"shm\" only");
        }
        if (r.driver != RefclockDriver::Pps) {
            for (const char* key : {"edge", "lock"}) {
                if (t.get(key) != nullptr)
                    c.error(t.get(key)->source(),
                            std::string("refclock.") + key + " applies to driver \"pps\" only");
            }
        }
        if (r.driver != RefclockDriver::Phc && t.get("nocrossts") != nullptr)
            c.error(t.get("nocrossts")->source(),
                    "refclock.nocrossts applies to driver \"phc\" only");
        r.refid = t.get("refid") != nullptr          ? std::string{}
                  : r.driver == RefclockDriver::Sock ? "SOCK"
                  : r.driver == RefclockDriver::Pps  ? "PPS"
                  : r.driver == RefclockDriver::Phc  ? "PHC"
                                                     : "SHM" + std::to_string(r.unit);
        c.string(t, "refid", "refclock", r.refid);
        if (const auto id = pack_refid(r.refid)) {
            rc.reference_id = *id;
        } else {
            c.error(t.get("refid") != nullptr ? t.get("refid")->source() : t.source(),
                    "refclock.refid must be 1 to 4 printable ASCII characters, not \"" + r.refid +
                        "\"");
        }
        for (const RefclockEntry& other : cfg.refclocks) {
            const bool same =
                other.driver == r.driver &&
                (r.driver == RefclockDriver::Shm ? other.unit == r.unit : other.path == r.path);
            if (same) {
                c.error(t.source(),
                        "[[refclock]] " +
                            (r.driver == RefclockDriver::Shm ? "SHM unit " + std::to_string(r.unit)
                                                             : "path '" + r.path + "'") +
                            " is configured twice (line " + std::to_string(other.line) + ")");
            }
        }
        cfg.refclocks.push_back(std::move(r));
    }
    // `lock` names another refclock that gives full time (not a pulse).
    for (RefclockEntry& r : cfg.refclocks) {
        if (r.lock.empty()) continue;
        const RefclockEntry* target = nullptr;
        size_t named = 0;
        for (const RefclockEntry& other : cfg.refclocks) {
            if (&other == &r || other.refid != r.lock) continue;
            target = &other;
            ++named;
        }
        const toml::node* at = arr->get(static_cast<size_t>(&r - cfg.refclocks.data()));
        const toml::source_region where = at->as_table()->get("lock") != nullptr
                                              ? at->as_table()->get("lock")->source()
                                              : at->source();
        if (named > 1) {
            c.error(where, "refclock.lock \"" + r.lock + "\" names " + std::to_string(named) +
                               " refclocks: give them distinct refids");
        } else if (target == nullptr) {
            c.error(where,
                    "refclock.lock \"" + r.lock + "\" is not the refid of another [[refclock]]");
        } else if (target->driver == RefclockDriver::Pps) {
            c.error(where, "refclock.lock \"" + r.lock +
                               "\" is a pulse itself: lock to a refclock that gives the time "
                               "(sock, shm or phc)");
        } else {
            r.refclock.lock = target->refclock.reference_id;
        }
    }
}

// @section.listen: IP addresses with an optional :port (@default_port).
void listen_addresses(Checker& c, const toml::table& t, const char* section, uint16_t default_port,
                      std::vector<ntp::SocketAddress>& out) {
    std::vector<std::string> texts;
    c.strings(t, "listen", section, texts,
              [&](const std::string& v, const toml::source_region& at) {
                  // Port 0 would bind a port nobody knows.
                  const auto address = ntp::SocketAddress::parse(v, default_port);
                  if (!address || address->port == 0) {
                      c.error(at, std::string(section) + ".listen: '" + v +
                                      "' is not an IP address with an optional :port");
                      return false;
                  }
                  out.push_back(*address);
                  return true;
              });
}

void parse_server(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "server", "");
    if (t == nullptr) return;
    c.only(*t, "[server]", {"listen", "allow", "deny", "workers", "interleaved", "rate_limit"});
    ntp::ServerConfig& s = cfg.server;
    c.integer(*t, "workers", "server", s.workers, 1, 64);
    c.boolean(*t, "interleaved", "server", s.interleaved);
    listen_addresses(c, *t, "server", 123, s.listen);
    std::vector<std::string> texts;
    size_t allow_rules = 0;
    auto cidr = [&](const char* key, ntp::AccessRule rule) {
        return [&, key, rule](const std::string& v, const toml::source_region& at) {
            const auto parsed = ntp::Cidr::parse(v);
            if (!parsed) {
                c.error(at, std::string("server.") + key + ": '" + v +
                                "' is not an address or CIDR prefix");
                return false;
            }
            s.access.add(*parsed, rule);
            allow_rules += rule == ntp::AccessRule::Allow;
            return true;
        };
    };
    c.strings(*t, "allow", "server", texts, cidr("allow", ntp::AccessRule::Allow));
    c.strings(*t, "deny", "server", texts, cidr("deny", ntp::AccessRule::Deny));
    if (const toml::table* r = c.table(*t, "rate_limit", "server")) {
        c.only(*r, "[server.rate_limit]",
               {"enabled", "interval", "burst", "kod_interval", "memory", "ipv6_prefix"});
        ntp::RateLimitConfig rl;
        bool enabled = true;
        double interval = ntp::to_seconds(rl.interval);
        double kod_interval = ntp::to_seconds(rl.kod_interval);
        unsigned burst = static_cast<unsigned>(rl.burst);
        c.boolean(*r, "enabled", "server.rate_limit", enabled);
        c.number(*r, "interval", "server.rate_limit", interval, 0.001, 3600);
        c.integer(*r, "burst", "server.rate_limit", burst, 1, 1024);
        c.number(*r, "kod_interval", "server.rate_limit", kod_interval, 0, 86400);
        c.integer(*r, "memory", "server.rate_limit", rl.memory_bytes, 4096, 256 << 20);
        c.integer(*r, "ipv6_prefix", "server.rate_limit", rl.ipv6_prefix, 32, 128);
        rl.interval = ntp::from_seconds(interval);
        rl.kod_interval = ntp::from_seconds(kod_interval);
        rl.burst = burst;
        s.rate_limit.reset();
        if (enabled) s.rate_limit = rl;
    }
    if (!s.listen.empty() && allow_rules == 0) {
        c.error(t->source(), "[server] listens but 'allow' is empty: it would answer nobody");
    }
}

void parse_nts_ke(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "nts_ke", "");
    if (t == nullptr) return;
    c.only(*t, "[nts_ke]",
           {"listen", "certificate", "private_key", "max_connections", "timeout", "address_rate",
            "address_burst", "ntp_server", "ntp_port", "pool_ca", "pool_tokens", "pool_token_file",
            "pool_max_requests", "pool_idle_timeout", "pool_max_sessions"});
    NtsKeServerConfig& k = cfg.nts_ke;
    listen_addresses(c, *t, "nts_ke", 4460, k.listen);
    c.string(*t, "certificate", "nts_ke", k.certificate);
    c.string(*t, "private_key", "nts_ke", k.private_key);
    c.integer(*t, "max_connections", "nts_ke", k.max_connections, 1, 100000);
    c.number(*t, "timeout", "nts_ke", k.timeout, 0.05, 60);
    c.number(*t, "address_rate", "nts_ke", k.address_rate, 0.001, 100000);
    c.integer(*t, "address_burst", "nts_ke", k.address_burst, 1, 100000);
    c.string(*t, "ntp_server", "nts_ke", k.ntp_server);
    c.integer(*t, "ntp_port", "nts_ke", k.ntp_port, 0, 65535);
    if (k.ntp_server.size() > 255 || k.ntp_server.find_first_of(" \t/") != std::string::npos) {
        c.error(t->source(),
                "nts_ke.ntp_server '" + k.ntp_server + "' is not a host name or address");
    }
    if (k.enabled() && (k.certificate.empty() || k.private_key.empty())) {
        c.error(t->source(), "[nts_ke] listens but has no certificate or private_key");
    }
    c.string(*t, "pool_ca", "nts_ke", k.pool_ca);
    c.strings(*t, "pool_tokens", "nts_ke", k.pool_tokens,
              [&c](const std::string& token, const toml::source_region& where) {
                  if (nts::valid_authentication_token(token)) return true;
                  c.error(where,
                          "nts_ke.pool_tokens: a token must be 1-256 printable ASCII "
                          "characters without spaces");
                  return false;
              });
    c.string(*t, "pool_token_file", "nts_ke", k.pool_token_file);
    c.integer(*t, "pool_max_requests", "nts_ke", k.pool_max_requests, 1, 1000000);
    c.number(*t, "pool_idle_timeout", "nts_ke", k.pool_idle_timeout, 1, 86400);
    c.integer(*t, "pool_max_sessions", "nts_ke", k.pool_max_sessions, 0, 100000);
    if (k.pool_enabled() && k.pool_tokens.empty() && k.pool_token_file.empty()) {
        c.error(t->source(),
                "[nts_ke] pool_ca is set but there is no pool_tokens or "
                "pool_token_file: the pool could not authenticate");
    }
    if (!k.pool_enabled() && (!k.pool_tokens.empty() || !k.pool_token_file.empty())) {
        c.error(t->source(),
                "[nts_ke] pool tokens without pool_ca: tokens alone do not "
                "authenticate a pool");
    }
}

void parse_metrics(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "metrics", "");
    if (t == nullptr) return;
    c.only(*t, "[metrics]", {"listen", "certificate", "private_key", "max_connections", "timeout"});
    MetricsConfig& m = cfg.metrics;
    listen_addresses(c, *t, "metrics", 9975, m.listen);
    c.string(*t, "certificate", "metrics", m.certificate);
    c.string(*t, "private_key", "metrics", m.private_key);
    c.integer(*t, "max_connections", "metrics", m.max_connections, 1, 10000);
    c.number(*t, "timeout", "metrics", m.timeout, 0.05, 300);
    if (m.certificate.empty() != m.private_key.empty()) {
        c.error(t->source(),
                "[metrics] needs both certificate and private_key for TLS, or neither");
    }
}

void parse_broker(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "broker", "");
    if (t == nullptr) return;
    c.only(*t, "[broker]",
           {"listen", "certificate", "private_key", "database", "ca_certificate", "ca_key",
            "max_connections", "timeout", "state_interval"});
    BrokerConfig& b = cfg.broker;
    listen_addresses(c, *t, "broker", 4461, b.listen);
    c.string(*t, "certificate", "broker", b.certificate);
    c.string(*t, "private_key", "broker", b.private_key);
    c.string(*t, "database", "broker", b.database);
    c.string(*t, "ca_certificate", "broker", b.ca_certificate);
    c.string(*t, "ca_key", "broker", b.ca_key);
    c.integer(*t, "max_connections", "broker", b.max_connections, 1, 100000);
    c.number(*t, "timeout", "broker", b.timeout, 0.05, 300);
    c.integer(*t, "state_interval", "broker", b.state_interval, 1, 3600);
    for (const char* key : {"certificate", "private_key", "database", "ca_certificate", "ca_key"}) {
        const toml::node* n = t->get(key);
        if (n == nullptr) continue;
        const auto* v = n->as_string();
        if (v != nullptr && v->get().empty()) {
            c.error(n->source(), std::string("broker.") + key + " must not be empty");
        }
    }
}

// "https://host[:port][/]": the broker's address. Anything else (another
// scheme, a path, user info, a query) is refused rather than ignored.
bool parse_broker_url(const std::string& url, std::string& host, uint16_t& port) {
    constexpr std::string_view kScheme = "https://";
    if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
    std::string rest = url.substr(kScheme.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string::npos) return false;
    std::string port_text;
    bool has_port = false;
    if (rest.front() == '[') {
        const size_t close = rest.find(']');
        if (close == std::string::npos || close == 1) return false;
        host = rest.substr(1, close - 1);
        const std::string after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            has_port = true;
            port_text = after.substr(1);
        }
    } else {
        const size_t colon = rest.find(':');
        host = rest.substr(0, colon);
        has_port = colon != std::string::npos;
        if (has_port) port_text = rest.substr(colon + 1);
        if (host.empty() || host.size() > 253) return false;
    }
    if (has_port) {
        if (port_text.empty()) return false;
        if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
            return false;
        const unsigned long p = std::stoul(port_text);
        if (p == 0 || p > 65535) return false;
        port = static_cast<uint16_t>(p);
    }
    return true;
}

void parse_broker_client(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "broker_client", "");
    if (t == nullptr) return;
    c.only(
        *t, "[broker_client]",
        {"url", "certificate", "private_key", "trusted_ca", "state_interval", "allow_management"});
    BrokerClientConfig& b = cfg.broker_client;
    c.string(*t, "url", "broker_client", b.url);
    c.string(*t, "certificate", "broker_client", b.certificate);
    c.string(*t, "private_key", "broker_client", b.private_key);
    c.string(*t, "trusted_ca", "broker_client", b.trusted_ca);
    c.number(*t, "state_interval", "broker_client", b.state_interval, 0, 3600);
    if (b.state_interval > 0 && b.state_interval < 1) {
        c.error(t->get("state_interval")->source(),
                "broker_client.state_interval must be 0 (the broker's) or 1 to 3600 s");
    }
    c.boolean(*t, "allow_management", "broker_client", b.allow_management);
    if (const toml::node* u = t->get("url");
        u != nullptr && u->is_string() && !parse_broker_url(b.url, b.host, b.port)) {
        c.error(u->source(), "broker_client.url '" + b.url +
                                 "' is not https://host[:port] (no path, user or query)");
    }
    if (b.enabled() && (b.certificate.empty() || b.private_key.empty())) {
        c.error(t->source(),
                "[broker_client] has a url but no certificate or private_key (the member "
                "certificate the broker issued)");
    }
    if (!b.enabled() && t->size() > 0) {
        c.error(t->source(), "[broker_client] has no url: say which broker to subscribe to");
    }
}

void parse_nts(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "nts", "");
    if (t == nullptr) return;
    c.only(*t, "[nts]",
           {"trusted_ca", "certificate_time_check", "key_file", "key_rotation", "previous_keys",
            "aead_algorithms"});
    NtsConfig& n = cfg.nts;
    c.string(*t, "trusted_ca", "nts", n.trusted_ca);
    c.choice(*t, "certificate_time_check", "nts", n.certificate_time_check,
             {{"always", CertificateTimeCheck::Always},
              {"after_sync", CertificateTimeCheck::AfterSync}});
    c.string(*t, "key_file", "nts", n.key_file);
    // The key file's own limits (nts/key_store.hpp): 60 s .. 7 days, 0..16.
    c.number(*t, "key_rotation", "nts", n.key_rotation, 0, 604800);
    if (n.key_rotation > 0 && n.key_rotation < 60) {
        c.error(t->get("key_rotation")->source(),
                "nts.key_rotation must be 0 (keys from another host) or 60 to 604800 s");
    }
    c.integer(*t, "previous_keys", "nts", n.previous_keys, 0, 16);
    std::vector<std::string> names;
    std::vector<uint16_t> ids;
    c.strings(*t, "aead_algorithms", "nts", names,
              [&](const std::string& v, const toml::source_region& at) {
                  const auto id = nts::aead_from_name(v);
                  if (!id) {
                      c.error(at, "nts.aead_algorithms: '" + v +
                                      "' is not \"AES-128-GCM-SIV\" or \"AES-SIV-CMAC-256\"");
                      return false;
                  }
                  if (std::find(ids.begin(), ids.end(), *id) != ids.end()) {
                      c.error(at, "nts.aead_algorithms: '" + v + "' twice");
                      return false;
                  }
                  ids.push_back(*id);
                  return true;
              });
    if (const toml::node* list = t->get("aead_algorithms"); list != nullptr && list->is_array()) {
        if (list->as_array()->empty()) {
            c.error(list->source(), "nts.aead_algorithms: at least one algorithm");
        } else if (!ids.empty()) {
            n.aead_algorithms = ids;
        }
    }
}

void parse_clock(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "clock", "");
    if (t == nullptr) return;
    c.only(*t, "[clock]",
           {"backend", "device", "adjust", "steer_realtime", "step_threshold", "panic_threshold",
            "makestep_threshold", "makestep_limit", "max_frequency", "max_slew_rate", "drift_file",
            "leap_seconds_file"});
    ClockConfig& k = cfg.clock;
    c.choice(*t, "backend", "clock", k.backend,
             {{"system", ClockBackendKind::System}, {"nanoclock", ClockBackendKind::Nanoclock}});
    c.string(*t, "device", "clock", k.device);
    c.boolean(*t, "adjust", "clock", k.adjust);
    c.boolean(*t, "steer_realtime", "clock", k.steer_realtime);
    c.number(*t, "step_threshold", "clock", k.step_threshold, 0, 1e6);
    c.number(*t, "panic_threshold", "clock", k.panic_threshold, 0, 1e9);
    c.number(*t, "makestep_threshold", "clock", k.makestep_threshold, 0, 1e6);
    c.integer(*t, "makestep_limit", "clock", k.makestep_limit, -1, 1000000);
    c.number(*t, "max_frequency", "clock", k.max_frequency_ppm, 1, 100000);
    c.number(*t, "max_slew_rate", "clock", k.max_slew_rate_ppm, 1, 100000);
    c.string(*t, "drift_file", "clock", k.drift_file);
    c.string(*t, "leap_seconds_file", "clock", k.leap_seconds_file);
    if (k.backend == ClockBackendKind::Nanoclock && (k.device.empty() || k.device.front() != '/')) {
        c.error(t->source(), "clock.device must be an absolute path for the nanoclock backend");
    }
    if (k.panic_threshold != 0 && k.panic_threshold < k.step_threshold) {
        c.error(t->source(), "clock.panic_threshold is below clock.step_threshold");
    }
    for (const std::string* p : {&k.drift_file, &k.leap_seconds_file}) {
        if (!p->empty() && p->front() != '/')
            c.error(t->source(), "clock: '" + *p + "' is not an absolute path");
    }
}

void parse_pps(Checker& c, const toml::table& root, Config& cfg) {
    const toml::node* n = root.get("pps");
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
        c.error(n->source(), "pps: expected an array of tables ([[pps]])");
        return;
    }
    for (const toml::node& e : *a) {
        const toml::table& t = *e.as_table();
        c.only(t, "[[pps]]", {"source", "device", "edge", "offset", "time", "frequency"});
        PpsConfig p;
        p.line = t.source().begin.line;
        c.string(t, "source", "pps", p.source);
        c.string(t, "device", "pps", p.device);
        c.choice(t, "edge", "pps", p.edge,
                 {{"assert", PpsEdgeKind::Assert}, {"clear", PpsEdgeKind::Clear}});
        c.number(t, "offset", "pps", p.offset, -0.01, 0.01);
        c.boolean(t, "time", "pps", p.pps_time);
        c.boolean(t, "frequency", "pps", p.pps_frequency);
        bool name_ok = !p.source.empty() && p.source.size() < 32;
        for (char ch : p.source)
            name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
                                  ch == '-' || ch == '.');
        if (!name_ok)
            c.error(t.source(),
                    "[[pps]] needs 'source', the name of a nanoclock-pps source (\"gpio0\", "
                    "\"bridge0\"; see /sys/kernel/nanoclock_pps)");
        if (!p.device.empty() && p.device.front() != '/')
            c.error(t.get("device")->source(), "pps.device must be an absolute path");
        if (p.device.empty() && (t.get("edge") != nullptr || t.get("offset") != nullptr))
            c.error(t.source(), "pps.edge and pps.offset apply to bridged devices ('device') only");
        for (const PpsConfig& other : cfg.pps) {
            if (other.source == p.source)
                c.error(t.source(), "[[pps]] source '" + p.source + "' is configured twice (line " +
                                        std::to_string(other.line) + ")");
            if (!p.device.empty() && other.device == p.device)
                c.error(t.source(), "[[pps]] device '" + p.device + "' is bridged twice (line " +
                                        std::to_string(other.line) + ")");
        }
        if (cfg.clock.backend != ClockBackendKind::Nanoclock)
            c.error(t.source(),
                    "[[pps]] needs clock.backend = \"nanoclock\": PPS disciplines the nanoclock");
        cfg.pps.push_back(std::move(p));
    }
}

void parse_control(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "control", "");
    if (t == nullptr) return;
    c.only(*t, "[control]", {"socket", "group", "mode", "sources_file"});
    c.string(*t, "socket", "control", cfg.control.socket);
    c.string(*t, "sources_file", "control", cfg.control.sources_file);
    if (!cfg.control.sources_file.empty() && cfg.control.sources_file.front() != '/') {
        c.error(t->source(), "control.sources_file must be an absolute path (or empty)");
    }
    c.string(*t, "group", "control", cfg.control.group);
    c.integer(*t, "mode", "control", cfg.control.mode, 0, 0777);
    const std::string& path = cfg.control.socket;
    if (!path.empty() && (path.front() != '/' || path.size() > 107)) {
        c.error(t->source(),
                "control.socket must be an absolute path of at most 107 bytes (or empty)");
    }
}

// An io.hwtimestamp entry: "*" or what the kernel accepts as an interface
// name (dev_valid_name(): 1-15 bytes, no '/', ':' or white space, not "."
// or "..").
bool valid_interface_name(const std::string& name) {
    if (name == "*") return true;
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    return std::none_of(name.begin(), name.end(), [](char ch) {
        return ch == '/' || ch == ':' || std::isspace(static_cast<unsigned char>(ch)) != 0;
    });
}

void parse_io(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "io", "");
    if (t == nullptr) return;
    c.only(*t, "[io]", {"backend", "ring_entries", "receive_buffers", "hwtimestamp"});
    c.choice(*t, "backend", "io", cfg.io.backend,
             {{"auto", IoBackendChoice::Auto},
              {"io_uring", IoBackendChoice::IoUring},
              {"poll", IoBackendChoice::Poll}});
    c.integer(*t, "ring_entries", "io", cfg.io.ring_entries, 8, 32768);
    c.integer(*t, "receive_buffers", "io", cfg.io.receive_buffers, 8, 32768);
    const unsigned b = cfg.io.receive_buffers;
    if ((b & (b - 1)) != 0) c.error(t->source(), "io.receive_buffers must be a power of two");
    c.strings(*t, "hwtimestamp", "io", cfg.io.hwtimestamp,
              [&c](const std::string& name, const toml::source_region& where) {
                  if (valid_interface_name(name)) return true;
                  c.error(where, "io.hwtimestamp: '" + name +
                                     "' is not an interface name (1-15 bytes, no '/', ':' or "
                                     "white space) or \"*\"");
                  return false;
              });
}

void parse_log(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "log", "");
    if (t == nullptr) return;
    c.only(*t, "[log]", {"level", "file", "rate_limit_burst", "rate_limit_period"});
    c.choice(*t, "level", "log", cfg.log.level,
             {{"trace", LogLevel::Trace},
              {"debug", LogLevel::Debug},
              {"info", LogLevel::Info},
              {"warn", LogLevel::Warn},
              {"error", LogLevel::Error},
              {"off", LogLevel::Off}});
    c.string(*t, "file", "log", cfg.log.file);
    c.integer(*t, "rate_limit_burst", "log", cfg.log.rate_limit_burst, 1, 100000);
    c.number(*t, "rate_limit_period", "log", cfg.log.rate_limit_period, 0, 86400);
    if (!cfg.log.file.empty() && cfg.log.file.front() != '/') {
        c.error(t->source(), "log.file must be an absolute path (or empty for standard error)");
    }
}

void parse_service(Checker& c, const toml::table& root, Config& cfg) {
    const toml::table* t = c.table(root, "service", "");
    if (t == nullptr) return;
    c.only(*t, "[service]", {"user", "seccomp", "random_seed"});
    c.string(*t, "user", "service", cfg.service.user);
    if (t->contains("random_seed")) {
        uint64_t seed = 0;
        const size_t errors = c.error_count();
        c.integer(*t, "random_seed", "service", seed, 0, INT64_MAX);
        if (c.error_count() == errors) cfg.service.random_seed = seed;
    }
    c.choice(
        *t, "seccomp", "service", cfg.service.seccomp,
        {{"enforce", SeccompMode::Enforce}, {"log", SeccompMode::Log}, {"off", SeccompMode::Off}});
    if (cfg.service.user.find_first_of(" :/\t") != std::string::npos) {
        c.error(t->source(), "service.user '" + cfg.service.user + "' is not a user name");
    }
}

}  // namespace

ntp::ServerConfig default_server_config() {
    ntp::ServerConfig server;
    server.rate_limit.emplace();
    return server;
}

std::string ConfigError::to_string() const {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
    return s + ": " + message;
}

namespace {

// One file's TOML, or its error into @errors.
std::optional<toml::table> parse_toml(std::string_view text, std::string_view filename,
                                      std::vector<ConfigError>& errors) {
    if (auto e = find_non_ascii(text, filename)) {
        errors.push_back(*e);
        return std::nullopt;
    }
    try {
        return toml::parse(text, filename);
    } catch (const toml::parse_error& e) {
        errors.push_back(ConfigError{std::string(filename), e.source().begin.line,
                                     e.source().begin.column, std::string(e.description())});
        return std::nullopt;
    }
}

// @from merged into @into (see parse_config). Nodes are moved, so each
// keeps the file and line it was written at.
void merge_tables(toml::table& into, toml::table&& from) {
    for (auto&& [key, node] : from) {
        toml::node* mine = into.get(key);
        if (mine != nullptr && mine->is_array_of_tables() && node.is_array_of_tables()) {
            toml::array& target = *mine->as_array();
            for (toml::node& entry : *node.as_array())
                target.push_back(std::move(*entry.as_table()));
        } else if (mine != nullptr && mine->is_table() && node.is_table()) {
            merge_tables(*mine->as_table(), std::move(*node.as_table()));
        } else {
            into.insert_or_assign(key, std::move(node));
        }
    }
}

}  // namespace

ParseResult parse_config(std::string_view text, std::string_view filename) {
    return parse_config(text, filename, {});
}

ParseResult parse_config(std::string_view text, std::string_view filename,
                         const std::vector<DropIn>& drop_ins) {
    ParseResult result;
    std::optional<toml::table> main = parse_toml(text, filename, result.errors);
    if (!main) return result;
    toml::table root = std::move(*main);
    for (const DropIn& d : drop_ins) {
        std::optional<toml::table> more = parse_toml(d.text, d.name, result.errors);
        if (more) merge_tables(root, std::move(*more));
    }
    if (!result.errors.empty()) return result;
    Config cfg;
    Checker c(filename, result.errors);
    c.only(root, "the top level",
           {"source", "refclock", "pps", "server", "nts_ke", "nts", "clock", "control", "io", "log",
            "service", "metrics", "broker", "broker_client"});
    parse_sources(c, root, cfg);
    parse_refclocks(c, root, cfg);
    parse_server(c, root, cfg);
    parse_nts_ke(c, root, cfg);
    parse_nts(c, root, cfg);
    cfg.nts_ke.aead_algorithms = cfg.nts.aead_algorithms;
    parse_clock(c, root, cfg);
    parse_pps(c, root, cfg);  // after [clock]: it needs the backend
    parse_control(c, root, cfg);
    parse_io(c, root, cfg);
    parse_log(c, root, cfg);
    parse_service(c, root, cfg);
    parse_metrics(c, root, cfg);
    parse_broker(c, root, cfg);
    parse_broker_client(c, root, cfg);
    if (result.errors.empty()) result.config = std::move(cfg);
    return result;
}

std::string drop_in_dir(const std::string& path) {
    constexpr std::string_view kSuffix = ".toml";
    const bool toml = path.size() > kSuffix.size() &&
                      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
    return (toml ? path.substr(0, path.size() - kSuffix.size()) : path) + ".d";
}

namespace {

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

}  // namespace

ParseResult load_config(const std::string& path) {
    ParseResult r;
    const std::optional<std::string> text = read_file(path);
    if (!text) {
        r.errors.push_back(ConfigError{path, 0, 0, "cannot read the file"});
        return r;
    }
    // The drop-ins: *.toml in the directory, in name order; others (an
    // editor's backup, a .toml.tmp being written) are not read.
    std::vector<std::string> names;
    const std::string dir = drop_in_dir(path);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() > 5 && name.ends_with(".toml") && name[0] != '.') names.push_back(name);
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
        r.errors.push_back(ConfigError{dir, 0, 0, "cannot read the directory: " + ec.message()});
        return r;
    }
    std::sort(names.begin(), names.end());
    std::vector<DropIn> drop_ins;
    for (const std::string& name : names) {
        std::string file = dir;
        file += '/';
        file += name;
        std::optional<std::string> t = read_file(file);
        if (!t) {
            r.errors.push_back(ConfigError{file, 0, 0, "cannot read the file"});
            continue;
        }
        drop_ins.push_back(DropIn{file, std::move(*t)});
    }
    if (!r.errors.empty()) return r;
    return parse_config(*text, path, drop_ins);
}

SourcesFileResult parse_sources_file(std::string_view text, std::string_view filename) {
    SourcesFileResult result;
    std::optional<toml::table> root = parse_toml(text, filename, result.errors);
    if (!root) return result;
    Config cfg;
    Checker c(filename, result.errors);
    for (auto&& [key, node] : *root) {
        if (key.str() != "source")
            c.error(node.source(), "unknown key '" + std::string(key.str()) +
                                       "' in a sources file (only [[source]] tables)");
    }
    parse_sources(c, *root, cfg);
    if (result.errors.empty()) result.sources = std::move(cfg.sources);
    return result;
}

SourcesFileResult load_sources_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return {};
    const std::optional<std::string> text = read_file(path);
    if (!text) {
        SourcesFileResult r;
        r.errors.push_back(ConfigError{path, 0, 0, "cannot read the file"});
        return r;
    }
    return parse_sources_file(*text, path);
}

std::string format_sources_file(const std::vector<SourceEntry>& sources) {
    if (sources.empty()) return "";  // toml++ would write "source = []"
    toml::array entries;
    for (const SourceEntry& s : sources) {
        toml::table t;
        t.insert(s.kind == SourceKind::Pool ? "pool" : "server", s.address);
        t.insert("port", int64_t{s.port});
        t.insert("minpoll", int64_t{s.source.minpoll});
        t.insert("maxpoll", int64_t{s.source.maxpoll});
        t.insert("iburst", s.source.iburst);
        t.insert("xleave", s.source.xleave);
        t.insert("trust", s.source.trust);
        if (s.kind == SourceKind::Pool) t.insert("max_sources", int64_t{s.max_sources});
        t.insert("nts", s.nts);
        if (s.nts) t.insert("nts_port", int64_t{s.nts_port});
        entries.push_back(std::move(t));
    }
    toml::table root;
    root.insert("source", std::move(entries));
    std::ostringstream out;
    out << toml::toml_formatter(root);
    return out.str() + "\n";
}

const char* to_string(RefclockDriver driver) {
    switch (driver) {
        case RefclockDriver::Sock:
            return "sock";
        case RefclockDriver::Shm:
            return "shm";
        case RefclockDriver::Pps:
            return "pps";
        case RefclockDriver::Phc:
            return "phc";
    }
    return "?";
}

const char* to_string(LogLevel level) {
    switch (level) {
        case LogLevel::Trace:
            return "trace";
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Error:
            return "error";
        case LogLevel::Off:
            return "off";
    }
    return "?";
}

const char* to_string(IoBackendChoice choice) {
    switch (choice) {
        case IoBackendChoice::Auto:
            return "auto";
        case IoBackendChoice::IoUring:
            return "io_uring";
        case IoBackendChoice::Poll:
            return "poll";
    }
    return "?";
}

const char* to_string(ClockBackendKind kind) {
    return kind == ClockBackendKind::Nanoclock ? "nanoclock" : "system";
}

const char* to_string(PpsEdgeKind edge) {
    return edge == PpsEdgeKind::Clear ? "clear" : "assert";
}

const char* to_string(CertificateTimeCheck check) {
    return check == CertificateTimeCheck::Always ? "always" : "after_sync";
}

const char* to_string(SeccompMode mode) {
    switch (mode) {
        case SeccompMode::Enforce:
            return "enforce";
        case SeccompMode::Log:
            return "log";
        case SeccompMode::Off:
            return "off";
    }
    return "?";
}

}  // namespace nanotime::config
