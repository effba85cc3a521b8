// pulse_numbering.hpp - which second a PPS edge marks (sans-IO).
//
// A pulse-per-second edge says only that a second of the reference began:
// its offset to the local clock is known modulo one second (the edge at
// local time L gives reference - local = -frac(L), taken in (-0.5, 0.5]).
// Another source numbers the second, as chrony does:
//   lock    the newest reading of the refclock named by `lock` (gpsd's NMEA
//           time, say), taken within kMaxLockAge of the edge: the edge's
//           offset is moved by the whole seconds that bring it nearest that
//           reading, and refused when the two still differ by kMaxLockSpread
//           or more (the lock's reading is too coarse to name the second);
//   system  without `lock`: the local clock, while the system is
//           synchronised, a source that is not a pulse is among the
//           selected ones (an NTP server, a full-time refclock), and the
//           system's offset plus root distance is below kMaxSystemError:
//           the edge then belongs to the local clock's nearest second.
// Otherwise the pulse is refused ("no second-numbering source"): never a
// sample with a guessed second.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "source/refclock_source.hpp"

namespace nanotime::ntp {

// s: the locked refclock's reading must be this close to the edge in time.
inline constexpr double kMaxLockAge = 2.0;
// s: ... and, once moved by whole seconds, this close in offset (chrony's 0.2).
inline constexpr double kMaxLockSpread = 0.2;
// s: the local clock numbers the second only while |system offset| + root
// distance is below this (an edge 0.5 s away would be ambiguous).
inline constexpr double kMaxSystemError = 0.4;

struct PulseRefusal {
    RefclockReject reason = RefclockReject::NoSecondNumbering;
    std::string detail;
};
// The sample's offset excludes the pulse refclock's configured offset
// (RefclockSource::add_sample adds it).
using PulseOutcome = std::variant<RefclockSample, PulseRefusal>;

// What the system says about the local clock's seconds.
struct SystemNumbering {
    bool synchronised = false;
    bool numbering_source_selected = false;  // a selected source that is not a pulse
    double error_bound = 0.0;                // s, |offset| + root distance
    LeapIndicator leap = LeapIndicator::NoWarning;
};

// s, reference minus local of an edge at @edge, modulo one second: in (-0.5, 0.5].
double pulse_fraction_offset(NtpInstant edge);

// @configured_offset: the pulse refclock's `offset` (s); @lock_name: the
// locked refclock's refid for messages; @lock_reading: its newest reading
// (its own offset included), if any.
PulseOutcome number_by_lock(NtpInstant edge, double configured_offset,
                            const std::optional<RefclockSample>& lock_reading,
                            const std::string& lock_name);
PulseOutcome number_by_system(NtpInstant edge, double configured_offset,
                              const SystemNumbering& system);

}  // namespace nanotime::ntp
