// leap_seconds.hpp - the IETF/IERS leap-seconds.list file, and what it says
// about a given instant.
//
// File format (the file's own header documents it; tzdata ships it as
// /usr/share/zoneinfo/leap-seconds.list):
//   #$ <NTP seconds>         when the file was last updated
//   #@ <NTP seconds>         when it expires (no leap is known after this)
//   #h <5 hex words>         SHA-1 of the data (below), as five 32-bit words
//   <NTP seconds> <TAI-UTC>  [# comment]   from this instant on, TAI-UTC is ...
//   # anything else          a comment
// NTP seconds count from 1900-01-01 00:00 UTC. The hash covers the ASCII
// digits, in file order, of the "#$" line, the "#@" line and each data line
// up to its comment. Words of the hash may omit leading zeros (NIST files did).
//
// Parsing is strict, as for any file the daemon trusts to set the kernel's
// leap state: a missing or wrong hash, a missing update or expiry line,
// entries out of order, a step other than +/-1 s between entries or a
// malformed line is an error with its line number; nothing is half-loaded.
// Sans-IO: the caller reads the file and passes the text and the time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "packet/packet.hpp"
#include "time/ntp_time.hpp"
#include "util/result.hpp"

namespace nanotime::ntp {

inline constexpr size_t kMaxLeapFileBytes = size_t{256} * 1024;
inline constexpr int64_t kSecondsPerDay = 86'400;

struct LeapEntry {
    int64_t ntp_seconds = 0;  // since 1900-01-01 00:00 UTC; on and after it ...
    int tai_offset = 0;       // ... TAI - UTC, seconds
};

struct LeapParseError {
    unsigned line = 0;  // 1-based; 0: the file as a whole
    std::string message;
    std::string to_string() const;
};

// What the table says at one instant.
struct LeapStatus {
    int tai_offset = 0;  // TAI - UTC now; 0 before the first entry
    // A leap second at the end of the current UTC month: InsertSecond or
    // DeleteSecond, for the leap indicator of served packets; else NoWarning.
    LeapIndicator announce = LeapIndicator::NoWarning;
    // The leap second is at the end of the current UTC day: arm the kernel
    // (STA_INS / STA_DEL act at the next UTC midnight).
    bool arm_kernel = false;
    std::optional<int64_t> next_leap;  // NTP seconds of the next leap, if any is known
    bool expired = false;              // now is at or past the expiry
    // Seconds until this status can next change (a month or day boundary
    // before the next leap, the leap itself, or the expiry); nothing when
    // no such boundary remains.
    std::optional<int64_t> next_change_in;
};

class LeapTable {
  public:
    static Result<LeapTable, LeapParseError> parse(std::string_view text);

    int64_t updated() const { return updated_; }  // NTP seconds
    int64_t expires() const { return expires_; }  // NTP seconds
    const std::vector<LeapEntry>& entries() const { return entries_; }
    LeapStatus status_at(NtpInstant now) const;

  private:
    int64_t updated_ = 0;
    int64_t expires_ = 0;
    std::vector<LeapEntry> entries_;
};

// Civil-calendar helpers (proleptic Gregorian, UTC), exposed for tests.
// NTP seconds of 00:00 UTC on the first day of the month containing @ntp_seconds.
int64_t month_start(int64_t ntp_seconds);

}  // namespace nanotime::ntp
