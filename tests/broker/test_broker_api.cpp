// The broker's /v1 API without sockets: every endpoint, authentication by
// token and certificate, roles per endpoint, the failed-login rate limit
// and the audit log. Negative cases check the status, the audit line and
// that nothing changed.
#include "broker_fixture.hpp"

namespace nanotime::broker::testing {
namespace {

using ApiTest = BrokerFixture;

// --- authentication -------------------------------------------------------

TEST_F(ApiTest, NoCredentialsIs401AndAudited) {
    const auto r = call("GET", "/v1/members");
    EXPECT_EQ(r->status, 401u);
    EXPECT_EQ(r->body["error"], "no client certificate and no bearer token");
    ASSERT_EQ(audit_log().size(), 1u);
    EXPECT_EQ(audit_log()[0].actor, "anonymous");
    EXPECT_EQ(audit_log()[0].action, "GET /v1/members");
    EXPECT_EQ(audit_log()[0].source, "192.0.2.7:40000");
    EXPECT_EQ(audit_log()[0].status, 401u);
    EXPECT_EQ(audited_.size(), 1u) << "the audit stream hears it too";
}

TEST_F(ApiTest, UnknownPathsNeedAuthenticationToo) {
    EXPECT_EQ(call("GET", "/v1/nothing")->status, 401u);
    EXPECT_EQ(call("GET", "/v1/nothing", "", monitor_)->status, 404u);
}

TEST_F(ApiTest, CertificateFromAnotherCaIs401) {
    const auto tokens_before = store_.list_tokens().size();
    const auto r = call("POST", "/v1/tokens", R"({"name":"x","role":"admin"})", std::nullopt,
                        ClientCertificate{std::string(64, 'e'), "root", false,
                                          "unable to verify the first certificate"});
    EXPECT_EQ(r->status, 401u);
    EXPECT_EQ(audit_log().back().result,
              "denied: client certificate not issued by this broker's CA: unable to verify the "
              "first certificate");
    EXPECT_EQ(store_.list_tokens().size(), tokens_before) << "nothing changed";
}

TEST_F(ApiTest, UnregisteredAndRevokedCertificatesAre401) {
    EXPECT_EQ(call("GET", "/v1/members", "", std::nullopt,
                   ClientCertificate{std::string(64, 'a'), "x", true, ""})
                  ->status,
              401u);
    const ClientCertificate cert = certificate_for("alice", Role::Admin);
    EXPECT_EQ(call("GET", "/v1/members", "", std::nullopt, cert)->status, 200u);
    EXPECT_TRUE(store_.revoke_certificate(cert.sha256, now_s()));
    const auto r = call("GET", "/v1/members", "", std::nullopt, cert);
    EXPECT_EQ(r->status, 401u);
    EXPECT_EQ(r->body["error"], "client certificate of alice is revoked");
}

TEST_F(ApiTest, WrongExpiredAndRevokedTokensAre401) {
    std::string wrong = admin_;
    wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(call("GET", "/v1/tokens", "", wrong)->status, 401u);
    const auto expiring = store_.create_token("ci", Role::Admin, now_s() + 10, "t", now_s());
    EXPECT_EQ(call("GET", "/v1/tokens", "", expiring.token)->status, 200u);
    now_ms_ += 10'000;
    EXPECT_EQ(call("GET", "/v1/tokens", "", expiring.token)->status, 401u) << "expired";
    const auto revoked = store_.create_token("old", Role::Admin, std::nullopt, "t", now_s());
    store_.revoke_token(revoked.info.id, now_s());
    const auto r = call("POST", "/v1/tokens", R"({"name":"x","role":"admin"})", revoked.token);
    EXPECT_EQ(r->status, 401u);
    EXPECT_EQ(r->body["error"], "bearer token unknown, wrong, expired or revoked");
    EXPECT_EQ(r->response.headers.at(0).first, "WWW-Authenticate");
    EXPECT_EQ(store_.list_tokens().size(), 5u) << "nothing created";
    EXPECT_EQ(audit_log().back().result, "denied: bearer token unknown, wrong, expired or revoked");
    EXPECT_EQ(call("GET", "/v1/tokens", "", std::string("Basic abc"))->status, 401u);
}

TEST_F(ApiTest, FailedLoginsAreRateLimitedPerAddress) {
    for (unsigned i = 0; i < kMaxLoginFailures; ++i)
        EXPECT_EQ(call("GET", "/v1/whoami", "", std::string("nt1.1.bad"))->status, 401u);
    auto r = call("GET", "/v1/whoami", "", admin_);
    EXPECT_EQ(r->status, 429u) << "even a good token, from that address";
    EXPECT_EQ(audit_log().back().status, 429u);
    address_ = "192.0.2.8";
    EXPECT_EQ(call("GET", "/v1/whoami", "", admin_)->status, 200u) << "another address";
    address_ = "192.0.2.7";
    now_ms_ += kLoginWindowMs;
    EXPECT_EQ(call("GET", "/v1/whoami", "", admin_)->status, 200u) << "the window passed";
}

TEST_F(ApiTest, MissingCredentialsDoNotCountAsFailedLogins) {
    for (unsigned i = 0; i < kMaxLoginFailures + 2; ++i) call("GET", "/v1/whoami");
    EXPECT_EQ(call("GET", "/v1/whoami", "", admin_)->status, 200u);
}

// --- roles ------------------------------------------------------------------

TEST_F(ApiTest, MonitorCallingAnOperatorCommandIs403AndNothingIsRelayed) {
    subscribe(5, "ntp1");
    const size_t frames_before = frames_[5].size();
    const auto r = call("POST", "/v1/members/ntp1/control", R"({"command":"makestep"})", monitor_);
    EXPECT_EQ(r->status, 403u);
    EXPECT_EQ(r->body["error"], "needs role operator, token:3 has monitor");
    EXPECT_EQ(audit_log().back().result, "denied: needs role operator, token:3 has monitor");
    EXPECT_EQ(audit_log().back().actor, "token:3");
    // The line says what was refused, on whom, as an allowed relay's would.
    EXPECT_EQ(audit_log().back().action, "relay makestep");
    EXPECT_EQ(audit_log().back().target, "ntp1");
    EXPECT_EQ(frames_[5].size(), frames_before) << "nothing sent to the member";
}

TEST_F(ApiTest, OperatorCallingAnAdminEndpointIs403AndNothingChanges) {
    const auto before = store_.list_tokens().size();
    EXPECT_EQ(call("POST", "/v1/tokens", R"({"name":"x","role":"admin"})", operator_)->status,
              403u);
    EXPECT_EQ(store_.list_tokens().size(), before);
    EXPECT_EQ(call("GET", "/v1/audit", "", operator_)->status, 403u);
    EXPECT_EQ(audit_log().back().status, 403u);
}

TEST_F(ApiTest, MemberCertificateMaySubscribeOnly) {
    const ClientCertificate member = certificate_for("ntp1", Role::Member);
    EXPECT_EQ(call("GET", "/v1/members", "", std::nullopt, member)->status, 403u);
    const auto up = call("GET", "/v1/subscribe", "", std::nullopt, member,
                         {{"Connection", "Upgrade"}, {"Upgrade", "nanotime-subscription/1"}});
    EXPECT_EQ(up->status, 101u);
    EXPECT_EQ(up->after, After::Subscribe);
    EXPECT_EQ(up->member, "ntp1");
    EXPECT_EQ(call("GET", "/v1/subscribe", "", admin_, std::nullopt,
                   {{"Connection", "Upgrade"}, {"Upgrade", "nanotime-subscription/1"}})
                  ->status,
              403u)
        << "an admin is not a member";
    const auto plain = call("GET", "/v1/subscribe", "", std::nullopt, member);
    EXPECT_EQ(plain->status, 400u);
    EXPECT_EQ(plain->body["error"],
              "GET /v1/subscribe needs Connection: Upgrade and Upgrade: nanotime-subscription/1");
}

TEST_F(ApiTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
    EXPECT_EQ(call("GET", "/v2/x", "", admin_)->status, 404u);
    const auto r = call("PUT", "/v1/tokens", "", admin_);
    EXPECT_EQ(r->status, 405u);
    EXPECT_EQ(r->response.headers.at(0).second, "GET, HEAD, POST");
}

TEST_F(ApiTest, WhoAmI) {
    const auto r = call("GET", "/v1/whoami", "", operator_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, (json{{"actor", "token:2"}, {"name", "op"}, {"role", "operator"}}));
    EXPECT_TRUE(call("HEAD", "/v1/whoami", "", operator_)->response.head_only);
}

// --- tokens -----------------------------------------------------------------

TEST_F(ApiTest, TokensCreateListRevoke) {
    auto r =
        call("POST", "/v1/tokens", R"({"name":"ci","role":"monitor","expires_in":3600})", admin_);
    ASSERT_EQ(r->status, 201u);
    const std::string token = r->body["token"];
    const int64_t id = r->body["id"];
    EXPECT_EQ(r->body["expires"], now_s() + 3600);
    EXPECT_EQ(r->body["created_by"], "token:1");
    EXPECT_EQ(audit_log().back().action, "POST /v1/tokens");
    EXPECT_EQ(audit_log().back().target, "token:" + std::to_string(id));
    EXPECT_EQ(audit_log().back().result, "ok");
    EXPECT_EQ(call("GET", "/v1/whoami", "", token)->body["role"], "monitor");

    r = call("GET", "/v1/tokens", "", admin_);
    ASSERT_EQ(r->status, 200u);
    ASSERT_EQ(r->body["tokens"].size(), 4u);
    EXPECT_FALSE(r->body["tokens"][3].contains("token")) << "the secret is shown once";
    EXPECT_EQ(r->body.dump().find(token.substr(token.rfind('.') + 1)), std::string::npos);

    r = call("DELETE", "/v1/tokens/" + std::to_string(id), "", admin_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body["revoked"], now_s());
    EXPECT_EQ(call("GET", "/v1/whoami", "", token)->status, 401u);
    EXPECT_EQ(call("DELETE", "/v1/tokens/" + std::to_string(id), "", admin_)->status, 404u);
    EXPECT_EQ(call("DELETE", "/v1/tokens/abc", "", admin_)->status, 404u);
}

TEST_F(ApiTest, TokenBodiesAreChecked) {
    const auto before = store_.list_tokens().size();
    for (const char* body :
         {"", "[]", "{", R"({"role":"admin"})", R"({"name":"a b","role":"admin"})",
          R"({"name":"x","role":"member"})", R"({"name":"x","role":"root"})",
          R"({"name":"x","role":"admin","expires_in":-1})",
          R"({"name":"x","role":"admin","extra":1})"}) {
        const auto r = call("POST", "/v1/tokens", body, admin_);
        EXPECT_EQ(r->status, 400u) << body;
        EXPECT_TRUE(r->body["error"].is_string()) << body;
    }
    EXPECT_EQ(call("POST", "/v1/tokens", R"({"name":"x","role":"admin","extra":1})", admin_)
                  ->body["error"],
              "body: unknown field \"extra\"");
    EXPECT_EQ(store_.list_tokens().size(), before);
    EXPECT_EQ(audit_log().back().result, "failed: body: unknown field \"extra\"");
}

// --- certificates -------------------------------------------------------------

TEST_F(ApiTest, CertificatesIssueListRevoke) {
    auto r =
        call("POST", "/v1/certificates", R"({"name":"ntp1","role":"member","days":30})", admin_);
    ASSERT_EQ(r->status, 201u) << r->body.dump();
    const std::string fp = r->body["fingerprint"];
    EXPECT_EQ(fp.size(), 64u);
    EXPECT_TRUE(r->body["certificate"].get<std::string>().starts_with("-----BEGIN CERTIFICATE"));
    EXPECT_TRUE(r->body["private_key"].get<std::string>().starts_with("-----BEGIN PRIVATE KEY"));
    EXPECT_EQ(r->body["ca_certificate"], ca_.certificate_pem());
    EXPECT_EQ(r->body["role"], "member");
    EXPECT_EQ(audit_log().back().target, "cert:" + fp);

    r = call("GET", "/v1/certificates", "", admin_);
    ASSERT_EQ(r->body["certificates"].size(), 1u);
    EXPECT_FALSE(r->body["certificates"][0].contains("private_key"));

    const ClientCertificate cert{fp, "ntp1", true, ""};
    subscribe(9, "ntp1");
    EXPECT_TRUE(hub_.connected("ntp1"));
    r = call("DELETE", "/v1/certificates/" + fp, "", admin_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body["revoked"], now_s());
    EXPECT_FALSE(hub_.connected("ntp1")) << "a revoked member's subscription ends";
    EXPECT_EQ(call("GET", "/v1/subscribe", "", std::nullopt, cert,
                   {{"Connection", "Upgrade"}, {"Upgrade", "nanotime-subscription/1"}})
                  ->status,
              401u);
    EXPECT_EQ(call("DELETE", "/v1/certificates/" + fp, "", admin_)->status, 404u);
}

TEST_F(ApiTest, CertificateBodiesAreChecked) {
    for (const char* body :
         {R"({"name":"a/b","role":"member"})", R"({"name":"a","role":"x"})",
          R"({"name":"a","role":"member","days":0})", R"({"name":"a","role":"member","csr":"x"})",
          R"({"name":"a","role":"member","csr":5})"}) {
        EXPECT_EQ(call("POST", "/v1/certificates", body, admin_)->status, 400u) << body;
    }
    EXPECT_TRUE(store_.list_certificates().empty());
}

// --- members and the relay ------------------------------------------------------

TEST_F(ApiTest, MembersListGetDelete) {
    subscribe(3, "ntp1");
    hub_.receive(3, encode_message(DaemonMessage{State{1, json{{"status", {{"leap", 0}}}}}}),
                 now_ms_);
    auto r = call("GET", "/v1/members", "", monitor_);
    ASSERT_EQ(r->status, 200u);
    ASSERT_EQ(r->body["members"].size(), 1u);
    EXPECT_EQ(r->body["members"][0]["name"], "ntp1");
    EXPECT_EQ(r->body["members"][0]["connected"], true);
    EXPECT_EQ(r->body["members"][0]["roles"], json::array({"server"}));
    r = call("GET", "/v1/members/ntp1", "", monitor_);
    EXPECT_EQ(r->body["state"], (json{{"status", {{"leap", 0}}}}));
    EXPECT_EQ(r->body["state_seq"], 1);
    EXPECT_EQ(call("GET", "/v1/members/nope", "", monitor_)->status, 404u);
    EXPECT_EQ(call("DELETE", "/v1/members/ntp1", "", operator_)->status, 403u);
    r = call("DELETE", "/v1/members/ntp1", "", admin_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_FALSE(hub_.connected("ntp1"));
    EXPECT_EQ(call("GET", "/v1/members", "", monitor_)->body["members"].size(), 0u);
    EXPECT_EQ(call("DELETE", "/v1/members/ntp1", "", admin_)->status, 404u);
    EXPECT_EQ(audit_log().back().result, "failed: no such member");
}

TEST_F(ApiTest, RelayForwardsACommandAndReturnsTheResult) {
    subscribe(4, "ntp1");
    const auto r =
        call("POST", "/v1/members/ntp1/control", R"({"command":"makestep","id":7})", operator_);
    EXPECT_FALSE(r->answered) << "waits for the member";
    const auto& command = std::get<Command>(frames_[4].back());
    EXPECT_EQ(command.actor, "token:2");
    EXPECT_EQ(command.request, (json{{"command", "makestep"}, {"id", 7}}));
    const json response = {
        {"ok", true}, {"command", "makestep"}, {"id", 7}, {"data", {{"step_armed", true}}}};
    hub_.receive(4, encode_message(DaemonMessage{Result{command.id, response}}), now_ms_);
    ASSERT_TRUE(r->answered);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, response) << "the control response object, as the member sent it";
    EXPECT_EQ(audit_log().back().action, "relay makestep");
    EXPECT_EQ(audit_log().back().target, "ntp1");
    EXPECT_EQ(audit_log().back().result, "ok");
}

// A management command's arguments ("source", "value") travel with it; the
// role is the operator's, as for every privileged command.
TEST_F(ApiTest, RelayCarriesAManagementCommandsArguments) {
    subscribe(4, "ntp1");
    const char* body = R"({"command":"minpoll","source":"192.0.2.1","value":4})";
    EXPECT_EQ(call("POST", "/v1/members/ntp1/control", body, monitor_)->status, 403u);
    const auto r = call("POST", "/v1/members/ntp1/control", body, operator_);
    EXPECT_FALSE(r->answered) << r->body.dump();
    const auto& command = std::get<Command>(frames_[4].back());
    EXPECT_EQ(command.request,
              (json{{"command", "minpoll"}, {"source", "192.0.2.1"}, {"value", 4}}));
    for (const char* cmd : {"burst", "online", "offline", "maxpoll"}) {
        EXPECT_EQ(call("POST", "/v1/members/ntp1/control", json{{"command", cmd}}.dump(), monitor_)
                      ->status,
                  403u)
            << cmd;
    }
}

TEST_F(ApiTest, RelayOfAReadViewNeedsMonitorOnly) {
    subscribe(4, "ntp1");
    const auto r = call("POST", "/v1/members/ntp1/control", R"({"command":"tracking"})", monitor_);
    const auto& command = std::get<Command>(frames_[4].back());
    hub_.receive(4, encode_message(DaemonMessage{Result{command.id, {{"ok", true}, {"data", {}}}}}),
                 now_ms_);
    EXPECT_EQ(r->status, 200u);
}

// clients is a read view (monitor); clients with "reset" zeroes counters
// on the member: operator, and audited.
TEST_F(ApiTest, RelayOfClientsNeedsOperatorOnlyToReset) {
    subscribe(4, "ntp1");
    call("POST", "/v1/members/ntp1/control", R"({"command":"clients"})", monitor_);
    EXPECT_EQ(std::get<Command>(frames_[4].back()).request, (json{{"command", "clients"}}));
    const char* reset = R"({"command":"clients","reset":true})";
    EXPECT_EQ(call("POST", "/v1/members/ntp1/control", reset, monitor_)->status, 403u);
    const auto r = call("POST", "/v1/members/ntp1/control", reset, operator_);
    EXPECT_FALSE(r->answered) << r->body.dump();
    const auto& command = std::get<Command>(frames_[4].back());
    EXPECT_EQ(command.request, (json{{"command", "clients"}, {"reset", true}}));
    hub_.receive(4, encode_message(DaemonMessage{Result{command.id, {{"ok", true}, {"data", {}}}}}),
                 now_ms_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(audit_log().back().action, "relay clients");
    EXPECT_EQ(audit_log().back().result, "ok");
}

TEST_F(ApiTest, RelayTimesOutWith504) {
    subscribe(4, "ntp1");
    const auto r = call("POST", "/v1/members/ntp1/control", R"({"command":"reload"})", operator_);
    hub_.tick(now_ms_ + kRelayTimeoutMs - 1);
    EXPECT_FALSE(r->answered);
    hub_.tick(now_ms_ + kRelayTimeoutMs);
    ASSERT_TRUE(r->answered);
    EXPECT_EQ(r->status, 504u);
    EXPECT_EQ(audit_log().back().result, "failed: no response within 10 s");
    // A late result is dropped.
    const auto& command = std::get<Command>(frames_[4].back());
    hub_.receive(4, encode_message(DaemonMessage{Result{command.id, {{"ok", true}}}}), now_ms_);
    EXPECT_TRUE(hub_.connected("ntp1"));
}

TEST_F(ApiTest, RelayToAnAbsentOrUnknownMemberOrCommand) {
    store_.member_hello("ntp2", "h", "v", "[]", now_s());
    EXPECT_EQ(call("POST", "/v1/members/ntp2/control", R"({"command":"status"})", monitor_)->status,
              503u);
    EXPECT_EQ(call("POST", "/v1/members/nope/control", R"({"command":"status"})", monitor_)->status,
              404u);
    const auto r = call("POST", "/v1/members/ntp2/control", R"({"command":"rm -rf"})", admin_);
    EXPECT_EQ(r->status, 400u);
    EXPECT_EQ(r->body["error"], "unknown command \"rm -rf\"");
    EXPECT_EQ(call("POST", "/v1/members/ntp2/control", R"({"cmd":"status"})", admin_)->status,
              400u);
}

TEST_F(ApiTest, RelayWaiterHearsWhenTheMemberGoesAway) {
    subscribe(4, "ntp1");
    const auto r = call("POST", "/v1/members/ntp1/control", R"({"command":"status"})", monitor_);
    hub_.closed(4, now_ms_);
    ASSERT_TRUE(r->answered);
    EXPECT_EQ(r->status, 504u);
}

// --- audit and streams ------------------------------------------------------------

TEST_F(ApiTest, AuditIsReadableByAdminsInPages) {
    call("GET", "/v1/members");  // denied: one line
    call("GET", "/v1/members");
    call("GET", "/v1/members");
    auto r = call("GET", "/v1/audit?limit=2", "", admin_);
    ASSERT_EQ(r->status, 200u);
    ASSERT_EQ(r->body["entries"].size(), 2u);
    EXPECT_EQ(r->body["entries"][0]["seq"], 1);
    EXPECT_EQ(r->body["entries"][0]["status"], 401);
    r = call("GET", "/v1/audit?after=2", "", admin_);
    EXPECT_EQ(r->body["entries"].size(), 1u);
    EXPECT_EQ(call("GET", "/v1/audit?limit=0", "", admin_)->status, 400u);
    EXPECT_EQ(call("GET", "/v1/audit?after=x", "", admin_)->status, 400u);
    EXPECT_EQ(call("GET", "/v1/audit", "", monitor_)->status, 403u);
}

TEST_F(ApiTest, StreamsAreServerSentEvents) {
    auto r = call("GET", "/v1/events", "", monitor_);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->after, After::StreamFleet);
    EXPECT_EQ(r->response.content_type, "text/event-stream");
    r = call("GET", "/v1/audit/stream", "", admin_);
    EXPECT_EQ(r->after, After::StreamAudit);
    EXPECT_EQ(call("GET", "/v1/audit/stream", "", operator_)->status, 403u);
}

// GET /v1/members: each member's health from its last state, once it sent one.
TEST_F(ApiTest, MemberListCarriesHealthFromTheLastState) {
    subscribe(5, "ntp1");
    subscribe(6, "ntp2");
    const json data = {{"status", {{"synchronized", true}, {"stratum", 3}}},
                       {"tracking", {{"system_offset_s", 2.5e-6}, {"frequency_ppm", -4.0}}}};
    hub_.receive(5, encode_message(DaemonMessage{State{1, data}}), now_ms_);
    const auto r = call("GET", "/v1/members", "", monitor_);
    ASSERT_EQ(r->status, 200u);
    std::map<std::string, json> by_name;
    for (const json& m : r->body["members"]) by_name[m["name"]] = m;
    ASSERT_TRUE(by_name["ntp1"].contains("health")) << r->body;
    EXPECT_EQ(by_name["ntp1"]["health"]["synchronized"], true);
    EXPECT_EQ(by_name["ntp1"]["health"]["stratum"], 3);
    EXPECT_EQ(by_name["ntp1"]["health"]["offset_s"], 2.5e-6);
    EXPECT_EQ(by_name["ntp1"]["health"]["frequency_ppm"], -4.0);
    EXPECT_FALSE(by_name["ntp2"].contains("health")) << "no state yet: no health";
}

// GET /metrics: monitors and up; the daemon's own metrics, then the fleet's.
TEST_F(ApiTest, MetricsNeedAMonitorAndShowTheFleet) {
    EXPECT_EQ(call("GET", "/metrics")->status, 401u);
    subscribe(5, "ntp1");
    const auto r = call("GET", "/metrics", "", monitor_);
    ASSERT_EQ(r->status, 200u);
    EXPECT_EQ(r->response.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(r->response.body.rfind("# the daemon's own\n", 0), 0u) << r->response.body;
    EXPECT_NE(r->response.body.find("nanotime_member_subscribed{member=\"ntp1\"} 1\n"),
              std::string::npos)
        << r->response.body;
}

}  // namespace
}  // namespace nanotime::broker::testing
