// fleet_metrics.cpp - the fleet's health for Prometheus (see fleet_metrics.hpp).
#include "broker/fleet_metrics.hpp"

namespace nanotime::broker {

using nlohmann::json;

namespace {

// @object[@key] as a number, or @fallback when it is missing or not a number
// (a member of another version may lack a field: never a parse error here).
double number(const json& object, const char* key, double fallback) {
    const auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace

std::optional<FleetMetrics::Health> FleetMetrics::health_of(const json& data) {
    if (!data.is_object()) return std::nullopt;
    const auto status = data.find("status");
    const auto tracking = data.find("tracking");
    const bool has_status = status != data.end() && status->is_object();
    const bool has_tracking = tracking != data.end() && tracking->is_object();
    if (!has_status && !has_tracking) return std::nullopt;
    Health h;
    if (has_status) {
        const auto sync = status->find("synchronized");
        h.synchronized = sync != status->end() && sync->is_boolean() && sync->get<bool>();
        h.stratum = static_cast<int>(number(*status, "stratum", 16));
        h.sources = static_cast<unsigned>(number(*status, "sources", 0));
        h.sources_reachable = static_cast<unsigned>(number(*status, "sources_reachable", 0));
    }
    if (has_tracking) {
        h.stratum = static_cast<int>(number(*tracking, "stratum", h.stratum));
        h.offset_s = number(*tracking, "system_offset_s", 0);
        h.frequency_ppm = number(*tracking, "frequency_ppm", 0);
        h.root_delay_s = number(*tracking, "root_delay_s", 0);
        h.root_dispersion_s = number(*tracking, "root_dispersion_s", 0);
    }
    return h;
}

std::optional<FleetMetrics::Health> FleetMetrics::health(const std::string& member) const {
    const auto it = members_.find(member);
    return it == members_.end() ? std::nullopt : it->second.health;
}

json to_json(const FleetMetrics::Health& h) {
    return {{"synchronized", h.synchronized}, {"stratum", h.stratum},
            {"offset_s", h.offset_s},         {"frequency_ppm", h.frequency_ppm},
            {"root_delay_s", h.root_delay_s}, {"root_dispersion_s", h.root_dispersion_s},
            {"sources", h.sources},           {"sources_reachable", h.sources_reachable}};
}

FleetMetrics::Member& FleetMetrics::member(const std::string& name) {
    return members_[name];
}

void FleetMetrics::seed(const std::vector<MemberInfo>& members) {
    for (const MemberInfo& m : members) {
        Member& entry = member(m.name);
        if (m.state_time) entry.last_state_unix_s = static_cast<double>(*m.state_time);
        entry.health = health_of(json::parse(m.state_json, nullptr, /*allow_exceptions=*/false));
    }
}

void FleetMetrics::observe(const json& change, double now_unix_s) {
    if (!change.is_object()) return;
    const auto type = change.find("type");
    const auto name = change.find("member");
    if (type == change.end() || !type->is_string() || name == change.end() || !name->is_string())
        return;
    const std::string& kind = type->get_ref<const std::string&>();
    if (kind == "member_connected") {
        member(*name).connected = true;
        ++connects_;
    } else if (kind == "member_disconnected") {
        member(*name).connected = false;
        ++disconnects_;
    } else if (kind == "state") {
        Member& m = member(*name);
        m.connected = true;
        m.last_state_unix_s = now_unix_s;
        const auto data = change.find("data");
        if (data != change.end()) m.health = health_of(*data);
        ++states_;
    } else if (kind == "event") {
        ++events_;
    } else if (kind == "member_deleted") {
        members_.erase(name->get<std::string>());
    }
}

void FleetMetrics::render(metrics::Exposition& out) const {
    using metrics::MetricType;
    size_t connected = 0;
    for (const auto& [name, m] : members_) connected += m.connected ? 1 : 0;
    out.family("nanotime_broker_members", MetricType::Gauge,
               "Fleet members the broker knows, by whether they are subscribed now.");
    out.sample({{"subscribed", "true"}}, static_cast<uint64_t>(connected));
    out.sample({{"subscribed", "false"}}, static_cast<uint64_t>(members_.size() - connected));
    out.family("nanotime_broker_state_messages_total", MetricType::Counter,
               "State messages received from members since the broker started.");
    out.sample({}, states_);
    out.family("nanotime_broker_event_messages_total", MetricType::Counter,
               "Event messages (step, leap, source selected or lost) received from members.");
    out.sample({}, events_);
    out.family("nanotime_broker_subscriptions_total", MetricType::Counter,
               "Subscriptions opened (welcomed) and ended since the broker started.");
    out.sample({{"event", "opened"}}, connects_);
    out.sample({{"event", "ended"}}, disconnects_);

    out.family("nanotime_member_subscribed", MetricType::Gauge,
               "1 while the member's subscription is live.");
    for (const auto& [name, m] : members_) out.sample({{"member", name}}, m.connected ? 1.0 : 0.0);
    out.family("nanotime_member_last_state_timestamp_seconds", MetricType::Gauge,
               "Unix time (broker's clock) of the member's last state message; 0: none yet.");
    for (const auto& [name, m] : members_) out.sample({{"member", name}}, m.last_state_unix_s);

    struct Field {
        const char* name;
        MetricType type;
        const char* help;
        double (*value)(const Health&);
    };
    static const Field kFields[] = {
        {"nanotime_member_synchronized", MetricType::Gauge,
         "1 when the member's last state says it is synchronised.",
         [](const Health& h) { return h.synchronized ? 1.0 : 0.0; }},
        {"nanotime_member_stratum", MetricType::Gauge, "The member's stratum (16: unsynchronised).",
         [](const Health& h) { return static_cast<double>(h.stratum); }},
        {"nanotime_member_offset_seconds", MetricType::Gauge,
         "The member's system offset, the one its last clock update worked from (s).",
         [](const Health& h) { return h.offset_s; }},
        {"nanotime_member_frequency_offset_ratio", MetricType::Gauge,
         "The member clock's frequency correction (ratio, 1e-6 = 1 ppm).",
         [](const Health& h) { return h.frequency_ppm / 1e6; }},
        {"nanotime_member_root_delay_seconds", MetricType::Gauge,
         "The member's root delay as it serves it (s).",
         [](const Health& h) { return h.root_delay_s; }},
        {"nanotime_member_root_dispersion_seconds", MetricType::Gauge,
         "The member's root dispersion as it serves it (s).",
         [](const Health& h) { return h.root_dispersion_s; }},
        {"nanotime_member_sources_reachable", MetricType::Gauge, "The member's reachable sources.",
         [](const Health& h) { return static_cast<double>(h.sources_reachable); }},
    };
    for (const Field& f : kFields) {
        out.family(f.name, f.type, f.help);
        for (const auto& [name, m] : members_)
            if (m.health) out.sample({{"member", name}}, f.value(*m.health));
    }
}

namespace {

class MetricsEndpoint final : public Endpoint {
  public:
    MetricsEndpoint(const FleetMetrics& fleet, std::function<std::string()> own_text)
        : fleet_(fleet), own_text_(std::move(own_text)) {}
    std::optional<Role> needed_role(const Call&, std::string&) const override {
        return Role::Monitor;
    }
    void serve(const Call&, ReplyFn reply) override {
        http::Response r;
        r.content_type = metrics::kExpositionContentType;
        r.body = own_text_();
        metrics::Exposition fleet;
        fleet_.render(fleet);
        r.body += fleet.text();
        reply(Reply{std::move(r)});
    }

  private:
    const FleetMetrics& fleet_;
    std::function<std::string()> own_text_;
};

}  // namespace

void add_metrics_endpoint(BrokerApi& api, const FleetMetrics& fleet,
                          std::function<std::string()> own_text) {
    api.set_fleet(&fleet);
    api.add_endpoint("GET", "/metrics",
                     std::make_shared<MetricsEndpoint>(fleet, std::move(own_text)));
}

}  // namespace nanotime::broker
