#include "io/steering.hpp"

#include <cmath>
#include <limits>

namespace nanotime::io {
namespace {

double current_frequency_ppb(ClockBackend& clock) {
    timex tx{};
    if (clock.read(tx) < 0) return 0;
    return total_frequency_ppm(tx) * 1000.0;  // ppm -> ppb
}

}  // namespace

RealtimeSteering::RealtimeSteering(ClockBackend& reference, ClockBackend& target,
                                   ntp::PiServoConfig config)
    : reference_(reference), target_(target), servo_(config, current_frequency_ppb(target)) {
    timex cur{};
    if (target_.read(cur) >= 0) {
        timex tx{};
        tx.modes = ADJ_STATUS | ADJ_OFFSET;
        tx.status = cur.status & ~(STA_PLL | STA_FLL | STA_PPSFREQ | STA_PPSTIME);
        tx.offset = 0;  // and drop any offset the PLL was still slewing
        target_.adjust(tx);
    }
}

int RealtimeSteering::feed_forward(double delta_ppb) {
    // Until the servo locks, CLOCK_REALTIME keeps its own time (it is
    // stepped onto the reference at the lock): following a slew of the
    // reference before then would drag it, and every reader of the system
    // time, through a correction meant for the reference alone. The
    // acquisition measures the rate between two samples, which a change of
    // the reference's frequency between them would spoil: it starts over.
    if (!servo_.locked()) {
        servo_.reset();
        return 0;
    }
    servo_.shift_frequency(delta_ppb);
    return target_.set_frequency(servo_.frequency_ppb() / 1000.0);
}

RealtimeSteering::Update RealtimeSteering::update(double monotonic_s) {
    Update u;
    timex ref{};
    const bool ref_read = reference_.read(ref) >= 0;
    if (ref_read && (ref.status & STA_UNSYNC)) {
        u.waiting = true;
        if (last_ && !last_->waiting) servo_.reset();  // re-acquire when it comes back
        acquisition_reference_ppm_ = total_frequency_ppm(ref);
        last_ = u;
        return u;
    }
    if (ref_read && !servo_.locked()) {
        // The acquisition takes the target's frequency from the rate between
        // two samples a second apart: both must see the reference at one
        // frequency. A new frequency (the discipline's first fast slew
        // starts as the reference turns synchronised) shows in its register
        // before it takes effect, at its next second: start over and sample
        // from the next update on. Only the register is consulted, so late
        // timers under load cannot spoil the rate.
        const double ref_ppm = total_frequency_ppm(ref);
        const std::optional<double> before = acquisition_reference_ppm_;
        acquisition_reference_ppm_ = ref_ppm;
        if (before && std::fabs(ref_ppm - *before) > kAcquisitionFrequencyChangePpm) {
            servo_.reset();
            last_ = u;
            return u;
        }
    }
    const std::optional<ClockOffset> m = measure_offset(reference_, target_);
    if (!m) {
        last_ = u;
        return u;
    }
    u.measured = true;
    u.offset_ns = m->offset_ns;
    u.servo = servo_.sample(static_cast<double>(m->offset_ns) * 1e-9, monotonic_s);
    switch (u.servo.state) {
        case ntp::ServoState::Unlocked:
            break;
        case ntp::ServoState::Jump:
            if (int r = target_.step(u.servo.step_s); r < 0) u.error = r;
            [[fallthrough]];
        case ntp::ServoState::Locked: {
            if (int r = target_.set_frequency(u.servo.frequency_ppb / 1000.0); r < 0) u.error = r;
            const double err = std::fabs(static_cast<double>(m->offset_ns)) * 1e-9 +
                               static_cast<double>(m->delay_ns) * 1e-9;
            timex cur{};
            if (u.error == 0 && target_.read(cur) >= 0 && (cur.status & STA_UNSYNC)) {
                timex tx{};
                tx.modes = ADJ_STATUS;
                tx.status = cur.status & ~STA_UNSYNC;
                if (int r = target_.adjust(tx); r < 0) u.error = r;
            }
            if (u.error == 0) target_.set_errors(err, err);
            break;
        }
    }
    last_ = u;
    return u;
}

}  // namespace nanotime::io
