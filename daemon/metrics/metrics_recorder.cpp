// metrics_recorder.cpp - offset histograms from successive snapshots (see
// metrics_recorder.hpp).
#include "metrics/metrics_recorder.hpp"

namespace nanotime::metrics {

MetricsRecorder::MetricsRecorder() : system_(offset_buckets()) {}

void MetricsRecorder::observe(const ctl::DaemonSnapshot& snapshot) {
    const ctl::TrackingInfo& t = snapshot.tracking;
    if (t.reference_time_s != 0 && t.reference_time_s != last_reference_time_s_) {
        last_reference_time_s_ = t.reference_time_s;
        system_.observe(t.system_offset_s);
    }
    std::map<std::pair<std::string, std::string>, SourceRecord> kept;
    for (const ctl::SourceInfo& s : snapshot.sources) {
        auto key = std::make_pair(s.name, s.address);
        auto old = sources_.find(key);
        SourceRecord r = old != sources_.end() ? std::move(old->second)
                                               : SourceRecord{0, Histogram(offset_buckets())};
        if (s.sample_time_s != 0 && s.sample_time_s != r.last_sample_time_s) {
            r.last_sample_time_s = s.sample_time_s;
            r.offsets.observe(s.offset_s);
        }
        kept.insert_or_assign(std::move(key), std::move(r));
    }
    sources_ = std::move(kept);
}

HistogramData MetricsRecorder::source_offset(const std::string& name,
                                             const std::string& address) const {
    const auto it = sources_.find(std::make_pair(name, address));
    return it != sources_.end() ? it->second.offsets.data() : HistogramData{};
}

}  // namespace nanotime::metrics
