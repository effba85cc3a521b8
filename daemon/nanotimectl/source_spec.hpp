// source_spec.hpp - nanotimectl add's words (chronyc's "add server HOST
// iburst minpoll 4") turned into the [[source]] table the daemon takes.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nanotime::ctl {

// @words: "server" or "pool", the host, then options as in the
// configuration's [[source]] (iburst, xleave, nts, trust; port N, minpoll N,
// maxpoll N, max_sources N, nts_port N; chronyc's maxsources and ntsport
// too). Returns the TOML text, or nullopt and @error (an unknown option, a
// missing or non-integer value). Values are range-checked by the daemon,
// which parses the text as it parses its configuration.
std::optional<std::string> source_toml(const std::vector<std::string>& words, std::string& error);

}  // namespace nanotime::ctl
