// broker_api.cpp - authentication, role check, rate limit and audit around
// the /v1 endpoints (broker_api.hpp).
#include "broker/broker_api.hpp"

#include <algorithm>

#include "broker/dashboard.hpp"

namespace nanotime::broker {

using nlohmann::json;

http::Response json_response(unsigned status, const json& body) {
    http::Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
}

http::Response error_json(unsigned status, std::string_view message) {
    return json_response(status, json{{"error", message}});
}

json to_json(const TokenInfo& t) {
    json j = {{"id", t.id},
              {"name", t.name},
              {"role", to_string(t.role)},
              {"created", t.created},
              {"created_by", t.created_by},
              {"expires", nullptr},
              {"revoked", nullptr},
              {"last_used", nullptr}};
    if (t.expires) j["expires"] = *t.expires;
    if (t.revoked) j["revoked"] = *t.revoked;
    if (t.last_used) j["last_used"] = *t.last_used;
    return j;
}

json to_json(const CertificateInfo& c) {
    json j = {
        {"fingerprint", c.fingerprint}, {"serial", c.serial},         {"name", c.name},
        {"role", to_string(c.role)},    {"not_before", c.not_before}, {"not_after", c.not_after},
        {"issued", c.issued},           {"issued_by", c.issued_by},   {"revoked", nullptr}};
    if (c.revoked) j["revoked"] = *c.revoked;
    return j;
}

json to_json(const AuditEntry& e) {
    return {{"seq", e.seq},       {"time_ms", e.time_ms}, {"actor", e.actor},
            {"source", e.source}, {"action", e.action},   {"target", e.target},
            {"result", e.result}, {"status", e.status}};
}

BrokerApi::BrokerApi(BrokerStore& store, const CertificateAuthority* ca, SubscriptionHub& hub)
    : store_(store), ca_(ca), hub_(hub) {}

void BrokerApi::add_endpoint(std::string method, std::string path,
                             std::shared_ptr<Endpoint> endpoint) {
    router_.add(std::move(method), std::move(path), std::move(endpoint));
}

void BrokerApi::audit(const Caller& caller, std::string action, std::string target,
                      std::string result, unsigned status, int64_t now_ms) {
    AuditEntry e;
    e.time_ms = now_ms;
    e.actor = caller.actor;
    e.source = caller.source;
    e.action = std::move(action);
    e.target = std::move(target);
    e.result = std::move(result);
    e.status = status;
    e.seq = store_.append_audit(e);
    if (on_audit) on_audit(e);
}

bool BrokerApi::rate_limited(const std::string& host, int64_t now_ms) const {
    const auto it = failures_.find(host);
    return it != failures_.end() && now_ms - it->second.window_start_ms < kLoginWindowMs &&
           it->second.count >= kMaxLoginFailures;
}

void BrokerApi::count_failure(const std::string& host, int64_t now_ms) {
    if (failures_.size() >= kMaxTrackedAddresses && !failures_.contains(host)) {
        // Bounded memory: forget windows that have passed, else the oldest.
        std::erase_if(failures_, [now_ms](const auto& kv) {
            return now_ms - kv.second.window_start_ms >= kLoginWindowMs;
        });
        if (failures_.size() >= kMaxTrackedAddresses) {
            const auto oldest = std::min_element(
                failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
                    return a.second.window_start_ms < b.second.window_start_ms;
                });
            failures_.erase(oldest);
        }
    }
    Failures& f = failures_[host];
    if (now_ms - f.window_start_ms >= kLoginWindowMs) f = Failures{0, now_ms};
    ++f.count;
}

std::optional<Caller> BrokerApi::authenticate(const http::Request& request, const Peer& peer,
                                              int64_t now_ms, std::string& why, bool& attempted) {
    Caller c;
    c.source = peer.address;
    attempted = false;
    if (peer.certificate) {
        attempted = true;
        const ClientCertificate& cert = *peer.certificate;
        if (!cert.verified) {
            why = "client certificate not issued by this broker's CA: " + cert.verify_error;
            return std::nullopt;
        }
        const auto row = store_.find_certificate(cert.sha256);
        if (!row) {
            why = "client certificate " + cert.sha256.substr(0, 16) + "... is not registered";
            return std::nullopt;
        }
        if (row->revoked) {
            why = "client certificate of " + row->name + " is revoked";
            return std::nullopt;
        }
        c.actor = "cert:" + row->name;
        c.name = row->name;
        c.role = row->role;
        return c;
    }
    const auto authorization = request.header("Authorization");
    if (!authorization) {
        why = "no client certificate and no bearer token";
        return std::nullopt;
    }
    attempted = true;
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization->size() <= kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), authorization->begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        why = "Authorization is not a bearer token";
        return std::nullopt;
    }
    const auto token = store_.verify_token(authorization->substr(kBearer.size()), now_ms / 1000);
    if (!token) {
        why = "bearer token unknown, wrong, expired or revoked";
        return std::nullopt;
    }
    c.actor = "token:" + std::to_string(token->id);
    c.name = token->name;
    c.role = token->role;
    return c;
}

void BrokerApi::handle(const http::Request& request, const Peer& peer, int64_t now_ms,
                       ReplyFn reply) {
    const std::string action = request.method + " " + std::string(request.path());
    Caller anonymous;
    anonymous.actor = "anonymous";
    anonymous.source = peer.address;
    if (rate_limited(peer.host, now_ms)) {
        audit(anonymous, action, "", "denied: too many failed logins from " + peer.host, 429,
              now_ms);
        http::Response r = error_json(429, "too many failed logins; try again later");
        r.headers.emplace_back("Retry-After", std::to_string(kLoginWindowMs / 1000));
        return reply(Reply{std::move(r)});
    }
    // The dashboard's files are public code, no data (dashboard.hpp).
    if (auto page = serve_dashboard(request)) return reply(Reply{std::move(*page)});
    std::string why;
    bool attempted = false;
    const std::optional<Caller> caller = authenticate(request, peer, now_ms, why, attempted);
    if (!caller) {
        if (attempted) count_failure(peer.host, now_ms);
        audit(anonymous, action, "", "denied: " + why, 401, now_ms);
        http::Response r = error_json(401, why);
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"nanotime broker\"");
        return reply(Reply{std::move(r)});
    }
    const auto lookup = router_.find(request.method, request.path());
    if (lookup.handler == nullptr) {
        const std::string& text = lookup.error.body;
        http::Response r = error_json(lookup.error.status, text.substr(0, text.find('\n')));
        r.headers = lookup.error.headers;  // 405: Allow
        return reply(Reply{std::move(r)});
    }
    const Call call{request, lookup.params, *caller, now_ms};
    std::string malformed;
    const std::optional<Role> needed = lookup.handler->needed_role(call, malformed);
    if (!needed) return reply(Reply{error_json(400, malformed)});
    if (!role_allows(caller->role, *needed)) {
        const std::string reason = "needs role " + std::string(to_string(*needed)) + ", " +
                                   caller->actor + " has " + std::string(to_string(caller->role));
        // The audit line says what was refused, on what: "relay makestep"
        // on member m1, as the line of an allowed call would.
        const std::string what = lookup.handler->audit_action(call);
        audit(*caller, what.empty() ? action : what, call.params.empty() ? "" : call.params.front(),
              "denied: " + reason, 403, now_ms);
        return reply(Reply{error_json(403, reason)});
    }
    const bool head = lookup.head;
    lookup.handler->serve(call, [reply = std::move(reply), head](Reply r) {
        if (head) r.response.head_only = true;
        reply(std::move(r));
    });
}

}  // namespace nanotime::broker
