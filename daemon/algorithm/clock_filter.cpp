#include "algorithm/clock_filter.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {

void ClockFilter::shift_in(const FilterStage& stage, NtpInstant now) {
    if (has_shifted_) {
        const double elapsed = std::max(0.0, to_seconds(now - last_shift_));
        for (FilterStage& s : stages_) {
            if (s.valid()) s.dispersion = std::min(kMaxDispersion, s.dispersion + kPhi * elapsed);
        }
    }
    std::rotate(stages_.rbegin(), stages_.rbegin() + 1, stages_.rend());
    stages_[0] = stage;
    last_shift_ = now;
    has_shifted_ = true;
}

FilterStage ClockFilter::evaluate(NtpInstant now, PeerStatistics& out) const {
    std::array<FilterStage, kFilterStages> sorted = stages_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const FilterStage& a, const FilterStage& b) {
        if (a.valid() != b.valid()) return a.valid();
        return a.delay < b.delay;
    });
    double dispersion = 0.0;
    double weight = 0.5;
    double squares = 0.0;
    size_t valid = 0;
    for (const FilterStage& s : sorted) {
        dispersion += s.dispersion * weight;
        weight /= 2;
        if (s.valid()) {
            ++valid;
            squares += (s.offset - sorted[0].offset) * (s.offset - sorted[0].offset);
        }
    }
    const FilterStage& best = sorted[0];
    out.offset = best.offset;
    out.delay = best.delay;
    out.dispersion = dispersion;
    out.time = best.time;
    out.updated = now;
    const double mean_square = valid > 1 ? squares / static_cast<double>(valid - 1) : 0.0;
    out.jitter = std::max(std::sqrt(mean_square), log2_to_seconds(local_precision_));
    return best;
}

std::optional<PeerStatistics> ClockFilter::add_sample(const OnWireSample& sample, NtpInstant now,
                                                      double poll_interval) {
    FilterStage stage;
    stage.offset = to_seconds(sample.offset);
    stage.delay = to_seconds(sample.delay);
    stage.dispersion = std::min(sample.dispersion, kMaxDispersion - 1e-9);
    stage.time = now;
    shift_in(stage, now);

    PeerStatistics next;
    const FilterStage best = evaluate(now, next);
    if (!best.valid()) return std::nullopt;
    // Each sample is used once, and never one that arrived before the last
    // update. RFC 5905 only asks for one newer than the last *used* sample;
    // but when the best stage was an older one (lower delay), the samples
    // between it and that update measured an offset the discipline has
    // since corrected: with the kernel PLL at a short time constant most of
    // it is gone within a poll or two, and reusing such a sample once the
    // older best shifts out (up to 8 polls later) would apply the
    // correction again. Seen in the VM: an iburst sample used at t=68 s
    // swung the clock 1.4 ms past the truth.
    if (has_statistics_ && best.time <= last_update_) {
        // As RFC 5905 A.5.2: the statistics follow the register, but the
        // system hears nothing new.
        statistics_ = next;
        return std::nullopt;
    }
    // Popcorn spike: an offset more than SGATE times the jitter (as known
    // before this sample) from the last one, within 2 poll intervals of the
    // last update. Only judged once the jitter rests on enough samples
    // (kSpikeMinSamples), so an iburst start is not mistaken for spikes. The
    // sample stays in the register: a genuine step persists and wins after
    // 2 poll intervals.
    if (has_statistics_ && valid_stages() > kSpikeMinSamples) {
        const double since_update = to_seconds(now - last_update_);
        if (std::fabs(next.offset - statistics_.offset) > kSpikeGate * statistics_.jitter &&
            since_update < 2 * poll_interval) {
            statistics_.dispersion = next.dispersion;
            statistics_.updated = now;
            return std::nullopt;
        }
    }
    statistics_ = next;
    has_statistics_ = true;
    last_update_ = now;
    return statistics_;
}

void ClockFilter::add_timeout(NtpInstant now) {
    shift_in(FilterStage{}, now);
    if (!has_statistics_) return;
    PeerStatistics next;
    const FilterStage best = evaluate(now, next);
    if (!best.valid()) {
        statistics_.dispersion = kMaxDispersion;
        statistics_.updated = now;
        return;
    }
    statistics_.dispersion = next.dispersion;
    statistics_.jitter = next.jitter;
    statistics_.updated = now;
}

void ClockFilter::reset() {
    stages_ = {};
    has_shifted_ = false;
    statistics_ = PeerStatistics{};
    has_statistics_ = false;
}

void ClockFilter::apply_step(double amount_s) {
    for (FilterStage& s : stages_) {
        if (s.valid()) s.offset -= amount_s;
    }
    statistics_.offset -= amount_s;
}

size_t ClockFilter::valid_stages() const {
    return static_cast<size_t>(std::count_if(stages_.begin(), stages_.end(),
                                             [](const FilterStage& s) { return s.valid(); }));
}

}  // namespace nanotime::ntp
