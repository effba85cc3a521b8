#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nksim {

double percentile_abs(std::span<const double> x, double p) {
    if (x.empty()) return 0.0;
    std::vector<double> a(x.size());
    std::transform(x.begin(), x.end(), a.begin(), [](double v) { return std::fabs(v); });
    // Nearest rank: the smallest value with at least p% of the samples <= it.
    double rank = std::ceil(p / 100.0 * static_cast<double>(a.size()));
    size_t idx = rank < 1.0 ? 0 : static_cast<size_t>(rank) - 1;
    idx = std::min(idx, a.size() - 1);
    std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(idx), a.end());
    return a[idx];
}

Summary summarize(std::span<const double> x) {
    Summary s;
    s.n = x.size();
    if (x.empty()) return s;
    double sum = 0.0, sum2 = 0.0;
    for (double v : x) {
        sum += v;
        sum2 += v * v;
        s.max_abs = std::max(s.max_abs, std::fabs(v));
    }
    const double n = static_cast<double>(x.size());
    s.mean = sum / n;
    s.rms = std::sqrt(sum2 / n);
    double var = 0.0;
    for (double v : x) var += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(var / n);
    s.p99_abs = percentile_abs(x, 99.0);
    return s;
}

std::optional<double> converge_time(std::span<const double> t, std::span<const double> e,
                                    double thr, double from) {
    const size_t n = std::min(t.size(), e.size());
    size_t first = n;  // candidate index: every sample from here on is below thr
    for (size_t i = n; i-- > 0;) {
        if (t[i] < from) break;
        if (std::fabs(e[i]) >= thr) break;
        first = i;
    }
    if (first == n) return std::nullopt;
    return t[first] - from;
}

std::optional<double> first_below(std::span<const double> t, std::span<const double> e, double thr,
                                  double from) {
    const size_t n = std::min(t.size(), e.size());
    for (size_t i = 0; i < n; ++i)
        if (t[i] >= from && std::fabs(e[i]) < thr) return t[i] - from;
    return std::nullopt;
}

}  // namespace nksim
