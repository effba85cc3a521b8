// format.hpp - nanotimectl's human-readable tables, from the daemon's JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace nanotime::ctl {

// @command is the request's command, @data the response's "data" member.
std::string format_human(const std::string& command, const nlohmann::json& data);

// nanotimectl clients: the order of the rows printed.
enum class ClientOrder { LastSeen, Packets };
// Keeps the rows of a clients view's @data with at least @min_packets NTP
// requests (chronyc clients -p), in @order: most recently seen first (as
// the daemon sends them) or most requests first. Counts of the whole view
// (tracked, truncated) are left as they are.
void select_clients(nlohmann::json& data, uint64_t min_packets, ClientOrder order);

// "12.345 us", "-1.200 ms", "3.000 s"
std::string format_seconds(double s);

}  // namespace nanotime::ctl
