// metrics_data.hpp - everything the Prometheus exporter prints, in one
// value the daemon's main loop builds (about once a second) and hands to
// the exporter's thread: the control socket's snapshot plus what only the
// exporter shows (raw server counters, steps, histograms, per-source root
// delay and dispersion).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ctl/snapshot.hpp"
#include "metrics/histogram.hpp"
#include "server/server_counters.hpp"

namespace nanotime::metrics {

// Parallel to snapshot.sources (same order).
struct SourceMetrics {
    double root_delay_s = 0;       // from the source's last accepted reply
    double root_dispersion_s = 0;  // likewise
    HistogramData offset;          // the offset of each new sample (s)
};

struct MetricsData {
    ctl::DaemonSnapshot snapshot;
    std::vector<SourceMetrics> sources;
    ntp::ServerCounters server;    // every server thread's, added up (server on)
    uint64_t clock_steps = 0;      // the clock stepped (not slewed) by the discipline
    double clock_stepped_s = 0;    // the steps' absolute sizes added up
    HistogramData system_offset;   // the offset each clock update worked from (s)
    HistogramData server_latency;  // request receive timestamp → reply transmit (s)
};

}  // namespace nanotime::metrics
