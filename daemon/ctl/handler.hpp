// handler.hpp - the control protocol's request handler, sans I/O.
//
// Request:  {"command": "<name>", "id": <any, optional>,
//            "source": "<name or address>" (optional: narrows ntpdata, selectdata),
//            "reset": true (optional, clients only: privileged, see below)}
// Response: {"ok": true,  "command": "<name>", "id": <echoed>, "data": {...}}
//           {"ok": false, "error": "<reason>", "id": <echoed>}
// Every "data" object carries "schema_version" (kJsonSchemaVersion, see
// daemon/nanotimectl/JSON-SCHEMA.md).
// Read commands (anyone who can open the socket): status, tracking, sources,
// sourcestats, authdata, serverstats, clients, ntpdata, selectdata, activity,
// kernel, pps, commands.
// Privileged commands (root, or a member of the configured group, decided
// from SO_PEERCRED/SO_PEERGROUPS by the caller):
//   reload, makestep: they only return an Action; the daemon carries it
//     out after the reply.
//   clients "reset": true (chronyc clients -r): the view as read, then
//     Action::ResetClients zeroes the per-client counters after the reply.
//   leapfile "content": a leap-seconds.list text (<= kMaxLeapFileContent)
//     checked, written over [clock] leap_seconds_file and loaded.
//   burst ["source"], online ["source"], offline ["source"] (no source:
//     every NTP source), minpoll "source" "value", maxpoll "source" "value"
//     (chronyc's names; value log2 s, kMinPoll..kMaxPoll): checked here,
//     then carried out by the caller's ManageFn before the reply is framed,
//     so the reply says what was done, or why nothing was.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ctl/snapshot.hpp"

namespace nanotime::ctl {

struct Caller {
    uint32_t uid = 0;
    uint32_t gid = 0;
    int32_t pid = 0;
    bool privileged = false;
};

enum class Action { None, Reload, MakeStep, ResetClients };

struct HandlerResult {
    std::string response;  // JSON, ready to frame
    Action action = Action::None;
};

// A management command that changes the daemon at once, its arguments
// checked by the handler.
struct ManageRequest {
    std::string command;  // burst, online, offline, minpoll, maxpoll, leapfile, add, delete
    std::string source;   // a source's name or address; "": every source
    int value = 0;        // minpoll, maxpoll: log2 s
    std::string content;  // leapfile: the leap-seconds.list text; add: one [[source]] (TOML)
};

// leapfile: the largest "content" taken, so that the request (the text
// JSON-escaped) fits in one frame (kMaxRequestFrame).
inline constexpr size_t kMaxLeapFileContent = size_t{48} * 1024;
// add: the largest [[source]] table taken (one entry is ~200 bytes).
inline constexpr size_t kMaxSourceContent = 4096;
// What the daemon did: @error non-empty means refused, nothing changed;
// else @data is the reply's "data" (it carries "message", a sentence).
struct ManageOutcome {
    std::string error;
    nlohmann::json data = nlohmann::json::object();
};
using ManageFn = std::function<ManageOutcome(const ManageRequest&)>;

// The version of the JSON the views answer with: raised when a field changes
// meaning or goes away (adding a field does not raise it).
inline constexpr int kJsonSchemaVersion = 1;

// Nesting deeper than this is refused before parsing.
inline constexpr int kMaxJsonDepth = 16;

// @manage carries out the management commands; without one they are
// refused ("not available").
HandlerResult handle_request(std::string_view request, const Caller& caller,
                             const DaemonSnapshot& snapshot, const ManageFn& manage = {});

// Is @command one the daemon knows, and does it need privilege?
bool is_known_command(std::string_view command);
bool is_privileged_command(std::string_view command);
// Does this request (an object with a "command") need privilege: a
// privileged command, or a read that changes something (clients "reset").
bool is_privileged_request(const nlohmann::json& request);

}  // namespace nanotime::ctl
