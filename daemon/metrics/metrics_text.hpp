// metrics_text.hpp - MetricsData as Prometheus text (format 0.0.4). The
// metric names, types and units are listed in daemon/metrics/METRICS.md;
// where ntpd-rs's exporter has the same metric, the name is its name with
// "nanotime_" for its "ntp_".
#pragma once

#include <string>

#include "metrics/metrics_data.hpp"

namespace nanotime::metrics {

std::string render_metrics(const MetricsData& data);

}  // namespace nanotime::metrics
