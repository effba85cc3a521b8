// Fuzz target: the broker's /v1 API as a network client can drive it after
// TLS: method, target, headers and JSON body through authentication, the
// rate limit, routing, the role check and every endpoint, against a fresh
// in-memory database per input. Checks: every request is answered exactly
// once (a relay to a member that is never connected answers at once), JSON
// answers are valid JSON objects, statuses are the documented ones, and a
// caller below admin never changes tokens or certificates, and only the
// dashboard's files are served as anything but JSON or an event stream.
//
// Input: byte 0 picks the caller (admin / monitor / member certificate,
// a token-looking string, nobody); the rest is "METHOD\nTARGET\nBODY".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <set>
#include <string>

#include "broker/broker_api.hpp"
#include "broker/fleet_metrics.hpp"

using namespace nanotime::broker;
using nlohmann::json;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

const CertificateAuthority& ca() {
    static const auto pem = CertificateAuthority::create("fuzz CA", 1'700'000'000, 3650);
    static const CertificateAuthority authority(pem.certificate_pem, pem.private_key_pem);
    return authority;
}

CertificateInfo certificate(const std::string& fingerprint, const std::string& name, Role role) {
    CertificateInfo c;
    c.fingerprint = fingerprint;
    c.serial = "01";
    c.name = name;
    c.role = role;
    c.not_after = 2'000'000'000;
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 70'000) return 0;
    const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const size_t nl1 = input.find('\n');
    const size_t nl2 = nl1 == std::string::npos ? std::string::npos : input.find('\n', nl1 + 1);
    if (nl2 == std::string::npos) return 0;

    BrokerStore store(":memory:", ScryptCost{16, 1, 1});
    FleetMetrics fleet;
    SubscriptionHub hub(store, {[](uint64_t, std::vector<uint8_t>) {}, [](uint64_t) {}}, 5,
                        [&fleet](const json& change) { fleet.observe(change, 1); });
    BrokerApi api(store, &ca(), hub);
    add_v1_endpoints(api);
    add_metrics_endpoint(api, fleet, [] { return std::string(); });
    store.add_certificate(certificate(std::string(64, 'a'), "root", Role::Admin));
    store.add_certificate(certificate(std::string(64, 'b'), "mon", Role::Monitor));
    store.add_certificate(certificate(std::string(64, 'c'), "ntp1", Role::Member));
    store.member_hello("ntp1", "h", "1", "[]", 1);

    nanotime::http::Request request;
    request.method = input.substr(0, nl1);
    request.target = input.substr(nl1 + 1, nl2 - nl1 - 1);
    request.body = input.substr(nl2 + 1);
    Peer peer{"192.0.2.1:1", "192.0.2.1", std::nullopt};
    Role role = Role::Monitor;
    switch (data[0] % 5) {
        case 0:
            peer.certificate = ClientCertificate{std::string(64, 'a'), "root", true, ""};
            role = Role::Admin;
            break;
        case 1:
            peer.certificate = ClientCertificate{std::string(64, 'b'), "mon", true, ""};
            break;
        case 2:
            peer.certificate = ClientCertificate{std::string(64, 'c'), "ntp1", true, ""};
            role = Role::Member;
            break;
        case 3:
            request.headers.emplace_back("Authorization", "Bearer " + request.body.substr(0, 80));
            break;
        default:
            break;
    }
    request.headers.emplace_back("Upgrade", "nanotime-subscription/1");
    request.headers.emplace_back("Connection", "Upgrade");

    const size_t tokens_before = store.list_tokens().size();
    const size_t certificates_before = store.list_certificates().size();
    int replies = 0;
    api.handle(request, peer, 1'700'000'000'000, [&replies, &request](Reply reply) {
        ++replies;
        static const std::set<unsigned> kStatuses = {101, 200, 201, 308, 400, 401,
                                                     403, 404, 405, 429, 503, 504};
        check(kStatuses.contains(reply.response.status));
        // Only the dashboard's files (GET or HEAD under /dashboard/) redirect
        // or come as anything but JSON, whoever asks.
        if (reply.response.status == 308 ||
            (reply.response.status == 200 && reply.response.content_type != "application/json" &&
             reply.response.content_type != "text/event-stream")) {
            check((request.method == "GET" || request.method == "HEAD") &&
                  request.path().starts_with("/dashboard"));
        }
        if (reply.response.content_type == "application/json") {
            const json j = json::parse(reply.response.body, nullptr, false);
            check(!j.is_discarded() && j.is_object());
        }
    });
    check(replies == 1);
    if (role != Role::Admin) {
        check(store.list_tokens().size() == tokens_before);
        check(store.list_certificates().size() == certificates_before);
    }
    return 0;
}
