// broker_fixture.hpp - a broker without sockets for the tests: an
// in-memory store, a CA, the subscription hub with recorded I/O and the
// /v1 API, plus helpers to call it as a token or certificate holder.
#pragma once

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_api.hpp"
#include "broker/fleet_metrics.hpp"

namespace nanotime::broker::testing {

using nlohmann::json;

// Cheap scrypt for the tests (production: N = 2^14).
inline constexpr ScryptCost kFastScrypt{1024, 8, 1};

class BrokerFixture : public ::testing::Test {
  protected:
    BrokerFixture()
        : store_(":memory:", kFastScrypt),
          hub_(store_, hub_io(), 5,
               [this](const json& e) {
                   published_.push_back(e);
                   fleet_.observe(e, static_cast<double>(now_ms_) / 1000);
               }),
          api_(store_, &ca_, hub_) {
        add_v1_endpoints(api_);
        add_metrics_endpoint(api_, fleet_, [] { return std::string("# the daemon's own\n"); });
        api_.on_audit = [this](const AuditEntry& e) { audited_.push_back(e); };
        admin_ = store_.create_token("root", Role::Admin, std::nullopt, "test", now_s()).token;
        operator_ = store_.create_token("op", Role::Operator, std::nullopt, "test", now_s()).token;
        monitor_ = store_.create_token("mon", Role::Monitor, std::nullopt, "test", now_s()).token;
    }

    int64_t now_s() const { return now_ms_ / 1000; }

    SubscriptionHub::Io hub_io() {
        SubscriptionHub::Io io;
        io.send = [this](uint64_t conn, std::vector<uint8_t> bytes) {
            auto& reader = sent_[conn];
            reader.feed(bytes);
            while (auto m = reader.next()) {
                EXPECT_TRUE(m->message) << m->error;
                if (m->message) frames_[conn].push_back(*m->message);
            }
        };
        io.close = [this](uint64_t conn) { closed_.push_back(conn); };
        return io;
    }

    struct CallResult {
        unsigned status = 0;
        json body;
        After after = After::Respond;
        std::string member;
        http::Response response;
        bool answered = false;
    };

    // Calls the API; the result is filled when the reply comes (at once
    // for all but a relay).
    std::shared_ptr<CallResult> call(
        const std::string& method, const std::string& target, const std::string& body = "",
        std::optional<std::string> token = std::nullopt,
        std::optional<ClientCertificate> certificate = std::nullopt,
        std::vector<std::pair<std::string, std::string>> headers = {}) {
        http::Request r;
        r.method = method;
        r.target = target;
        r.body = body;
        r.headers = std::move(headers);
        if (token) r.headers.emplace_back("Authorization", "Bearer " + *token);
        Peer peer;
        peer.address = address_ + ":40000";
        peer.host = address_;
        peer.certificate = std::move(certificate);
        auto result = std::make_shared<CallResult>();
        api_.handle(r, peer, now_ms_, [result](Reply reply) {
            EXPECT_FALSE(result->answered) << "replied twice";
            result->answered = true;
            result->status = reply.response.status;
            result->response = reply.response;
            result->after = reply.after;
            result->member = reply.member;
            if (reply.response.content_type == "application/json")
                result->body = json::parse(reply.response.body);
        });
        return result;
    }

    // A certificate issued by the broker's CA and registered, as TLS reports it.
    ClientCertificate certificate_for(const std::string& name, Role role) {
        const auto issued = ca_.issue(name, role, now_s(), 30, "", "test");
        store_.add_certificate(issued.info);
        return ClientCertificate{issued.info.fingerprint, name, true, ""};
    }

    // A member subscribed on @conn, welcomed.
    void subscribe(uint64_t conn, const std::string& member) {
        hub_.open(conn, member, now_ms_);
        hub_.receive(
            conn, encode_message(DaemonMessage{Hello{1, member + ".example", "1.0", {"server"}}}),
            now_ms_);
        ASSERT_FALSE(frames_[conn].empty());
        ASSERT_TRUE(std::holds_alternative<Welcome>(frames_[conn].back()));
    }

    // The audit lines written so far.
    std::vector<AuditEntry> audit_log() { return store_.read_audit(0, 1000); }

    static inline const CertificateAuthority::Pem ca_pem_ = CertificateAuthority::create(
        "test broker CA", static_cast<int64_t>(std::time(nullptr)), 30);
    CertificateAuthority ca_{ca_pem_.certificate_pem, ca_pem_.private_key_pem};
    int64_t now_ms_ = static_cast<int64_t>(std::time(nullptr)) * 1000;
    std::string address_ = "192.0.2.7";
    std::map<uint64_t, BrokerMessageReader> sent_;
    std::map<uint64_t, std::vector<BrokerMessage>> frames_;
    std::vector<uint64_t> closed_;
    std::vector<json> published_;
    std::vector<AuditEntry> audited_;
    FleetMetrics fleet_;  // before api_: its /metrics endpoint reads it
    BrokerStore store_;
    SubscriptionHub hub_;
    BrokerApi api_;
    std::string admin_, operator_, monitor_;
};

}  // namespace nanotime::broker::testing
