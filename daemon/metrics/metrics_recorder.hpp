// metrics_recorder.hpp - the exporter's offset histograms, fed from the
// snapshots the daemon's main loop builds (about once a second) rather
// than from the NTP path: a clock update shows as a new reference time, a
// source's new sample as a new sample time. Polls are 1 s apart at the
// least (minpoll 0), so one snapshot a second sees every update of a
// source; two clock updates within one second count once.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "ctl/snapshot.hpp"
#include "metrics/histogram.hpp"

namespace nanotime::metrics {

class MetricsRecorder {
  public:
    MetricsRecorder();
    void observe(const ctl::DaemonSnapshot& snapshot);
    // The offsets of clock updates (s).
    const HistogramData& system_offset() const { return system_.data(); }
    // The offsets of one source's samples (s); empty data for a source not
    // in the last snapshot.
    HistogramData source_offset(const std::string& name, const std::string& address) const;

  private:
    struct SourceRecord {
        double last_sample_time_s = 0;  // Unix s of the newest sample seen, 0: none
        Histogram offsets;
    };
    Histogram system_;
    double last_reference_time_s_ = 0;  // Unix s of the last clock update seen, 0: none
    // By (name, address); only the sources of the last snapshot are kept.
    std::map<std::pair<std::string, std::string>, SourceRecord> sources_;
};

}  // namespace nanotime::metrics
