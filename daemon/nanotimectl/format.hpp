// format.hpp - nanotimectl's human-readable tables, from the daemon's JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace nanotime::ctl {

// @command is the request's command, @data the response's "data" member.
std::string format_human(const std::string& command, const nlohmann::json& data);

// "12.345 us", "-1.200 ms", "3.000 s"
std::string format_seconds(double s);

}  // namespace nanotime::ctl
