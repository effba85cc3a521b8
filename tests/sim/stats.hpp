// stats.hpp - statistics over error series.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace nksim {

struct Summary {
    size_t n = 0;
    double mean = 0.0;     // mean of x
    double rms = 0.0;      // sqrt(mean(x^2)) (about zero, not about the mean)
    double std = 0.0;      // standard deviation about the mean
    double max_abs = 0.0;  // max |x|
    double p99_abs = 0.0;  // 99th percentile of |x| (nearest rank)
};

// Summary of @x (an empty span gives n == 0 and zeros).
Summary summarize(std::span<const double> x);

// Percentile @p (0..100) of |x| by the nearest-rank method.
double percentile_abs(std::span<const double> x, double p);

// Time to converge: the first sample time t[i] >= @from such that |e[j]| < @thr
// for every j >= i. Nothing if the last sample is not below the threshold.
// @t must be sorted ascending; the result is t[i] - @from.
std::optional<double> converge_time(std::span<const double> t, std::span<const double> e,
                                    double thr, double from = 0.0);

// The first sample time t[i] >= @from with |e[i]| < @thr (need not stay), minus @from.
std::optional<double> first_below(std::span<const double> t, std::span<const double> e, double thr,
                                  double from = 0.0);

}  // namespace nksim
