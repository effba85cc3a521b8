#include "algorithm/pi_servo.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {

PiServo::PiServo(PiServoConfig config, double initial_frequency_ppb)
    : config_(config), drift_(initial_frequency_ppb), last_frequency_(initial_frequency_ppb) {
    drift_ = clamp(drift_);
    last_frequency_ = drift_;
}

double PiServo::clamp(double ppb) const {
    return std::clamp(ppb, -config_.max_frequency_ppb, config_.max_frequency_ppb);
}

ServoOutput PiServo::sample(double offset_s, double local_s) {
    ServoOutput out;
    out.frequency_ppb = last_frequency_;
    if (!std::isfinite(offset_s) || !std::isfinite(local_s)) return out;
    switch (count_) {
        case 0:
            offset0_ = offset_s;
            local0_ = local_s;
            count_ = 1;
            out.state = ServoState::Unlocked;
            break;
        case 1: {
            const double dt = local_s - local0_;
            if (dt <= 0) {  // not later than the first: start over
                count_ = 0;
                out.state = ServoState::Unlocked;
                break;
            }
            // The offset grew by (offset - offset0) in dt: the target runs
            // that much fast relative to the reference at its present
            // correction; take it out of the correction.
            const double rate = (offset_s - offset0_) / dt;  // s/s
            drift_ = clamp(drift_ - (1e9 + drift_) * rate);
            const double threshold =
                first_update_ ? config_.first_step_threshold_s : config_.step_threshold_s;
            if (threshold > 0 && std::fabs(offset_s) > threshold) {
                out.state = ServoState::Jump;
                out.step_s = -offset_s;
            } else {
                out.state = ServoState::Locked;
            }
            first_update_ = false;
            out.frequency_ppb = drift_;
            count_ = 2;
            break;
        }
        default: {
            if (config_.step_threshold_s > 0 && std::fabs(offset_s) > config_.step_threshold_s) {
                count_ = 0;
                out.state = ServoState::Unlocked;
                break;
            }
            const double ki_term = config_.ki * offset_s * 1e9;
            const double ppb = drift_ - config_.kp * offset_s * 1e9 - ki_term;
            out.frequency_ppb = clamp(ppb);
            // No integration while saturated (anti-windup).
            if (out.frequency_ppb == ppb) drift_ -= ki_term;
            out.state = ServoState::Locked;
            break;
        }
    }
    last_frequency_ = out.frequency_ppb;
    return out;
}

}  // namespace nanotime::ntp
