#include "ctl/handler.hpp"

#include <array>

#include "algorithm/constants.hpp"
#include "ctl/snapshot_json.hpp"

namespace nanotime::ctl {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 13> kReadCommands = {
    "status",  "tracking",   "sources",  "sourcestats", "authdata", "serverstats", "clients",
    "ntpdata", "selectdata", "activity", "kernel",      "pps",      "commands"};
constexpr std::array<std::string_view, 10> kPrivilegedCommands = {
    "reload",  "makestep", "burst",    "online", "offline",
    "minpoll", "maxpoll",  "leapfile", "add",    "delete"};
// Privileged commands carried out through the ManageFn before the reply.
constexpr std::array<std::string_view, 8> kManageCommands = {
    "burst", "online", "offline", "minpoll", "maxpoll", "leapfile", "add", "delete"};

bool is_manage_command(std::string_view command) {
    for (auto c : kManageCommands) {
        if (c == command) return true;
    }
    return false;
}

// The request's arguments for a management command, or why they are wrong.
std::string manage_arguments(const json& req, const std::string& command, ManageRequest& out) {
    out.command = command;
    if (auto it = req.find("source"); it != req.end()) out.source = it->get<std::string>();
    if (command == "leapfile") {
        auto c = req.find("content");
        if (c == req.end() || !c->is_string())
            return "\"leapfile\" needs the file's text as a \"content\" string";
        if (c->get_ref<const std::string&>().size() > kMaxLeapFileContent) {
            return "leap seconds file larger than " + std::to_string(kMaxLeapFileContent) +
                   " bytes";
        }
        out.content = c->get<std::string>();
        return {};
    }
    if (command == "add") {
        auto c = req.find("content");
        if (c == req.end() || !c->is_string())
            return "\"add\" needs the source as a [[source]] table in a \"content\" string";
        if (c->get_ref<const std::string&>().size() > kMaxSourceContent)
            return "\"add\" content larger than " + std::to_string(kMaxSourceContent) + " bytes";
        out.content = c->get<std::string>();
        return {};
    }
    if (command == "delete" && out.source.empty()) return "\"delete\" needs a \"source\"";
    if (command != "minpoll" && command != "maxpoll") return {};
    if (out.source.empty()) return "\"" + command + "\" needs a \"source\"";
    auto v = req.find("value");
    if (v == req.end() || !v->is_number_integer()) {
        return "\"" + command + "\" needs an integer \"value\" (log2 s)";
    }
    const auto value = v->get<int64_t>();
    if (value < ntp::kMinPoll || value > ntp::kMaxPoll) {
        return command + " " + std::to_string(value) + " is outside " +
               std::to_string(ntp::kMinPoll) + ".." + std::to_string(ntp::kMaxPoll) + " (log2 s)";
    }
    out.value = static_cast<int>(value);
    return {};
}

// Bracket depth outside strings; refuses hostile nesting before the parser sees it.
bool depth_ok(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escape = false;
    for (char c : text) {
        if (in_string) {
            if (escape) {
                escape = false;
            } else if (c == '\\') {
                escape = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') in_string = true;
        if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) return false;
        }
        if (c == ']' || c == '}') --depth;
    }
    return true;
}

// Does @want name this source, by its configured name or its address?
// An empty @want names every source.
template <typename Info>
bool names_source(const Info& info, const std::string& want) {
    return want.empty() || info.name == want || info.address == want;
}

std::string error_response(const std::string& reason, const json& id) {
    json r = {{"ok", false}, {"error", reason}};
    if (!id.is_null()) r["id"] = id;
    return r.dump();
}

}  // namespace

bool is_known_command(std::string_view command) {
    for (auto c : kReadCommands) {
        if (c == command) return true;
    }
    return is_privileged_command(command);
}

bool is_privileged_command(std::string_view command) {
    for (auto c : kPrivilegedCommands) {
        if (c == command) return true;
    }
    return false;
}

bool is_privileged_request(const json& request) {
    const auto command = request.find("command");
    if (command == request.end() || !command->is_string()) return false;
    const auto& name = command->get_ref<const std::string&>();
    if (is_privileged_command(name)) return true;
    const auto reset = request.find("reset");
    return name == "clients" && reset != request.end() && *reset != false;
}

HandlerResult handle_request(std::string_view request, const Caller& caller,
                             const DaemonSnapshot& snap, const ManageFn& manage) {
    HandlerResult result;
    if (!depth_ok(request)) {
        result.response = error_response("request nested too deeply", nullptr);
        return result;
    }
    const json req = json::parse(request, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object()) {
        result.response = error_response("request is not a JSON object", nullptr);
        return result;
    }
    const json id = req.contains("id") ? req["id"] : json();
    auto cmd_it = req.find("command");
    if (cmd_it == req.end() || !cmd_it->is_string()) {
        result.response = error_response("request has no \"command\" string", id);
        return result;
    }
    const std::string command = cmd_it->get<std::string>();
    if (!is_known_command(command)) {
        result.response = error_response("unknown command \"" + command + "\"", id);
        return result;
    }
    if (auto it = req.find("reset"); it != req.end() && !it->is_boolean()) {
        result.response = error_response("\"reset\" must be true or false", id);
        return result;
    }
    if (is_privileged_request(req) && !caller.privileged) {
        const std::string what = is_privileged_command(command) ? command : command + " -r";
        result.response = error_response(
            "permission denied: \"" + what + "\" needs root or the control group", id);
        return result;
    }
    // An optional "source" (name or address) narrows per-source views.
    std::string source;
    if (auto it = req.find("source"); it != req.end()) {
        if (!it->is_string()) {
            result.response = error_response("\"source\" must be a string", id);
            return result;
        }
        source = it->get<std::string>();
    }
    json data;
    if (command == "status") {
        data = snap.status;
    } else if (command == "tracking") {
        data = snap.tracking;
    } else if (command == "sources") {
        data = json{{"sources", snap.sources}};
    } else if (command == "sourcestats") {
        data = json{{"sourcestats", snap.sourcestats}};
    } else if (command == "authdata") {
        data = json{{"authdata", snap.authdata}};
    } else if (command == "ntpdata" || command == "selectdata") {
        json list = json::array();
        if (command == "ntpdata") {
            for (const NtpDataInfo& n : snap.ntpdata)
                if (names_source(n, source)) list.push_back(n);
        } else {
            for (const SelectDataInfo& n : snap.selectdata)
                if (names_source(n, source)) list.push_back(n);
        }
        if (!source.empty() && list.empty()) {
            result.response = error_response("no NTP source \"" + source + "\"", id);
            return result;
        }
        data = json{{command, list}};
    } else if (command == "activity") {
        data = snap.activity;
    } else if (command == "serverstats") {
        data = snap.serverstats;
    } else if (command == "clients") {
        ClientsInfo view = snap.clients;
        if (req.value("reset", false)) {
            result.action = Action::ResetClients;  // after the view was read
            view.reset = true;
        }
        data = view;
    } else if (command == "kernel") {
        data = snap.kernel;
    } else if (command == "pps") {
        data = snap.pps;
    } else if (command == "commands") {
        json list = json::array();
        for (auto c : kReadCommands) list.push_back({{"name", c}, {"privileged", false}});
        for (auto c : kPrivilegedCommands) list.push_back({{"name", c}, {"privileged", true}});
        data = json{{"commands", list}};
    } else if (command == "reload") {
        result.action = Action::Reload;
        data = json{{"reloading", true}};
    } else if (command == "makestep") {
        result.action = Action::MakeStep;
        data = json{{"step_armed", true}};
    } else if (is_manage_command(command)) {
        ManageRequest m;
        if (std::string why = manage_arguments(req, command, m); !why.empty()) {
            result.response = error_response(why, id);
            return result;
        }
        if (!manage) {
            result.response = error_response("\"" + command + "\" is not available here", id);
            return result;
        }
        ManageOutcome done = manage(m);
        if (!done.error.empty()) {
            result.response = error_response(done.error, id);
            return result;
        }
        data = std::move(done.data);
    }
    data["schema_version"] = kJsonSchemaVersion;
    json r = {{"ok", true}, {"command", command}, {"data", data}};
    if (!id.is_null()) r["id"] = id;
    result.response = r.dump();
    return result;
}

}  // namespace nanotime::ctl
