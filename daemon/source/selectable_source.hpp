// selectable_source.hpp - what selection, combining and the discipline need
// from any source of time: an NTP association (NtpSource) or a reference
// clock (RefclockSource). ClientCore reaches both through this.
#pragma once

#include <cstdint>

#include "algorithm/source_snapshot.hpp"
#include "discipline/source_estimator.hpp"

namespace nanotime::ntp {

class SelectableSource {
  public:
    virtual ~SelectableSource() = default;

    virtual SourceId id() const = 0;
    virtual SourceSnapshot snapshot() const = 0;
    virtual const SourceEstimator& estimator() const = 0;
    // Samples accepted so far (a new one since the last look means news).
    virtual uint64_t samples_accepted() const = 0;
    virtual int8_t poll() const = 0;  // log2 s
    virtual uint8_t reach() const = 0;
    virtual bool demobilized() const = 0;
    // The daemon stepped the clock by @amount_s (s): stored offsets move with it.
    virtual void apply_step(double amount_s) = 0;
    // Forgets every sample and starts again as at start-up (recovery).
    virtual void restart_estimates() = 0;
};

// The statistics selection judges a source by once its estimator holds
// @enough samples (see NtpSource::snapshot): the estimate at the newest
// sample, the minimum delay, the estimate's own doubt as dispersion and the
// sample noise as jitter; until then the clock filter's. @precision: log2 s.
PeerStatistics selection_statistics(const ClockFilter& filter, const SourceEstimator& estimator,
                                    int8_t precision, size_t enough);

}  // namespace nanotime::ntp
