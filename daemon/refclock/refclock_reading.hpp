// refclock_reading.hpp - what a refclock driver's parser makes of its bytes:
// the reference's time at a moment of the system clock (CLOCK_REALTIME), or
// why the bytes were refused. The event loop moves the system-clock moment
// onto the disciplined clock's timescale (Timescale) and hands the result to
// the core as a RefclockSample.
#pragma once

#include <ctime>
#include <string>
#include <variant>

#include "packet/packet.hpp"
#include "source/refclock_source.hpp"

namespace nanotime::refclock {

struct Reading {
    timespec system_time{};  // CLOCK_REALTIME when the reference was read
    double offset = 0.0;     // s, the reference's time minus system_time
    ntp::LeapIndicator leap = ntp::LeapIndicator::NoWarning;
};

// A PPS edge: the reference began a second at @system_time (CLOCK_REALTIME);
// which second, the core decides (source/pulse_numbering.hpp).
struct Pulse {
    timespec system_time{};
};

struct Refusal {
    ntp::RefclockReject reason = ntp::RefclockReject::WrongSize;
    std::string detail;  // the offending value, for status and the log
};

using ParseOutcome = std::variant<Reading, Refusal, Pulse>;

// The leap codes gpsd, ntpd and chrony share: 0 none, 1 insert, 2 delete,
// 3 not synchronised (refused: the driver has no time).
std::variant<ntp::LeapIndicator, Refusal> leap_from_code(int code);

}  // namespace nanotime::refclock
