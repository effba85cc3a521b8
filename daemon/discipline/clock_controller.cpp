#include "discipline/clock_controller.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {

NtpInstant ClockController::takes_effect(NtpInstant t) const {
    if (!config_.frequency_at_second) return t;
    const int64_t ns = t.nanos_since_prime_epoch();
    const int64_t next = (ns / kNanosPerSecond + 1) * kNanosPerSecond;
    return NtpInstant::from_nanos_since_prime_epoch(next);
}

ClockCommand ClockController::update(NtpInstant now, const ClockEstimate& est,
                                     CorrectionLedger& books) {
    // Watching only: work on a copy, so that nothing is booked.
    CorrectionLedger scratch = books;
    CorrectionLedger& ledger = config_.adjust ? books : scratch;
    ClockCommand cmd;
    const RawPoint here = ledger.at(now);
    const double e = est.offset - here.correction;
    cmd.offset = e;
    const double magnitude = std::fabs(e);
    if (!has_base_) {
        base_frequency_ = ledger.frequency();
        has_base_ = true;
    }
    frequency_limited_ = false;
    if (est.has_frequency && std::isfinite(est.frequency)) {
        base_frequency_ = est.frequency;
        if (std::fabs(base_frequency_) > config_.max_frequency) {
            frequency_limited_ = true;
            base_frequency_ =
                std::clamp(base_frequency_, -config_.max_frequency, config_.max_frequency);
        }
    }
    cmd.base_frequency = base_frequency_;
    cmd.frequency = base_frequency_;

    const bool panic =
        !std::isfinite(e) || (config_.panic_threshold > 0 && magnitude > config_.panic_threshold);
    if (panic && !step_armed_) {
        cmd.action = ClockAction::Panic;
        return cmd;
    }
    const bool makestep =
        config_.makestep_threshold > 0 && magnitude > config_.makestep_threshold &&
        (config_.makestep_limit < 0 || updates_ < static_cast<unsigned>(config_.makestep_limit));
    const bool step = config_.step_threshold > 0 && magnitude > config_.step_threshold;
    ++updates_;
    if (step_armed_ || makestep || step) {
        step_armed_ = false;
        cmd.action = ClockAction::Step;
        cmd.step = e;
        slewing_ = false;
        const double before = ledger.frequency();
        ledger.step(now, e, before);
        ledger.set_frequency(takes_effect(now + from_seconds(e)), base_frequency_);
        return cmd;
    }
    // Slew: the duration shrinks as the offset grows against its uncertainty.
    const double sd = std::max(est.offset_sd, 1e-9);
    double duration =
        magnitude > 0 ? config_.correction_ratio * 0.5 * sd * est.interval / magnitude : 0.0;
    duration = std::max(duration, config_.min_slew);
    // The slew lasts @duration of the clock's own (corrected) time, during
    // which the oscillator runs duration / (1 + base + rate): the rate that
    // moves the clock by exactly e over it (8 % more than e / duration at
    // the fastest slews).
    auto rate_for = [&](double d) { return e * (1 + base_frequency_) / (d - e); };
    double rate = magnitude > 0 ? rate_for(duration) : 0.0;
    if (std::fabs(rate) > config_.max_slew_rate) {
        rate = std::copysign(config_.max_slew_rate, rate);
        duration = e * (1 + base_frequency_ + rate) / rate;
    }
    if (config_.frequency_at_second && magnitude > 0) {
        // Whole seconds: the clock changes frequency only at its second
        // boundaries, so the slew runs from one to another.
        duration = std::ceil(duration - 1e-9);
        rate = rate_for(duration);
    }
    cmd.action = ClockAction::Slew;
    cmd.frequency_limited = frequency_limited_;
    if (!config_.adjust) return cmd;
    const NtpInstant start = takes_effect(now);
    if (rate == 0 || duration <= 0) {
        slewing_ = false;
        ledger.set_frequency(start, base_frequency_);
        return cmd;
    }
    cmd.frequency = base_frequency_ + rate;
    cmd.slew_seconds = duration;
    // When the slew starts only at the next second, end it in the middle of
    // its last second, so that timer latency cannot push the end a whole
    // second late.
    cmd.end_after =
        config_.frequency_at_second ? to_seconds(start - now) + duration - 0.5 : duration;
    slewing_ = true;
    ledger.set_frequency(start, cmd.frequency);
    return cmd;
}

std::optional<double> ClockController::slew_ended(NtpInstant now, CorrectionLedger& ledger) {
    if (!slewing_ || !config_.adjust) return std::nullopt;
    slewing_ = false;
    ledger.set_frequency(takes_effect(now), base_frequency_);
    return base_frequency_;
}

}  // namespace nanotime::ntp
