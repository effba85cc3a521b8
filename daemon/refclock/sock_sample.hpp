// sock_sample.hpp - the datagrams gpsd (and other programs) send to chrony's
// SOCK refclock, so that an unmodified gpsd feeds nanotimed.
//
// One datagram is one struct sock_sample in the host's native layout (the
// writer runs on the same machine):
//   struct timeval tv;   system time (CLOCK_REALTIME) of the measurement
//   double offset;       s, true time minus tv
//   int pulse;           non-zero: a PPS edge, whose second another source numbers
//   int leap;            0 none, 1 insert, 2 delete (3: not synchronised)
//   int _pad;            ignored
//   int magic;           0x534f434b ("SOCK")
// 40 bytes on 64-bit Linux. Anything else is refused with a reason: wrong
// size, wrong magic, microseconds out of range, a non-finite offset, an
// unknown leap code; a pulse is refused too (nothing here numbers its
// second, and a pulse taken as a full time would be up to 0.5 s wrong).
#pragma once

#include <sys/time.h>

#include <cstdint>
#include <span>

#include "refclock/refclock_reading.hpp"

namespace nanotime::refclock {

inline constexpr int32_t kSockMagic = 0x534f434b;

// The wire layout, native (as chrony's refclock_sock.c and gpsd declare it).
struct SockSample {
    timeval tv;
    double offset;
    int32_t pulse;
    int32_t leap;
    int32_t pad;
    int32_t magic;
};
#if defined(__x86_64__) || defined(__aarch64__)
static_assert(sizeof(SockSample) == 40, "struct sock_sample is 40 bytes on 64-bit Linux");
#endif

ParseOutcome parse_sock_sample(std::span<const uint8_t> datagram);

}  // namespace nanotime::refclock
