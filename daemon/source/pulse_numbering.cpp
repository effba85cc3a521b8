// pulse_numbering.cpp - numbering the second of a PPS edge (see
// pulse_numbering.hpp).
#include "source/pulse_numbering.hpp"

#include <cmath>
#include <cstdio>

namespace nanotime::ntp {
namespace {

std::string seconds_text(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6f s", s);
    return text;
}

// @s moved by whole seconds into (-0.5, 0.5].
double nearest_second_remainder(double s) {
    const double r = s - std::round(s);
    return r <= -0.5 ? r + 1.0 : r;
}

}  // namespace

double pulse_fraction_offset(NtpInstant edge) {
    int64_t ns = edge.nanos_since_prime_epoch() % kNanosPerSecond;
    if (ns < 0) ns += kNanosPerSecond;
    // Local time L = n + ns: reference - local is -ns, or 1 s - ns past the half.
    const int64_t offset_ns = ns >= kNanosPerSecond / 2 ? kNanosPerSecond - ns : -ns;
    return static_cast<double>(offset_ns) * 1e-9;
}

PulseOutcome number_by_lock(NtpInstant edge, double configured_offset,
                            const std::optional<RefclockSample>& lock_reading,
                            const std::string& lock_name) {
    if (!lock_reading) {
        return PulseRefusal{RefclockReject::NoSecondNumbering,
                            "locked refclock " + lock_name + " has no reading"};
    }
    const double age = std::fabs(to_seconds(edge - lock_reading->local));
    if (age > kMaxLockAge) {
        return PulseRefusal{RefclockReject::NoSecondNumbering,
                            "locked refclock " + lock_name + "'s newest reading is " +
                                seconds_text(age) + " from the edge"};
    }
    const double pulse = pulse_fraction_offset(edge) + configured_offset;
    const double numbered = pulse + std::round(lock_reading->offset - pulse);
    const double spread = std::fabs(lock_reading->offset - numbered);
    if (spread >= kMaxLockSpread) {
        return PulseRefusal{
            RefclockReject::LockMismatch,
            lock_name + " reads " + seconds_text(spread) + " from the edge's second"};
    }
    RefclockSample sample;
    sample.local = edge;
    sample.offset = numbered - configured_offset;
    sample.leap = lock_reading->leap;
    return sample;
}

PulseOutcome number_by_system(NtpInstant edge, double configured_offset,
                              const SystemNumbering& system) {
    if (!system.synchronised || !system.numbering_source_selected) {
        return PulseRefusal{RefclockReject::NoSecondNumbering,
                            "no lock, and no selected source other than a pulse"};
    }
    if (system.error_bound >= kMaxSystemError) {
        return PulseRefusal{RefclockReject::NoSecondNumbering,
                            "the system's offset and root distance " +
                                seconds_text(system.error_bound) + " are not below 0.4 s"};
    }
    const double numbered =
        nearest_second_remainder(pulse_fraction_offset(edge) + configured_offset);
    RefclockSample sample;
    sample.local = edge;
    sample.offset = numbered - configured_offset;
    sample.leap =
        system.leap == LeapIndicator::Unsynchronized ? LeapIndicator::NoWarning : system.leap;
    return sample;
}

}  // namespace nanotime::ntp
