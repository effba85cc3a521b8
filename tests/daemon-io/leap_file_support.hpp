// leap_file_support.hpp - a valid (or deliberately damaged) leap-seconds.list
// for the daemon's leap tests: TAI - UTC 35 s since 1972, 36 s from
// 2027-01-01 (kLeap), published 200 days before, expiring 180 days after.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "util/digest.hpp"

namespace nanotime::daemon::test {

constexpr int64_t kNtpUnix = 2'208'988'800;
constexpr int64_t kLeap = 1'798'761'600 + kNtpUnix;  // 2027-01-01 00:00:00 UTC (NTP seconds)
constexpr int64_t kDay = 86'400;

// @damage: the leap moved a day without fixing the hash.
inline std::string leap_file(bool damage) {
    const int64_t updated = kLeap - 200 * kDay;
    const int64_t expires = kLeap + 180 * kDay;
    const std::string digits = std::to_string(updated) + std::to_string(expires) + "2272060800" +
                               "35" + std::to_string(kLeap) + "36";
    const auto d = ntp::sha1(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()));
    std::string h = "#h";
    for (int i = 0; i < 5; ++i) {
        char buf[16];
        std::snprintf(buf, sizeof buf, " %02x%02x%02x%02x", d[4 * i], d[4 * i + 1], d[4 * i + 2],
                      d[4 * i + 3]);
        h += buf;
    }
    return "#$ " + std::to_string(updated) + "\n#@ " + std::to_string(expires) +
           "\n2272060800 35 # 1 Jan 1972\n" + std::to_string(damage ? kLeap + kDay : kLeap) +
           " 36" + " # 1 Jan 2027\n" + h + "\n";
}

}  // namespace nanotime::daemon::test
