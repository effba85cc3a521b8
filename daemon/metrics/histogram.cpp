// histogram.cpp - fixed-bucket histograms (see histogram.hpp).
#include "metrics/histogram.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace nanotime::metrics {
namespace {

constexpr std::array<double, 15> kOffsetBuckets = {
    -1, -1e-1, -1e-2, -1e-3, -1e-4, -1e-5, -1e-6, 0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
constexpr std::array<double, 12> kLatencyBuckets = {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
                                                    1e-4, 2e-4, 5e-4, 1e-3, 1e-2, 1e-1};

// The first bucket whose upper bound is >= @value (Prometheus "le").
size_t bucket_of(const std::vector<double>& bounds, double value) {
    return static_cast<size_t>(
        std::distance(bounds.begin(), std::lower_bound(bounds.begin(), bounds.end(), value)));
}

}  // namespace

std::span<const double> offset_buckets() {
    return kOffsetBuckets;
}

std::span<const double> latency_buckets() {
    return kLatencyBuckets;
}

void HistogramData::merge(const HistogramData& other) {
    if (counts.size() != other.counts.size()) return;
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
    sum += other.sum;
    count += other.count;
}

Histogram::Histogram(std::span<const double> bounds) {
    data_.bounds.assign(bounds.begin(), bounds.end());
    data_.counts.assign(bounds.size() + 1, 0);
}

void Histogram::observe(double value) {
    ++data_.counts[bucket_of(data_.bounds, value)];
    data_.sum += value;
    ++data_.count;
}

AtomicHistogram::AtomicHistogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

void AtomicHistogram::observe(double value) {
    std::atomic<uint64_t>& bucket = counts_[bucket_of(bounds_, value)];
    bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_.store(sum_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

HistogramData AtomicHistogram::read() const {
    HistogramData d;
    d.bounds = bounds_;
    d.counts.resize(bounds_.size() + 1);
    for (size_t i = 0; i < d.counts.size(); ++i)
        d.counts[i] = counts_[i].load(std::memory_order_relaxed);
    d.sum = sum_.load(std::memory_order_relaxed);
    d.count = count_.load(std::memory_order_relaxed);
    return d;
}

}  // namespace nanotime::metrics
