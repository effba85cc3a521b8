// non_ascii.hpp - refuse non-ASCII configuration text before toml++ sees it.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace nanotime::config {

// The first non-ASCII character outside a comment, as an error at its
// line and column; nullopt when the text is ASCII outside comments.
std::optional<ConfigError> find_non_ascii(std::string_view text, std::string_view file);

}  // namespace nanotime::config
