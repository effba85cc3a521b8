// sock_sample.cpp - gpsd's chrony SOCK datagrams parsed and checked (see
// sock_sample.hpp).
#include "refclock/sock_sample.hpp"

#include <cmath>
#include <cstring>
#include <string>

namespace nanotime::refclock {

std::variant<ntp::LeapIndicator, Refusal> leap_from_code(int code) {
    switch (code) {
        case 0:
            return ntp::LeapIndicator::NoWarning;
        case 1:
            return ntp::LeapIndicator::InsertSecond;
        case 2:
            return ntp::LeapIndicator::DeleteSecond;
        case 3:
            return Refusal{ntp::RefclockReject::Unsynchronized, "leap code 3"};
        default:
            return Refusal{ntp::RefclockReject::BadLeap, "leap code " + std::to_string(code)};
    }
}

ParseOutcome parse_sock_sample(std::span<const uint8_t> datagram) {
    if (datagram.size() != sizeof(SockSample)) {
        return Refusal{
            ntp::RefclockReject::WrongSize,
            std::to_string(datagram.size()) + " bytes, not " + std::to_string(sizeof(SockSample))};
    }
    SockSample s;
    std::memcpy(&s, datagram.data(), sizeof s);
    if (s.magic != kSockMagic) {
        char text[32];
        std::snprintf(text, sizeof text, "0x%08x", static_cast<uint32_t>(s.magic));
        return Refusal{ntp::RefclockReject::WrongMagic, text};
    }
    if (s.tv.tv_sec < 0 || s.tv.tv_usec < 0 || s.tv.tv_usec >= 1'000'000 ||
        !std::isfinite(s.offset)) {
        return Refusal{ntp::RefclockReject::BadTimestamp,
                       "tv " + std::to_string(s.tv.tv_sec) + "." + std::to_string(s.tv.tv_usec) +
                           ", offset " + std::to_string(s.offset)};
    }
    const auto leap = leap_from_code(s.leap);
    if (const auto* refusal = std::get_if<Refusal>(&leap)) return *refusal;
    if (s.pulse != 0) {
        return Refusal{ntp::RefclockReject::PulseOnly,
                       "a PPS edge (SOCK pulses are not numbered; use driver \"pps\")"};
    }
    Reading r;
    r.system_time.tv_sec = s.tv.tv_sec;
    r.system_time.tv_nsec = s.tv.tv_usec * 1000;
    r.offset = s.offset;
    r.leap = std::get<ntp::LeapIndicator>(leap);
    return r;
}

}  // namespace nanotime::refclock
