// member_state.cpp - a member's state and event summary (see member_state.hpp).
#include "broker/member_state.hpp"

#include <nlohmann/json.hpp>

#include "ctl/handler.hpp"

namespace nanotime::broker {

using nlohmann::json;

json state_data(const ctl::DaemonSnapshot& snapshot) {
    json data = json::object();
    const ctl::Caller reader{};  // read views need no privilege
    for (std::string_view view : kStateViews) {
        const ctl::HandlerResult r =
            ctl::handle_request(json{{"command", view}}.dump(), reader, snapshot);
        json response = json::parse(r.response, nullptr, /*allow_exceptions=*/false);
        if (response.is_object() && response.value("ok", false) && response.contains("data") &&
            response["data"].is_object())
            data[std::string(view)] = std::move(response["data"]);
    }
    return data;
}

Observation observation_of(const ctl::DaemonSnapshot& snapshot, uint64_t clock_steps) {
    Observation o;
    for (const ctl::SourceInfo& s : snapshot.sources) {
        if (s.state == "selected") {
            o.selected_source = s.name;
            break;
        }
    }
    o.synchronized = snapshot.status.synchronized;
    o.leap = snapshot.status.leap;
    o.clock_steps = clock_steps;
    return o;
}

}  // namespace nanotime::broker
