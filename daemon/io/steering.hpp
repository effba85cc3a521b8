// steering.hpp - keep one clock on another (phc2sys-like): with the nanoclock
// as the disciplined clock, CLOCK_REALTIME follows it, so applications that
// read the system time see the disciplined time.
//
// Every update (once a second) the offset target - reference is measured by
// reading target, reference, target back to back several times and keeping
// the reading with the shortest target interval (the reference read is
// taken at its midpoint); a PiServo turns the offsets into frequency
// corrections and steps, applied to the target with clock_adjtime. At start
// the target's own kernel PLL/FLL is switched off (it would fight the servo);
// while locked the target is marked synchronised (STA_UNSYNC cleared,
// maxerror/esterror from the last offset). Nothing is steered while the
// reference is unsynchronised (STA_UNSYNC, e.g. a freshly loaded nanoclock
// before the first discipline): like phc2sys -w, CLOCK_REALTIME keeps its own
// time until the reference has been disciplined, instead of being stepped to
// whatever the reference happens to read. Nor does it follow the reference
// before the servo has locked: the lock's two samples must see the reference
// at one frequency (not half-way through the discipline's first slew).
#pragma once

#include <cstdint>
#include <optional>

#include "algorithm/pi_servo.hpp"
#include "io/clock.hpp"

namespace nanotime::io {

class RealtimeSteering {
  public:
    struct Update {
        bool measured = false;  // false: a clock could not be read, or waiting
        bool waiting = false;   // the reference is unsynchronised: nothing done
        int64_t offset_ns = 0;
        ntp::ServoOutput servo;
        int error = 0;  // -errno of a failed adjustment, 0 if none
    };

    // Switches off the target's kernel PLL and reads its frequency.
    RealtimeSteering(ClockBackend& reference, ClockBackend& target, ntp::PiServoConfig config);
    // One servo update at @monotonic_s (seconds on CLOCK_MONOTONIC).
    Update update(double monotonic_s);
    // The reference was stepped: re-acquire (the next samples re-estimate).
    void reset() { servo_.reset(); }
    // The reference's frequency changed by @delta_ppb just now: the target
    // takes the same change at once (returns 0 or -errno). Without it a fast
    // slew of the reference would leave the target behind by the slew rate
    // times the servo's update interval. Before the servo has locked the
    // target is left alone and the acquisition starts over.
    int feed_forward(double delta_ppb);
    bool locked() const { return servo_.locked(); }
    const std::optional<Update>& last() const { return last_; }

  private:
    ClockBackend& reference_;
    ClockBackend& target_;
    ntp::PiServo servo_;
    std::optional<Update> last_;
    // The reference's frequency (register) when the acquisition started.
    std::optional<double> acquisition_reference_ppm_;
    // ppm: a change of the reference's frequency that restarts the
    // acquisition (1 ppm spoils the rate by 1 us/s, what one sample of the
    // TCG-measured offset is worth).
    static constexpr double kAcquisitionFrequencyChangePpm = 0.5;
};

}  // namespace nanotime::io
