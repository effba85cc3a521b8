// utc_text.hpp - a UTC calendar time as text for log messages.
#pragma once

#include <cstdint>
#include <string>

namespace nanotime::io {

// "2017-01-01 00:00:00 UTC" for @unix_seconds (seconds since 1970, UTC;
// fmt/chrono, proleptic Gregorian, no time zone database involved).
std::string utc_text(int64_t unix_seconds);

}  // namespace nanotime::io
