// pps_source.hpp - a PPS receiver and its interrupt timestamping.
//
// The receiver's edge is exactly on each true second k (k >= 1). The captured
// timestamp is late or early by:
//   jitter_ns * N(0, 1)                      Gaussian jitter (interrupt latency noise)
//   + spike_ns with probability spike_prob   occasional large latency spikes
//   + bias_ns                                constant latency
// An edge is lost with probability dropout_prob, and every edge inside an
// outage interval [start, start + length) s is lost. The random draws for an
// edge are the same whether or not it is lost, so changing the loss settings
// never changes the jitter of the edges that remain.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "rng.hpp"

namespace nksim {

struct PpsParams {
    bool enabled = false;
    double jitter_ns = 0.0;     // RMS of the Gaussian jitter, ns
    double spike_prob = 0.0;    // probability of a spike per edge
    double spike_ns = 0.0;      // spike size, ns (added to the timestamp: late)
    double bias_ns = 0.0;       // constant timestamp offset, ns
    double dropout_prob = 0.0;  // probability that an edge is lost
    std::vector<std::pair<double, double>> outages;  // {start s, length s}
};

struct PpsCounters {
    uint64_t edges = 0;     // edges delivered
    uint64_t spikes = 0;    // delivered edges carrying a spike
    uint64_t dropouts = 0;  // edges lost to random dropouts
    uint64_t outage = 0;    // edges lost inside outages
};

class PpsSource {
  public:
    PpsSource(const PpsParams& p, uint64_t seed) : p_(p), rng_(seed) {}

    // Timestamp error (ns, true time) of the edge at true second @k, or nothing
    // when the edge is lost. Call with k = 1, 2, 3, ... in order.
    std::optional<double> capture(int64_t k);

    const PpsCounters& counters() const { return n_; }
    const PpsParams& params() const { return p_; }

  private:
    PpsParams p_;
    Rng rng_;
    PpsCounters n_;
};

}  // namespace nksim
