// utc_text.cpp - UTC calendar text through fmt/chrono.
#include "io/utc_text.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace nanotime::io {

std::string utc_text(int64_t unix_seconds) {
    const std::chrono::sys_seconds t{std::chrono::seconds(unix_seconds)};
    return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", t);
}

}  // namespace nanotime::io
