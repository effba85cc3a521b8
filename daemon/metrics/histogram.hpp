// histogram.hpp - fixed-bucket histograms for the Prometheus exporter.
//
// HistogramData is what the exposition writer prints: per-bucket counts
// (not cumulative; the writer accumulates), the sum and the count.
// Histogram is for one thread; AtomicHistogram has one writer thread (a
// server thread, on its packet path: a relaxed load and store per bucket,
// no read-modify-write, no lock) and readers on any thread, which may see
// a count one observation ahead of the sum.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace nanotime::metrics {

struct HistogramData {
    std::vector<double> bounds;    // upper bounds, increasing ("le")
    std::vector<uint64_t> counts;  // bounds.size() + 1: the last is above every bound
    double sum = 0;
    uint64_t count = 0;

    // Adds @other (same bounds) into this one.
    void merge(const HistogramData& other);
};

// Offsets (s): signed, decades from 1 µs to 1 s either side of zero.
std::span<const double> offset_buckets();
// Server request latency (s), receive timestamp to transmit: 1 µs to 100 ms.
std::span<const double> latency_buckets();

class Histogram {
  public:
    explicit Histogram(std::span<const double> bounds);
    void observe(double value);
    const HistogramData& data() const { return data_; }

  private:
    HistogramData data_;
};

class AtomicHistogram {
  public:
    explicit AtomicHistogram(std::span<const double> bounds);
    // The writer thread only.
    void observe(double value);
    // Any thread.
    HistogramData read() const;

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
    std::atomic<double> sum_{0};
    std::atomic<uint64_t> count_{0};
};

}  // namespace nanotime::metrics
