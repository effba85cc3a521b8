// clock_filter.hpp - the per-source clock filter (RFC 5905 §10, A.5.2).
//
// An 8-stage shift register of (offset, delay, dispersion, time) samples.
// Each new sample ages the older stages' dispersion by PHI per second. The
// stages are sorted by delay (empty stages last); the lowest-delay stage is
// the best estimate, because queueing delay is what corrupts offsets. The
// filter then computes:
//   dispersion  sum over sorted stages of disp_i / 2^(i+1)          (s)
//   jitter      RMS of (offset_i - offset_0) over valid stages, at least the
//               local precision                                      (s)
// A result reaches the system only if its sample arrived after the last
// update (each sample is used once, and none measured before a correction
// the system has made since; RFC 5905 asks only for one newer than the last
// used sample, see add_sample) and it is not a popcorn spike: an offset
// more than SGATE jitters from the previous one within 2 poll intervals of
// the previous update.
#pragma once

#include <array>
#include <optional>

#include "algorithm/constants.hpp"
#include "algorithm/on_wire.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct FilterStage {
    double offset = 0.0;                 // s
    double delay = 0.0;                  // s
    double dispersion = kMaxDispersion;  // s; >= kMaxDispersion means empty
    NtpInstant time;                     // local clock at the sample's arrival

    bool valid() const { return dispersion < kMaxDispersion; }
};

// What the filter tells the selection algorithm about one source.
struct PeerStatistics {
    double offset = 0.0;                 // theta, s
    double delay = 0.0;                  // delta, s
    double dispersion = kMaxDispersion;  // epsilon, s, as of `updated`
    double jitter = 0.0;                 // psi, s
    NtpInstant time;                     // arrival of the selected sample
    NtpInstant updated;                  // when `dispersion` was computed
};

// Valid stages (besides the new one) needed before spikes are judged.
inline constexpr size_t kSpikeMinSamples = 4;

class ClockFilter {
  public:
    explicit ClockFilter(int8_t local_precision = -20) : local_precision_(local_precision) {}

    // Shifts in a measured sample received at @now. @poll_interval (s) gates
    // the popcorn spike suppressor. Returns the new statistics when they
    // should reach the system, nothing if the sample is old or a spike.
    std::optional<PeerStatistics> add_sample(const OnWireSample& sample, NtpInstant now,
                                             double poll_interval);

    // Shifts in an empty stage (no reply for several polls, RFC 5905 A.5.7),
    // which raises the dispersion until the source stops being selectable.
    void add_timeout(NtpInstant now);

    // Forgets everything, e.g. after the local clock was stepped by someone else.
    void reset();
    // The daemon stepped the local clock by @amount_s (s): every stored
    // offset (server minus local) shrinks by it, so the register stays valid.
    void apply_step(double amount_s);

    bool has_statistics() const { return has_statistics_; }
    const PeerStatistics& statistics() const { return statistics_; }
    size_t valid_stages() const;
    const std::array<FilterStage, kFilterStages>& stages() const { return stages_; }

  private:
    void shift_in(const FilterStage& stage, NtpInstant now);
    // Recomputes statistics from the stages; returns the best stage.
    FilterStage evaluate(NtpInstant now, PeerStatistics& out) const;

    int8_t local_precision_;                           // log2 s
    std::array<FilterStage, kFilterStages> stages_{};  // [0] is the newest
    NtpInstant last_shift_;
    bool has_shifted_ = false;
    PeerStatistics statistics_;
    bool has_statistics_ = false;
    NtpInstant last_update_;  // local time the system last got statistics
};

}  // namespace nanotime::ntp
