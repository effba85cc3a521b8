// ntp_source.hpp - NTP-style offset measurements for ADJ_OFFSET.
//
// Every poll_s seconds of true time (first at start_s) the daemon measures the
// clock's offset from true time (true - clock, what ADJ_OFFSET adds to the
// clock) with an error of
//   noise_ns * N(0, 1) + bias_ns
// (noise_ns stands for the network delay noise left after the clock filter;
// bias_ns for path asymmetry). Measurements are lost with probability loss_prob.
#pragma once

#include <cstdint>
#include <optional>

#include "rng.hpp"

namespace nksim {

enum class NtpMode { Pll, Fll };

struct NtpParams {
    bool enabled = false;
    double poll_s = 64.0;    // update interval, s
    double start_s = 0.0;    // true time of the first update, s
    double noise_ns = 0.0;   // RMS measurement noise, ns
    double bias_ns = 0.0;    // constant measurement error, ns
    double loss_prob = 0.0;  // probability that an update is lost
    NtpMode mode = NtpMode::Pll;
    int time_constant = 0;  // ADJ_TIMECONST (log2 s); the simulator sets ADJ_NANO
};

class NtpSource {
  public:
    NtpSource(const NtpParams& p, uint64_t seed) : p_(p), rng_(seed) {}

    // True time (s) of update number @n (0, 1, 2, ...).
    double update_time_s(uint64_t n) const {
        return p_.start_s + static_cast<double>(n) * p_.poll_s;
    }
    // The measured offset (ns) given the exact offset @true_offset_ns
    // (true - clock), or nothing when the update is lost.
    std::optional<double> measure(double true_offset_ns);

    const NtpParams& params() const { return p_; }
    uint64_t updates() const { return updates_; }
    uint64_t lost() const { return lost_; }

  private:
    NtpParams p_;
    Rng rng_;
    uint64_t updates_ = 0;
    uint64_t lost_ = 0;
};

}  // namespace nksim
