// format_sources.hpp - nanotimectl's tables for the per-source views that
// chronyc operators know: ntpdata, selectdata, activity. One function per
// view, each from the daemon's JSON "data" member.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace nanotime::ctl {

std::string format_ntpdata(const nlohmann::json& data);
std::string format_selectdata(const nlohmann::json& data);
std::string format_activity(const nlohmann::json& data);

}  // namespace nanotime::ctl
