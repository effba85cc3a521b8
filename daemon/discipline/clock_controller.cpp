#include "discipline/clock_controller.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {

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
        ledger.step(now, e, base_frequency_);
        return cmd;
    }
    // Slew: the duration shrinks as the offset grows against its uncertainty.
    const double sd = std::max(est.offset_sd, 1e-9);
    double duration =
        magnitude > 0 ? config_.correction_ratio * 0.5 * sd * est.interval / magnitude : 0.0;
    duration = std::max(duration, config_.min_slew);
    double rate = magnitude > 0 ? e / duration : 0.0;
    if (std::fabs(rate) > config_.max_slew_rate) {
        rate = std::copysign(config_.max_slew_rate, rate);
        duration = e / rate;
    }
    cmd.action = ClockAction::Slew;
    cmd.frequency_limited = frequency_limited_;
    if (!config_.adjust) return cmd;
    if (rate == 0 || duration <= 0) {
        slewing_ = false;
        ledger.set_frequency(now, base_frequency_);
        return cmd;
    }
    cmd.frequency = base_frequency_ + rate;
    cmd.slew_seconds = duration;
    slewing_ = true;
    ledger.set_frequency(now, cmd.frequency);
    return cmd;
}

std::optional<double> ClockController::slew_ended(NtpInstant now, CorrectionLedger& ledger) {
    if (!slewing_ || !config_.adjust) return std::nullopt;
    slewing_ = false;
    ledger.set_frequency(now, base_frequency_);
    return base_frequency_;
}

}  // namespace nanotime::ntp
