// ctl_json_dump - every read view of the control protocol as the handler
// answers it, for a snapshot with one entry in every list: one JSON object
// {"<command>": <data>, ...} on stdout. tests/daemon-io/check_json_schema.py
// holds it against daemon/nanotimectl/nanotimectl.schema.json.
#include <iostream>
#include <nlohmann/json.hpp>

#include "ctl/handler.hpp"

using namespace nanotime::ctl;

int main() {
    DaemonSnapshot s;
    s.sources.emplace_back();
    s.sourcestats.emplace_back();
    s.authdata.emplace_back();
    s.ntpdata.emplace_back();
    s.selectdata.emplace_back();
    s.clients.clients.emplace_back();
    s.status.discipline.faults = {"stalled"};
    s.status.interfaces.emplace_back();
    s.kernel.status = {"STA_PLL"};
    s.kernel.last_events = {"pps-gained 1"};
    s.pps.sources.emplace_back();
    s.pps.bridges.emplace_back();
    Caller caller;
    nlohmann::json out = nlohmann::json::object();
    const nlohmann::json commands =
        nlohmann::json::parse(handle_request(R"({"command":"commands"})", caller, s).response);
    for (const auto& c : commands["data"]["commands"]) {
        if (c["privileged"]) continue;
        const std::string name = c["name"];
        const nlohmann::json req = {{"command", name}};
        const nlohmann::json r =
            nlohmann::json::parse(handle_request(req.dump(), caller, s).response);
        if (!r.value("ok", false)) {
            std::cerr << name << ": " << r.dump() << "\n";
            return 1;
        }
        out[name] = r["data"];
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}
