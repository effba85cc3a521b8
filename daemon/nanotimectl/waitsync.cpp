// waitsync.cpp - nanotimectl waitsync's decision and loop (see waitsync.hpp).
#include "nanotimectl/waitsync.hpp"

#include <cmath>

#include "nanotimectl/format.hpp"

namespace nanotime::ctl {

bool sync_reached(const TrackingInfo& t, const WaitSyncOptions& o) {
    // Synchronised: a reference and a stratum a server would serve.
    if (t.stratum >= 16 || t.reference_id.empty() || t.reference_id == "-") return false;
    if (t.system_offset_age_s < 0) return false;  // no clock update yet
    if (o.max_offset_s > 0 && std::fabs(t.system_offset_s) > o.max_offset_s) return false;
    if (o.max_skew_ppm > 0 && t.skew_ppm > o.max_skew_ppm) return false;
    return true;
}

std::string waitsync_line(unsigned attempt, const std::optional<TrackingInfo>& t,
                          const std::string& error) {
    std::string line = "try " + std::to_string(attempt) + ": ";
    if (!t) return line + "no answer (" + error + ")";
    if (t->stratum >= 16 || t->reference_id == "-") return line + "not synchronised";
    return line + "reference " + t->reference_id + ", stratum " + std::to_string(t->stratum) +
           ", offset " + format_seconds(t->system_offset_s) + ", skew " +
           std::to_string(t->skew_ppm) + " ppm";
}

int wait_sync(const WaitSyncOptions& options,
              const std::function<std::optional<TrackingInfo>(std::string* error)>& ask_tracking,
              const std::function<void(double seconds)>& sleep_s,
              const std::function<void(const std::string& line)>& report) {
    for (unsigned attempt = 1;; ++attempt) {
        std::string error;
        const std::optional<TrackingInfo> t = ask_tracking(&error);
        report(waitsync_line(attempt, t, error));
        if (t && sync_reached(*t, options)) return 0;
        if (options.tries != 0 && attempt >= options.tries) return 1;
        sleep_s(options.interval_s);
    }
}

}  // namespace nanotime::ctl
