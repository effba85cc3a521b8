// broker_endpoints.cpp - the /v1 endpoints, one Endpoint object each
// (openapi.yaml describes them; README.md says how to add one).
#include <array>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>

#include "broker/broker_api.hpp"
#include "broker/fleet_metrics.hpp"
#include "ctl/handler.hpp"

namespace nanotime::broker {
namespace {

using nlohmann::json;

constexpr unsigned kDefaultCertificateDays = 365;

// The request body as a JSON object whose keys are all in @allowed; 400's
// reason in @why otherwise.
std::optional<json> body_object(const http::Request& request,
                                std::span<const std::string_view> allowed, std::string& why) {
    auto j = parse_json_bounded(request.body, why);
    if (!j) {
        why = "body: " + why;
        return std::nullopt;
    }
    if (!j->is_object()) {
        why = "body must be a JSON object";
        return std::nullopt;
    }
    for (const auto& [key, value] : j->items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            why = "body: unknown field \"" + key.substr(0, 64) + "\"";
            return std::nullopt;
        }
    }
    return j;
}

std::optional<json> body_object(const http::Request& request,
                                std::initializer_list<std::string_view> allowed, std::string& why) {
    return body_object(request, std::span<const std::string_view>(allowed.begin(), allowed.size()),
                       why);
}

std::optional<int64_t> to_integer(std::string_view text) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

// A query parameter's raw value ("after" in "/v1/audit?after=3").
std::optional<std::string_view> query(const http::Request& request, std::string_view name) {
    std::string_view target = request.target;
    const size_t q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const size_t amp = std::min(rest.find('&'), rest.size());
        const std::string_view pair = rest.substr(0, amp);
        const size_t eq = pair.find('=');
        if (pair.substr(0, eq) == name)
            return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        rest.remove_prefix(std::min(amp + 1, rest.size()));
    }
    return std::nullopt;
}

std::string action_of(const Call& call) {
    return call.request.method + " " + std::string(call.request.path());
}

// An endpoint whose role is fixed and whose work is a function.
class SimpleEndpoint final : public Endpoint {
  public:
    using Serve = std::function<void(const Call&, ReplyFn)>;
    SimpleEndpoint(Role role, Serve serve) : role_(role), serve_(std::move(serve)) {}
    std::optional<Role> needed_role(const Call&, std::string&) const override { return role_; }
    void serve(const Call& call, ReplyFn reply) override { serve_(call, std::move(reply)); }

  private:
    Role role_;
    Serve serve_;
};

// The fields of a relayed control request (ctl/handler.hpp): "source" for
// the per-source views and commands, "value" for minpoll/maxpoll, "content"
// for leapfile, "reset" for clients (which makes it management).
constexpr std::array<std::string_view, 6> kRelayFields = {"command", "id",      "source",
                                                          "value",   "content", "reset"};

// POST /v1/members/{name}/control: the role depends on the command.
class RelayEndpoint final : public Endpoint {
  public:
    explicit RelayEndpoint(BrokerApi& api) : api_(api) {}

    std::optional<Role> needed_role(const Call& call, std::string& why) const override {
        const auto request = body_object(call.request, kRelayFields, why);
        if (!request) return std::nullopt;
        const auto command = request->find("command");
        if (command == request->end() || !command->is_string()) {
            why = "body needs a string \"command\"";
            return std::nullopt;
        }
        const auto& name = command->get_ref<const std::string&>();
        if (!ctl::is_known_command(name)) {
            why = "unknown command \"" + name.substr(0, 64) + "\"";
            return std::nullopt;
        }
        return ctl::is_privileged_request(*request) ? Role::Operator : Role::Monitor;
    }

    std::string audit_action(const Call& call) const override {
        std::string why;
        const auto request = body_object(call.request, kRelayFields, why);
        return request ? "relay " + request->value("command", std::string("?")) : std::string();
    }

    void serve(const Call& call, ReplyFn reply) override {
        std::string why;
        const json request = *body_object(call.request, kRelayFields, why);
        const std::string& member = call.params.at(0);
        const std::string command = request["command"].get<std::string>();
        const bool management = ctl::is_privileged_request(request);
        const std::string action = "relay " + command;
        if (!api_.store().find_member(member)) {
            if (management)
                api_.audit(call.caller, action, member, "failed: no such member", 404, call.now_ms);
            return reply(Reply{error_json(404, "no member named " + member)});
        }
        auto done = [this, reply, caller = call.caller, action, member, management](
                        std::optional<json> response, int64_t now) {
            if (!response) {
                if (management)
                    api_.audit(caller, action, member, "failed: no response within 10 s", 504, now);
                return reply(Reply{error_json(504, "member " + member + " did not answer")});
            }
            if (management) {
                const bool ok = response->value("ok", false);
                api_.audit(caller, action, member,
                           ok ? "ok" : "failed: " + response->value("error", std::string("?")), 200,
                           now);
            }
            reply(Reply{json_response(200, *response)});
        };
        if (!api_.hub().relay(member, request, call.caller.actor, std::move(done), call.now_ms)) {
            if (management)
                api_.audit(call.caller, action, member, "failed: not connected", 503, call.now_ms);
            return reply(Reply{error_json(503, "member " + member + " is not connected")});
        }
    }

  private:
    BrokerApi& api_;
};

// GET /v1/subscribe: a member's upgrade to the subscription channel.
class SubscribeEndpoint final : public Endpoint {
  public:
    std::optional<Role> needed_role(const Call& call, std::string& why) const override {
        const auto upgrade = call.request.header("Upgrade");
        const auto connection = call.request.header("Connection");
        auto contains_upgrade = [](std::string_view v) {
            std::string lower(v);
            for (char& c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return lower.find("upgrade") != std::string::npos;
        };
        if (!upgrade || *upgrade != kSubscriptionUpgrade || !connection ||
            !contains_upgrade(*connection)) {
            why = "GET /v1/subscribe needs Connection: Upgrade and Upgrade: " +
                  std::string(kSubscriptionUpgrade);
            return std::nullopt;
        }
        return Role::Member;
    }
    void serve(const Call& call, ReplyFn reply) override {
        http::Response r;
        r.status = 101;
        r.content_type.clear();
        r.headers = {{"Connection", "Upgrade"}, {"Upgrade", std::string(kSubscriptionUpgrade)}};
        reply(Reply{std::move(r), After::Subscribe, call.caller.name});
    }
};

json member_json(const MemberInfo& m, bool connected, bool with_state) {
    json j = {{"name", m.name},           {"host", m.host},
              {"version", m.version},     {"roles", json::parse(m.roles_json, nullptr, false)},
              {"connected", connected},   {"first_seen", m.first_seen},
              {"last_seen", m.last_seen}, {"state_time", nullptr},
              {"state_seq", m.state_seq}};
    if (m.state_time) j["state_time"] = *m.state_time;
    if (with_state) j["state"] = json::parse(m.state_json, nullptr, false);
    return j;
}

void add_token_endpoints(BrokerApi& api) {
    api.add_endpoint(
        "GET", "/v1/tokens",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call&, const ReplyFn& r) {
            json list = json::array();
            for (const auto& t : api.store().list_tokens()) list.push_back(to_json(t));
            r(Reply{json_response(200, {{"tokens", list}})});
        }));
    api.add_endpoint(
        "POST", "/v1/tokens",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            std::string why;
            const auto body = body_object(call.request, {"name", "role", "expires_in"}, why);
            std::optional<Role> role;
            if (body) {
                const auto n = body->find("name");
                const auto ro = body->find("role");
                const auto e = body->find("expires_in");
                if (n == body->end() || !n->is_string() ||
                    !is_valid_subject_name(n->get_ref<const std::string&>())) {
                    why = "\"name\" must be 1 to 64 characters of [A-Za-z0-9._-]";
                } else if (ro == body->end() || !ro->is_string() ||
                           !(role = role_from_string(ro->get<std::string>())) ||
                           *role == Role::Member) {
                    why = "\"role\" must be monitor, operator or admin";
                } else if (e != body->end() &&
                           (!e->is_number_unsigned() || e->get<uint64_t>() < 1 ||
                            e->get<uint64_t>() > uint64_t{10} * 366 * 86400)) {
                    why = "\"expires_in\" must be 1 to 316224000 seconds";
                }
            }
            if (!why.empty()) {
                api.audit(call.caller, action_of(call), "", "failed: " + why, 400, call.now_ms);
                return r(Reply{error_json(400, why)});
            }
            std::optional<int64_t> expires;
            if (body->contains("expires_in"))
                expires = call.now_ms / 1000 + (*body)["expires_in"].get<int64_t>();
            const auto t = api.store().create_token((*body)["name"].get<std::string>(), *role,
                                                    expires, call.caller.actor, call.now_ms / 1000);
            api.audit(call.caller, action_of(call), "token:" + std::to_string(t.info.id), "ok", 201,
                      call.now_ms);
            json j = to_json(t.info);
            j["token"] = t.token;
            r(Reply{json_response(201, j)});
        }));
    api.add_endpoint(
        "DELETE", "/v1/tokens/{id}",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            const auto id = to_integer(call.params.at(0));
            const std::string target = "token:" + call.params.at(0).substr(0, 20);
            if (!id || !api.store().revoke_token(*id, call.now_ms / 1000)) {
                api.audit(call.caller, action_of(call), target, "failed: no live token", 404,
                          call.now_ms);
                return r(Reply{error_json(404, "no live token " + target)});
            }
            api.audit(call.caller, action_of(call), target, "ok", 200, call.now_ms);
            r(Reply{json_response(200, to_json(*api.store().find_token(*id)))});
        }));
}

void add_certificate_endpoints(BrokerApi& api) {
    api.add_endpoint(
        "GET", "/v1/certificates",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call&, const ReplyFn& r) {
            json list = json::array();
            for (const auto& c : api.store().list_certificates()) list.push_back(to_json(c));
            r(Reply{json_response(200, {{"certificates", list}})});
        }));
    api.add_endpoint(
        "POST", "/v1/certificates",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            std::string why;
            const auto body = body_object(call.request, {"name", "role", "days", "csr"}, why);
            std::optional<Role> role;
            unsigned days = kDefaultCertificateDays;
            std::string csr;
            if (body) {
                const auto n = body->find("name");
                const auto ro = body->find("role");
                const auto d = body->find("days");
                const auto c = body->find("csr");
                if (n == body->end() || !n->is_string()) {
                    why = "\"name\" must be 1 to 64 characters of [A-Za-z0-9._-]";
                } else if (ro == body->end() || !ro->is_string() ||
                           !(role = role_from_string(ro->get<std::string>()))) {
                    why = "\"role\" must be member, monitor, operator or admin";
                } else if (d != body->end() &&
                           (!d->is_number_unsigned() || d->get<uint64_t>() < 1 ||
                            d->get<uint64_t>() > 3650)) {
                    why = "\"days\" must be 1 to 3650";
                } else if (c != body->end() && !c->is_string()) {
                    why = "\"csr\" must be a PEM certificate request";
                } else {
                    if (d != body->end()) days = d->get<unsigned>();
                    if (c != body->end()) csr = c->get<std::string>();
                }
            }
            if (why.empty() && api.ca() == nullptr) {
                return r(Reply{error_json(503, "the broker has no CA key loaded")});
            }
            std::optional<IssuedCertificate> issued;
            if (why.empty()) {
                try {
                    issued = api.ca()->issue((*body)["name"].get<std::string>(), *role,
                                             call.now_ms / 1000, days, csr, call.caller.actor);
                } catch (const std::invalid_argument& e) {
                    why = e.what();
                }
            }
            if (!why.empty()) {
                api.audit(call.caller, action_of(call), "", "failed: " + why, 400, call.now_ms);
                return r(Reply{error_json(400, why)});
            }
            api.store().add_certificate(issued->info);
            api.audit(call.caller, action_of(call), "cert:" + issued->info.fingerprint, "ok", 201,
                      call.now_ms);
            json j = to_json(issued->info);
            j["certificate"] = issued->certificate_pem;
            j["ca_certificate"] = api.ca()->certificate_pem();
            if (!issued->private_key_pem.empty()) j["private_key"] = issued->private_key_pem;
            r(Reply{json_response(201, j)});
        }));
    api.add_endpoint(
        "DELETE", "/v1/certificates/{fingerprint}",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            const std::string fp = call.params.at(0).substr(0, 64);
            const auto row = api.store().find_certificate(fp);
            if (!row || !api.store().revoke_certificate(fp, call.now_ms / 1000)) {
                api.audit(call.caller, action_of(call), "cert:" + fp, "failed: no live certificate",
                          404, call.now_ms);
                return r(Reply{error_json(404, "no live certificate " + fp)});
            }
            // A revoked member's live subscription ends now.
            if (row->role == Role::Member) api.hub().disconnect(row->name, call.now_ms);
            api.audit(call.caller, action_of(call), "cert:" + fp, "ok", 200, call.now_ms);
            r(Reply{json_response(200, to_json(*api.store().find_certificate(fp)))});
        }));
}

void add_member_endpoints(BrokerApi& api) {
    api.add_endpoint(
        "GET", "/v1/members",
        std::make_shared<SimpleEndpoint>(Role::Monitor, [&api](const Call& call, const ReplyFn& r) {
            json list = json::array();
            for (const auto& m : api.store().list_members(false)) {
                json j = member_json(m, api.hub().connected(m.name), false);
                if (api.fleet() != nullptr) {
                    if (const auto h = api.fleet()->health(m.name)) j["health"] = to_json(*h);
                }
                list.push_back(std::move(j));
            }
            // The broker's clock and the members' state interval: a client
            // (the dashboard) tells a stale member by them, whatever its own clock.
            r(Reply{json_response(200, {{"members", list},
                                        {"now", call.now_ms / 1000},
                                        {"state_interval", api.hub().state_interval()}})});
        }));
    api.add_endpoint(
        "GET", "/v1/members/{name}",
        std::make_shared<SimpleEndpoint>(Role::Monitor, [&api](const Call& call, const ReplyFn& r) {
            const auto m = api.store().find_member(call.params.at(0));
            if (!m) return r(Reply{error_json(404, "no member named " + call.params.at(0))});
            r(Reply{json_response(200, member_json(*m, api.hub().connected(m->name), true))});
        }));
    api.add_endpoint(
        "DELETE", "/v1/members/{name}",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            const std::string& name = call.params.at(0);
            api.hub().disconnect(name, call.now_ms);
            if (!api.store().delete_member(name)) {
                api.audit(call.caller, action_of(call), name, "failed: no such member", 404,
                          call.now_ms);
                return r(Reply{error_json(404, "no member named " + name)});
            }
            api.hub().deleted(name);
            api.audit(call.caller, action_of(call), name, "ok", 200, call.now_ms);
            r(Reply{json_response(200, {{"deleted", name}})});
        }));
    api.add_endpoint("POST", "/v1/members/{name}/control", std::make_shared<RelayEndpoint>(api));
}

void add_audit_and_stream_endpoints(BrokerApi& api) {
    api.add_endpoint(
        "GET", "/v1/audit",
        std::make_shared<SimpleEndpoint>(Role::Admin, [&api](const Call& call, const ReplyFn& r) {
            int64_t after = 0;
            int64_t limit = 100;
            if (const auto a = query(call.request, "after")) {
                const auto v = to_integer(*a);
                if (!v || *v < 0) return r(Reply{error_json(400, "after must be an integer >= 0")});
                after = *v;
            }
            if (const auto l = query(call.request, "limit")) {
                const auto v = to_integer(*l);
                if (!v || *v < 1 || *v > static_cast<int64_t>(kMaxAuditPage))
                    return r(Reply{error_json(400, "limit must be 1 to 1000")});
                limit = *v;
            }
            json list = json::array();
            for (const auto& e : api.store().read_audit(after, static_cast<size_t>(limit)))
                list.push_back(to_json(e));
            r(Reply{json_response(200, {{"entries", list}})});
        }));
    auto stream = [](After kind) {
        return [kind](const Call&, const ReplyFn& r) {
            http::Response head;
            head.content_type = "text/event-stream";
            head.headers = {{"Cache-Control", "no-store"}};
            r(Reply{std::move(head), kind});
        };
    };
    api.add_endpoint("GET", "/v1/audit/stream",
                     std::make_shared<SimpleEndpoint>(Role::Admin, stream(After::StreamAudit)));
    api.add_endpoint("GET", "/v1/events",
                     std::make_shared<SimpleEndpoint>(Role::Monitor, stream(After::StreamFleet)));
    api.add_endpoint(
        "GET", "/v1/whoami",
        std::make_shared<SimpleEndpoint>(Role::Monitor, [](const Call& call, const ReplyFn& r) {
            r(Reply{json_response(200, {{"actor", call.caller.actor},
                                        {"name", call.caller.name},
                                        {"role", to_string(call.caller.role)}})});
        }));
    api.add_endpoint("GET", std::string(kSubscriptionPath), std::make_shared<SubscribeEndpoint>());
}

}  // namespace

void add_v1_endpoints(BrokerApi& api) {
    add_token_endpoints(api);
    add_certificate_endpoints(api);
    add_member_endpoints(api);
    add_audit_and_stream_endpoints(api);
}

}  // namespace nanotime::broker
