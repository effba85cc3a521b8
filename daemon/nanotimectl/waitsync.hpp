// waitsync.hpp - `nanotimectl waitsync`: wait until nanotimed is
// synchronised (and close enough), for scripts and systemd ExecStartPost,
// as chronyc's waitsync. The decision is a pure function of the daemon's
// tracking answer; the loop around it asks, sleeps and counts tries.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "ctl/snapshot.hpp"

namespace nanotime::ctl {

struct WaitSyncOptions {
    unsigned tries = 0;       // 0: no limit
    double max_offset_s = 0;  // 0: any offset; else |system offset| at most this
    double max_skew_ppm = 0;  // 0: any skew
    double interval_s = 10;   // between tries
};

// Does this tracking answer say "synchronised, within the limits"?
bool sync_reached(const TrackingInfo& tracking, const WaitSyncOptions& options);

// One line for the operator about @tracking ("try 3: not synchronised").
std::string waitsync_line(unsigned attempt, const std::optional<TrackingInfo>& tracking,
                          const std::string& error);

// Asks @ask_tracking (nothing and @error set: the daemon did not answer)
// until sync_reached or @options.tries are spent, calling @sleep_s between
// tries and @report after each. Returns the exit status: 0 reached, 1 not.
int wait_sync(const WaitSyncOptions& options,
              const std::function<std::optional<TrackingInfo>(std::string* error)>& ask_tracking,
              const std::function<void(double seconds)>& sleep_s,
              const std::function<void(const std::string& line)>& report);

}  // namespace nanotime::ctl
