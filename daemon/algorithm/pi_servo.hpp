// pi_servo.hpp - a proportional-integral clock servo, for keeping one clock
// on another (CLOCK_REALTIME on the nanoclock, like linuxptp's phc2sys).
//
// Fed with offsets (target minus reference, seconds) measured once per
// update interval, it returns the frequency correction for the target and
// when to step it:
//   1st sample   remembered (Unlocked)
//   2nd sample   the frequency error is estimated from the two offsets; the
//                target is stepped if the offset exceeds first_step_threshold
//                (Jump), otherwise the loop locks (Locked)
//   later        frequency = drift - (kp + ki) * offset, drift -= ki * offset;
//                an offset beyond step_threshold unlocks the loop and starts
//                over (so the next two samples re-estimate and step)
// Frequencies are parts per billion, as the target's frequency correction
// (positive: the target runs faster). Sans-IO: no clock is read here.
#pragma once

#include <cstdint>

namespace nanotime::ntp {

struct PiServoConfig {
    // Gains per sample at a 1 s update interval (phc2sys's software
    // time stamping defaults).
    double kp = 0.7;
    double ki = 0.3;
    // CLOCK_REALTIME: ADJ_FREQUENCY takes +-500 ppm, the tick the rest up to
    // +-10 % (ClockBackend::set_frequency); the nanoclock's slews (up to
    // clock.max_slew_rate) must be followable.
    double max_frequency_ppb = 100'000'000;
    double first_step_threshold_s = 20e-6;
    double step_threshold_s = 0.128;  // 0: never step once locked
};

enum class ServoState : uint8_t { Unlocked, Jump, Locked };

struct ServoOutput {
    ServoState state = ServoState::Unlocked;
    double frequency_ppb = 0;  // set the target's frequency correction to this
    double step_s = 0;         // Jump: step the target by this (= -offset)
};

class PiServo {
  public:
    // @initial_frequency_ppb: the target's frequency correction now.
    explicit PiServo(PiServoConfig config, double initial_frequency_ppb = 0);

    // @offset_s: target - reference; @local_s: when it was measured, on a
    // monotonic timescale (seconds).
    ServoOutput sample(double offset_s, double local_s);
    // Forget the samples (the loop starts over), keeping the frequency.
    void reset() { count_ = 0; }
    // The reference changed its frequency by @delta_ppb (feed-forward: the
    // target follows at once instead of after the offset it would cause).
    void shift_frequency(double delta_ppb) {
        drift_ = clamp(drift_ + delta_ppb);
        last_frequency_ = clamp(last_frequency_ + delta_ppb);
    }
    double frequency_ppb() const { return last_frequency_; }
    bool locked() const { return count_ == 2; }

  private:
    double clamp(double ppb) const;

    PiServoConfig config_;
    int count_ = 0;
    double offset0_ = 0;  // s, first sample of the frequency estimate
    double local0_ = 0;   // s
    double drift_ = 0;    // ppb, the integral term
    double last_frequency_ = 0;
    bool first_update_ = true;
};

}  // namespace nanotime::ntp
