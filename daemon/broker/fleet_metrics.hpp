// fleet_metrics.hpp - the broker's view of its fleet for Prometheus, sans
// I/O: one scrape of the broker's /metrics gives every member's health
// (subscribed or not, synchronised, stratum, offset, frequency, root delay
// and dispersion, age of its last state) besides the broker's own counters.
//
// Fed the SubscriptionHub's fleet changes (the same JSON objects the
// Server-Sent Events stream carries) as they happen, so a scrape renders a
// few numbers per member and never parses members' state documents: a
// fleet of 10 000 costs one summary of ~100 bytes each, not their states.
// Seeded from the store at start (the last-known states survive a broker
// restart; members count as unsubscribed until they subscribe again).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_api.hpp"
#include "broker/broker_store.hpp"
#include "metrics/exposition.hpp"

namespace nanotime::broker {

class FleetMetrics {
  public:
    // What a member's state says about its health (units in the names).
    struct Health {
        bool synchronized = false;
        int stratum = 16;
        double offset_s = 0;  // the system offset it last worked from
        double frequency_ppm = 0;
        double root_delay_s = 0;
        double root_dispersion_s = 0;
        unsigned sources = 0;
        unsigned sources_reachable = 0;
    };
    // The health in a state's data ({"status":{...},"tracking":{...}}), or
    // none when it has neither view (a member reporting something else).
    static std::optional<Health> health_of(const nlohmann::json& data);

    // The members the store knows, with their last-known state.
    void seed(const std::vector<MemberInfo>& members);
    // One fleet change from the hub, at @now_unix_s (the broker's clock).
    void observe(const nlohmann::json& change, double now_unix_s);
    // The nanotime_broker_* and nanotime_member_* families.
    void render(metrics::Exposition& out) const;

    size_t members() const { return members_.size(); }
    // @member's health from its last state, if it has sent one.
    std::optional<Health> health(const std::string& member) const;

  private:
    struct Member {
        bool connected = false;
        double last_state_unix_s = 0;  // 0: no state yet
        std::optional<Health> health;
    };
    Member& member(const std::string& name);

    std::map<std::string, Member> members_;  // by name: a stable scrape order
    uint64_t states_ = 0;
    uint64_t events_ = 0;
    uint64_t connects_ = 0;
    uint64_t disconnects_ = 0;
};

// {"synchronized":..,"stratum":..,"offset_s":..,...}: the member list's "health".
nlohmann::json to_json(const FleetMetrics::Health& h);

// GET /metrics (monitor): @own_text (the daemon's own metrics, as
// [metrics] serves them; empty before the first publication), then @fleet's
// families, so one scrape of the broker watches the whole fleet. @fleet
// must outlive @api.
void add_metrics_endpoint(BrokerApi& api, const FleetMetrics& fleet,
                          std::function<std::string()> own_text);

}  // namespace nanotime::broker
