// selectable_source.cpp - the statistics selection judges any source by.
#include "source/selectable_source.hpp"

#include <algorithm>

namespace nanotime::ntp {

PeerStatistics selection_statistics(const ClockFilter& filter, const SourceEstimator& estimator,
                                    int8_t precision, size_t enough) {
    PeerStatistics s = filter.statistics();
    if (!filter.has_statistics() || estimator.used() < enough) return s;
    const EstimatorSample& newest = estimator.history().back();
    if (const auto e = estimator.estimate_at(newest.x)) {
        const double correction = newest.raw_offset - newest.offset;  // the ledger's C then
        s.offset = e->offset - correction;
        s.delay = estimator.min_delay();
        s.dispersion = log2_to_seconds(precision) + e->offset_sd;
        s.jitter = std::max(e->residual_sd, log2_to_seconds(precision));
        s.time = newest.local;
        s.updated = newest.local;
    }
    return s;
}

}  // namespace nanotime::ntp
