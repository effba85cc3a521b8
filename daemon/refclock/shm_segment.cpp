// shm_segment.cpp - reading rules of ntpd's SHM refclock segments (see
// shm_segment.hpp).
#include "refclock/shm_segment.hpp"

#include <string>

namespace nanotime::refclock {
namespace {

// A stamp in nanoseconds: the nanosecond field when it agrees with the
// microsecond one (a writer that fills both), else the microseconds.
std::variant<timespec, Refusal> stamp(time_t sec, int32_t usec, uint32_t nsec, const char* what) {
    if (sec < 0 || usec < 0 || usec >= 1'000'000 || nsec >= 1'000'000'000u) {
        return Refusal{ntp::RefclockReject::BadTimestamp,
                       std::string(what) + " " + std::to_string(sec) + " s " +
                           std::to_string(usec) + " us " + std::to_string(nsec) + " ns"};
    }
    timespec ts{};
    ts.tv_sec = sec;
    ts.tv_nsec = static_cast<int64_t>(nsec) / 1000 == usec ? static_cast<long>(nsec)
                                                           : static_cast<long>(usec) * 1000;
    return ts;
}

}  // namespace

key_t shm_key(unsigned unit) {
    return static_cast<key_t>(kShmKeyBase + static_cast<int32_t>(unit));
}

int shm_mode(unsigned unit) {
    return unit < kShmFirstPublicUnit ? 0600 : 0666;
}

ParseOutcome read_shm_copy(const ShmTime& copy, int32_t count_after) {
    if (copy.mode != 0 && copy.mode != 1) {
        return Refusal{ntp::RefclockReject::BadMode,
                       "mode " + std::to_string(copy.mode) + " (0 or 1)"};
    }
    if (copy.valid == 0) return Refusal{ntp::RefclockReject::NotValid, ""};
    if (copy.mode == 1 && copy.count != count_after) {
        return Refusal{ntp::RefclockReject::TornRead, "count " + std::to_string(copy.count) +
                                                          " became " + std::to_string(count_after)};
    }
    const auto clock = stamp(copy.clock_sec, copy.clock_usec, copy.clock_nsec, "clock");
    if (const auto* r = std::get_if<Refusal>(&clock)) return *r;
    const auto receive = stamp(copy.receive_sec, copy.receive_usec, copy.receive_nsec, "receive");
    if (const auto* r = std::get_if<Refusal>(&receive)) return *r;
    const auto leap = leap_from_code(copy.leap);
    if (const auto* r = std::get_if<Refusal>(&leap)) return *r;

    const timespec c = std::get<timespec>(clock);
    const timespec s = std::get<timespec>(receive);
    Reading reading;
    reading.system_time = s;
    reading.offset = static_cast<double>(c.tv_sec - s.tv_sec) +
                     static_cast<double>(c.tv_nsec - s.tv_nsec) * 1e-9;
    reading.leap = std::get<ntp::LeapIndicator>(leap);
    return reading;
}

}  // namespace nanotime::refclock
