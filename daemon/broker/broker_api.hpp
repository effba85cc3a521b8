// broker_api.hpp - the broker's operator API under /v1, sans I/O: a request
// and who sent it (address, client certificate verdict) in, a response out
// (at once, or later for a relayed command), with authentication, the
// per-endpoint role check, the failed-login rate limit and the audit log.
//
// Authentication, before routing (an unauthenticated caller learns
// nothing, not even which paths exist; only the dashboard's public files,
// dashboard.hpp, are served without it):
//  * a client certificate that chains to the broker's CA and whose SHA-256
//    fingerprint the database lists, not revoked: its name and role;
//  * else "Authorization: Bearer nt1.<id>.<secret>": the token's role;
//  * else 401. A certificate the CA did not issue, an unknown or revoked
//    one, a wrong, expired or revoked token: 401, audited, and a failure
//    counted against the source address (kMaxLoginFailures in
//    kLoginWindowMs, then 429 until the window passes).
// Then the route's endpoint says which role it needs (the relay: by the
// command relayed); a caller without it gets 403, audited.
//
// Extending: an endpoint is one Endpoint object registered with
// add_endpoint() (README.md); openapi.yaml lists it, and the test
// BrokerOpenApi checks the two agree.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker_store.hpp"
#include "broker/certificate_authority.hpp"
#include "broker/roles.hpp"
#include "broker/subscription_hub.hpp"
#include "http/http_connection.hpp"
#include "http/router.hpp"

namespace nanotime::broker {

inline constexpr unsigned kMaxLoginFailures = 10;
inline constexpr int64_t kLoginWindowMs = 60'000;
inline constexpr size_t kMaxTrackedAddresses = 4096;
inline constexpr size_t kMaxAuditPage = 1000;

// What the TLS layer tells about the client's certificate.
struct ClientCertificate {
    std::string sha256;  // lowercase hex
    std::string common_name;
    bool verified = false;  // chains to the broker's CA, in its validity period
    std::string verify_error;
};

struct Peer {
    std::string address;  // "192.0.2.1:50000": the audit's source
    std::string host;     // "192.0.2.1": the rate limit's key
    std::optional<ClientCertificate> certificate;
};

struct Caller {
    std::string actor;  // "cert:ntp1", "token:3"
    std::string name;   // the certificate's or token's name
    Role role = Role::Monitor;
    std::string source;
};

// How the service goes on after the response.
enum class After {
    Respond,      // an ordinary response
    Subscribe,    // 101: the connection carries subscription frames for caller.name
    StreamFleet,  // 200 text/event-stream of the fleet's changes
    StreamAudit,  // 200 text/event-stream of new audit entries
};

struct Reply {
    explicit Reply(http::Response r, After a = After::Respond, std::string m = {})
        : response(std::move(r)), after(a), member(std::move(m)) {}
    http::Response response;
    After after = After::Respond;
    std::string member;  // Subscribe: whose subscription
};

using ReplyFn = std::function<void(Reply)>;

// One request being served.
struct Call {
    const http::Request& request;
    const std::vector<std::string>& params;  // the path's "{...}" segments
    const Caller& caller;
    int64_t now_ms;
};

class BrokerApi;
class FleetMetrics;

// One endpoint: the role it needs and what it does. serve() calls reply
// exactly once, now or later.
class Endpoint {
  public:
    virtual ~Endpoint() = default;
    // Nothing: the request is malformed for this endpoint (@why says why; 400).
    virtual std::optional<Role> needed_role(const Call& call, std::string& why) const = 0;
    virtual void serve(const Call& call, ReplyFn reply) = 0;
    // What the call asks for, as the audit log names it (e.g. "relay
    // makestep"), for a denial; empty: the method and path.
    virtual std::string audit_action(const Call&) const { return {}; }
};

// A JSON response with @status.
http::Response json_response(unsigned status, const nlohmann::json& body);
// {"error": @message} with @status.
http::Response error_json(unsigned status, std::string_view message);

class BrokerApi {
  public:
    // @ca may be null (then certificates cannot be issued: 503).
    BrokerApi(BrokerStore& store, const CertificateAuthority* ca, SubscriptionHub& hub);

    void add_endpoint(std::string method, std::string path, std::shared_ptr<Endpoint> endpoint);
    // Every (path, method) served: for the OpenAPI check.
    std::vector<std::pair<std::string, std::string>> routes() const { return router_.routes(); }

    void handle(const http::Request& request, const Peer& peer, int64_t now_ms, ReplyFn reply);

    // Appends to the audit log and tells the audit stream.
    void audit(const Caller& caller, std::string action, std::string target, std::string result,
               unsigned status, int64_t now_ms);
    // Called with every audit entry appended (the service's SSE stream).
    std::function<void(const AuditEntry&)> on_audit;

    BrokerStore& store() { return store_; }
    const CertificateAuthority* ca() const { return ca_; }
    SubscriptionHub& hub() { return hub_; }
    // The members' health from their last states (fleet_metrics.hpp), for
    // the member list; null: none is kept (the list has no "health").
    void set_fleet(const FleetMetrics* fleet) { fleet_ = fleet; }
    const FleetMetrics* fleet() const { return fleet_; }

  private:
    // The caller, or the failure's reason (and whether it counts as a failed login).
    std::optional<Caller> authenticate(const http::Request& request, const Peer& peer,
                                       int64_t now_ms, std::string& why, bool& attempted);
    bool rate_limited(const std::string& host, int64_t now_ms) const;
    void count_failure(const std::string& host, int64_t now_ms);

    struct Failures {
        unsigned count = 0;
        int64_t window_start_ms = 0;
    };

    BrokerStore& store_;
    const CertificateAuthority* ca_;
    SubscriptionHub& hub_;
    const FleetMetrics* fleet_ = nullptr;
    http::BasicRouter<Endpoint> router_;
    std::unordered_map<std::string, Failures> failures_;
};

// Registers the /v1 endpoints (broker_endpoints.cpp).
void add_v1_endpoints(BrokerApi& api);

// JSON views of the store's rows (shared by the endpoints and the streams).
nlohmann::json to_json(const TokenInfo& t);
nlohmann::json to_json(const CertificateInfo& c);
nlohmann::json to_json(const AuditEntry& e);

}  // namespace nanotime::broker
