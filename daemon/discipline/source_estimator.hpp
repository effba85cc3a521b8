// source_estimator.hpp - one source's offset and frequency, by a Kalman
// filter on the oscillator's timescale.
//
// On the raw timescale (correction_ledger.hpp) a source's offset is the
// oscillator's phase against the server, untouched by anything the daemon
// does, so it follows the textbook two-state clock model:
//   state     theta (raw offset, s), f (raw frequency, s/s)
//   predict   theta += f * dt; f unchanged; process noise of a random-walk
//             frequency with density q:  Q = q^2 [dt^3/3 dt^2/2; dt^2/2 dt]
//   measure   a sample's offset, with the variance its delay implies: with
//             independent queueing on the two paths, a round trip D above the
//             minimum spreads the offset error uniformly over [-D/2, +D/2]:
//             variance D^2/12 (plus a floor). A sample at the minimum delay is
//             worth far more than one queued behind traffic, and none is
//             thrown away for its delay alone (chrony weights by distance from
//             the minimum in the same spirit; ntpd-rs runs a Kalman filter).
// The wander q is not known in advance: it is estimated from the innovations
// (their normalised square averages 1 when q is right; above, q is raised;
// below, lowered), each weighted by the wander's share of the innovation's
// variance (when sample noise dominates, they say nothing about q), so the
// same filter serves a TCXO in a quiet room and a cheap crystal beside a fan. An innovation beyond
// kOutlierGate standard deviations is held back as an outlier; kOutlierRun in a row mean the source
// really moved, and the filter re-anchors on it.
//
// The poll interval the filter wants is where the wander accumulated over one
// interval (q^2 dt^3 / 3) matches the typical sample variance: a shorter one
// adds packets that the filter can only average, a longer one lets the clock
// wander unseen.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "discipline/correction_ledger.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

inline constexpr size_t kHistorySamples = 64;  // kept per source, for views and the minimum delay
inline constexpr double kSampleErrorFloor = 50e-9;  // s, timestamping floor of a sample's error
inline constexpr double kOutlierGate = 5.0;         // innovations beyond this many sd are held
inline constexpr unsigned kOutlierRun = 2;  // outliers in a row, the same way, that are taken
inline constexpr double kInitialFrequencySd = 200e-6;  // s/s, before any sample says otherwise
inline constexpr double kInitialWander = 1e-9;         // (s/s)/sqrt(s), q before it is estimated
inline constexpr double kMinWander = 1e-12;
inline constexpr double kMaxWander = 1e-6;

struct SourceEstimate {
    double x = 0.0;          // s, oscillator time the estimate is for
    double offset = 0.0;     // s, raw offset (server minus oscillator) at x
    double offset_sd = 0.0;  // s
    bool has_frequency = false;
    double frequency = 0.0;     // raw frequency: the correction that makes the clock run with
                                // the server (fraction; ppm * 1e-6)
    double frequency_sd = 0.0;  // fraction: the "skew" chronyc shows
    double residual_sd = 0.0;   // s, typical error of one sample ("std dev")
    double newest_x = 0.0;      // s, oscillator time of the newest sample
    size_t used = 0;            // samples the filter has taken in since it was anchored
    size_t samples = 0;         // samples kept in the history
    double span = 0.0;          // s, oldest kept to newest
};

struct EstimatorSample {
    double x = 0.0;           // s, oscillator time of the sample
    double raw_offset = 0.0;  // s
    double delay = 0.0;       // s, round trip
    double offset = 0.0;      // s, as measured against the local clock
    NtpInstant local;         // local clock at the sample
    bool outlier = false;     // held back by the innovation gate
};

class SourceEstimator {
  public:
    // @initial_frequency: the clock's frequency correction before the first
    // sample (fraction), the filter's prior for f.
    explicit SourceEstimator(double initial_frequency = 0.0)
        : initial_frequency_(initial_frequency) {}

    // A new sample: @offset (s, server minus local) and @delay (s), taken at
    // local time @local, which the ledger put at @at.
    void add(RawPoint at, double offset, double delay, NtpInstant local);
    void clear();

    // The state predicted to oscillator time @x; nothing without samples.
    std::optional<SourceEstimate> estimate_at(double x) const;
    size_t samples() const { return history_.size(); }
    size_t used() const { return used_; }
    const std::deque<EstimatorSample>& history() const { return history_; }
    double min_delay() const { return min_delay_; }
    double wander() const { return wander_; }
    // s, the typical variance of one sample, as a standard deviation.
    double sample_sd() const;
    // s, the update interval at which wander and sample noise balance.
    double balanced_interval() const;
    uint64_t outliers() const { return outliers_; }
    // The last sample was held back as an outlier.
    bool last_was_outlier() const { return !history_.empty() && history_.back().outlier; }

  private:
    double sample_variance(double delay) const;
    void predict(double x);
    void anchor(const EstimatorSample& s, double variance);

    double initial_frequency_;
    std::deque<EstimatorSample> history_;  // oldest first
    double min_delay_ = 0.0;               // s, over the history
    double median_excess_ = 0.0;           // s, median of delay - min_delay over the history
    bool anchored_ = false;
    double x_ = 0.0;                            // s, oscillator time of the state
    double theta_ = 0.0;                        // s, raw offset at x_
    double f_ = 0.0;                            // s/s, raw frequency
    double p00_ = 0.0, p01_ = 0.0, p11_ = 0.0;  // covariance (s^2, s^2/s, (s/s)^2)
    double wander_ = kInitialWander;            // q, (s/s)/sqrt(s)
    size_t used_ = 0;
    unsigned outlier_run_ = 0;
    int outlier_sign_ = 0;  // of the innovations in the current run
    uint64_t outliers_ = 0;
};

}  // namespace nanotime::ntp
