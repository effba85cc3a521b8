// exposition.hpp - the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): metric
// families with HELP and TYPE lines, samples with escaped label values,
// histograms as cumulative _bucket{le=...} lines ending in le="+Inf", then
// _sum and _count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram.hpp"

namespace nanotime::metrics {

// Content-Type of the format.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { Gauge, Counter, Histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// Backslash, double quote and line feed escaped (label values).
std::string escape_label_value(std::string_view value);
// Backslash and line feed escaped (HELP text).
std::string escape_help(std::string_view help);
// A sample value as Go's ParseFloat reads it: shortest round-trip decimal,
// "NaN", "+Inf", "-Inf".
std::string format_value(double value);

class Exposition {
  public:
    // Starts the family @name: its HELP and TYPE lines. The samples that
    // follow belong to it. @name must be a valid metric name.
    void family(std::string_view name, MetricType type, std::string_view help);
    void sample(const Labels& labels, double value);
    void sample(const Labels& labels, uint64_t value);
    // The current family must be a Histogram.
    void histogram(const Labels& labels, const HistogramData& data);
    const std::string& text() const { return out_; }

  private:
    void line(std::string_view suffix, const Labels& labels, const std::string* extra_label,
              std::string_view value);

    std::string out_;
    std::string name_;
};

}  // namespace nanotime::metrics
