// test_metrics_recorder.cpp - offset histograms from successive snapshots:
// a new reference time or sample time counts once, a source that left is
// forgotten.
#include <gtest/gtest.h>

#include "metrics/metrics_recorder.hpp"

namespace nanotime::metrics {
namespace {

ctl::DaemonSnapshot snapshot(double reference_time, double offset, double sample_time) {
    ctl::DaemonSnapshot s;
    s.tracking.reference_time_s = reference_time;
    s.tracking.system_offset_s = offset;
    ctl::SourceInfo src;
    src.name = "a";
    src.address = "192.0.2.1";
    src.sample_time_s = sample_time;
    src.offset_s = offset;
    s.sources.push_back(src);
    return s;
}

TEST(MetricsRecorder, EachUpdateAndSampleCountsOnce) {
    MetricsRecorder r;
    r.observe(snapshot(0, 0.5, 0));  // nothing yet
    EXPECT_EQ(r.system_offset().count, 0u);
    EXPECT_EQ(r.source_offset("a", "192.0.2.1").count, 0u);
    r.observe(snapshot(100, 2e-6, 99));
    r.observe(snapshot(100, 2e-6, 99));  // the same update, seen again
    r.observe(snapshot(116, -3e-6, 115));
    EXPECT_EQ(r.system_offset().count, 2u);
    EXPECT_DOUBLE_EQ(r.system_offset().sum, -1e-6);
    const HistogramData src = r.source_offset("a", "192.0.2.1");
    EXPECT_EQ(src.count, 2u);
    EXPECT_EQ(src.bounds.size() + 1, src.counts.size());
}

TEST(MetricsRecorder, SourcesThatLeftAreForgotten) {
    MetricsRecorder r;
    r.observe(snapshot(1, 0, 1));
    ctl::DaemonSnapshot none = snapshot(1, 0, 1);
    none.sources.clear();
    r.observe(none);
    EXPECT_TRUE(r.source_offset("a", "192.0.2.1").counts.empty());
    r.observe(snapshot(1, 0, 1));  // back: a fresh histogram
    EXPECT_EQ(r.source_offset("a", "192.0.2.1").count, 1u);
}

}  // namespace
}  // namespace nanotime::metrics
