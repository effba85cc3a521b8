// leap_manager.hpp - the leap second policy: from the leap-seconds.list file
// (or, without a current one, the system peer's warning) to what the kernel
// should be told and what the server announces.
//
// Like the PI servo it decides and returns what to do (a LeapPlan); it never
// touches a clock. The clock manager carries the plan out on the disciplined
// clock (and CLOCK_REALTIME) and reports back what the kernel took:
//   arm  arm (+1 insert, -1 delete) or disarm (0) the kernel's
//        STA_INS/STA_DEL, on the last day of the month only; asked again at
//        every update until leap_armed() confirms it
//   tai  the kernel's TAI - UTC (ADJ_TAI); asked once per value, failed or
//        not (tai_offered())
// and update() also says when to look again: at the next boundary of the
// file's status (or the end of the day before a leap the sources warn of),
// at least hourly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "algorithm/system_state.hpp"
#include "io/log.hpp"
#include "leap/leap_seconds.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::daemon {

struct ArmLeap {
    int direction = 0;     // +1 insert, -1 delete, 0 disarm
    int64_t midnight = 0;  // NTP seconds: the midnight that ends the day it acts on
    std::string why;       // "leap seconds file" or "warning from the sources"
};

// One update's output, like the PI servo's ServoOutput: what to carry out
// (each at most once) and when to look again.
struct LeapPlan {
    std::optional<ArmLeap> arm;                // arm or disarm the kernel's leap second
    std::optional<int> tai;                    // s, set the kernel's TAI - UTC to this
    std::chrono::seconds recheck_after{3600};  // 1 s ... 1 h
};

class LeapManager {
  public:
    // @path: the leap-seconds.list file, empty for none.
    explicit LeapManager(std::string path) : path_(std::move(path)) {}

    // (Re-)reads the file; a missing or damaged file is logged and keeps the
    // table loaded before.
    void load(ntp::NtpInstant now, io::RateLimitedLog& log);
    // nanotimectl leapfile: @text checked with the parser, written over the
    // file (a temporary file renamed over it) and loaded. Returns what was
    // done, or nothing with @error set (parser's or system's reason) and
    // the file and table unchanged.
    std::optional<std::string> install(const std::string& text, ntp::NtpInstant now,
                                       io::RateLimitedLog& log, std::string& error);
    // What to do at local time @now, with the system state @sys.
    LeapPlan update(ntp::NtpInstant now, const ntp::SystemState& sys);
    // The kernel took the plan's arm (@direction).
    void leap_armed(int direction) { armed_ = direction; }
    // The plan's tai (@tai) was tried (not tried again, failed or not).
    void tai_offered(int tai) { tai_offered_ = tai; }

    // @sys as the server announces it: a current file is authoritative for
    // the warning passed on (as of the last update()).
    ntp::SystemState served(const ntp::SystemState& sys) const;
    const std::optional<ntp::LeapTable>& table() const { return table_; }
    const std::string& path() const { return path_; }
    int armed() const { return armed_; }

  private:
    std::string path_;
    std::optional<ntp::LeapTable> table_;
    int armed_ = 0;         // what the kernel took: +1 insert, -1 delete, 0 none
    int tai_offered_ = -1;  // s, the last TAI offset tried; -1: none yet
    ntp::LeapIndicator file_announce_ = ntp::LeapIndicator::NoWarning;
    bool file_current_ = false;  // loaded and not expired: it decides the leap
};

}  // namespace nanotime::daemon
