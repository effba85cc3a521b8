// shm_segment.hpp - ntpd's shared-memory refclock segments as gpsd writes
// them (struct shmTime), and the rules for reading one.
//
// Segment N has the System V key 0x4e545030 + N ("NTP0" + N). Units 0 and 1
// are root's (mode 0600: only a root writer may feed them), 2 and up are
// open to all (0666), as ntpd and gpsd create them. The layout is native
// (writer and reader share the machine):
//   int mode;                  0: use when valid; 1: and only if count did
//                              not change while reading
//   volatile int count;        the writer bumps it before and after writing
//   time_t clockTimeStampSec;  the reference's time (UTC) ...
//   int clockTimeStampUSec;
//   time_t receiveTimeStampSec;  ... at this system time (CLOCK_REALTIME)
//   int receiveTimeStampUSec;
//   int leap;                  0 none, 1 insert, 2 delete, 3 not synchronised
//   int precision;             log2 s
//   int nsamples;
//   volatile int valid;        set by the writer, cleared by the reader
//   unsigned clockTimeStampNSec;    the same stamps in nanoseconds (when
//   unsigned receiveTimeStampNSec;  they agree with the microseconds)
//   int dummy[8];
// The loop copies the segment (noting count before and after) and clears
// valid; read_shm_copy() decides what the copy is worth.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>

#include "refclock/refclock_reading.hpp"

namespace nanotime::refclock {

inline constexpr int32_t kShmKeyBase = 0x4e545030;
inline constexpr unsigned kShmMaxUnit = 3;          // units 0-3 are configurable
inline constexpr unsigned kShmFirstPublicUnit = 2;  // units below are root's (0600)

struct ShmTime {
    int32_t mode;
    int32_t count;
    time_t clock_sec;
    int32_t clock_usec;
    time_t receive_sec;
    int32_t receive_usec;
    int32_t leap;
    int32_t precision;
    int32_t nsamples;
    int32_t valid;
    uint32_t clock_nsec;
    uint32_t receive_nsec;
    int32_t dummy[8];
};
#if defined(__x86_64__) || defined(__aarch64__)
static_assert(sizeof(ShmTime) == 96, "struct shmTime is 96 bytes on 64-bit Linux");
#endif

// The segment's key and permissions for @unit.
key_t shm_key(unsigned unit);
int shm_mode(unsigned unit);

// @copy: the segment as copied, its count as read before the copy;
// @count_after: the count read again after it.
ParseOutcome read_shm_copy(const ShmTime& copy, int32_t count_after);

}  // namespace nanotime::refclock
