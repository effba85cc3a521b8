// test_exposition.cpp - the Prometheus text writer: HELP/TYPE lines,
// escaping, values, histograms (cumulative buckets, +Inf, _sum, _count).
#include <gtest/gtest.h>

#include <array>
#include <limits>

#include "metrics/exposition.hpp"

namespace nanotime::metrics {
namespace {

TEST(Exposition, LabelValuesAndHelpAreEscaped) {
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
    Exposition e;
    e.family("m_total", MetricType::Counter, "two\nlines");
    e.sample({{"name", "ntp \"one\"\\"}, {"address", "::1"}}, uint64_t{7});
    EXPECT_EQ(e.text(),
              "# HELP m_total two\\nlines\n# TYPE m_total counter\n"
              "m_total{name=\"ntp \\\"one\\\"\\\\\",address=\"::1\"} 7\n");
}

TEST(Exposition, ValuesRoundTripAndSpecials) {
    EXPECT_EQ(format_value(0.25), "0.25");
    EXPECT_EQ(format_value(-1.5e-9), "-1.5e-09");
    EXPECT_EQ(format_value(3), "3");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
    const double v = 0.1 + 0.2;
    EXPECT_EQ(std::stod(format_value(v)), v);
    Exposition e;
    e.family("g", MetricType::Gauge, "h");
    e.sample({}, uint64_t{18446744073709551615ULL});
    EXPECT_NE(e.text().find("\ng 18446744073709551615\n"), std::string::npos);
}

TEST(Exposition, HistogramBucketsAreCumulativeWithInfSumCount) {
    const std::array<double, 3> bounds{0.001, 0.01, 0.1};
    Histogram h(bounds);
    for (double v : {0.0005, 0.001, 0.005, 0.05, 0.05, 7.0}) h.observe(v);
    Exposition e;
    e.family("lat_seconds", MetricType::Histogram, "latency");
    e.histogram({{"x", "y"}}, h.data());
    EXPECT_EQ(e.text(),
              "# HELP lat_seconds latency\n# TYPE lat_seconds histogram\n"
              "lat_seconds_bucket{x=\"y\",le=\"0.001\"} 2\n"
              "lat_seconds_bucket{x=\"y\",le=\"0.01\"} 3\n"
              "lat_seconds_bucket{x=\"y\",le=\"0.1\"} 5\n"
              "lat_seconds_bucket{x=\"y\",le=\"+Inf\"} 6\n"
              "lat_seconds_sum{x=\"y\"} 7.1065\n"
              "lat_seconds_count{x=\"y\"} 6\n");
}

TEST(Exposition, AtomicHistogramReadsWhatWasObservedAndMerges) {
    AtomicHistogram a(latency_buckets());
    a.observe(3e-6);
    a.observe(0.5);
    HistogramData d = a.read();
    ASSERT_EQ(d.counts.size(), latency_buckets().size() + 1);
    EXPECT_EQ(d.counts[2], 1u);      // le 5e-6
    EXPECT_EQ(d.counts.back(), 1u);  // above 0.1
    EXPECT_EQ(d.count, 2u);
    d.merge(a.read());
    EXPECT_EQ(d.count, 4u);
    EXPECT_DOUBLE_EQ(d.sum, 2 * (3e-6 + 0.5));
}

TEST(Exposition, OffsetBucketsAreSignedAndIncreasing) {
    const auto b = offset_buckets();
    ASSERT_FALSE(b.empty());
    EXPECT_LT(b.front(), 0);
    EXPECT_GT(b.back(), 0);
    for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
    Histogram h(b);
    h.observe(-2e-6);  // in (-1e-5, -1e-6]
    const std::string text = [&] {
        Exposition e;
        e.family("o_seconds", MetricType::Histogram, "o");
        e.histogram({}, h.data());
        return e.text();
    }();
    EXPECT_NE(text.find("o_seconds_bucket{le=\"-1e-05\"} 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("o_seconds_bucket{le=\"-1e-06\"} 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace nanotime::metrics
