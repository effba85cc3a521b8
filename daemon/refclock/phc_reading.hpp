// phc_reading.hpp - a PTP hardware clock (/dev/ptpN) read as a reference
// clock, as chrony's refclock PHC and linuxptp's phc2sys read one: the
// kernel's PTP_SYS_OFFSET* ioctls return the PHC's time bracketed by system
// clock (CLOCK_REALTIME) stamps, and this decides what one answer is worth.
//
// The three ioctls, in the order a reading tries them (as chrony does):
//   PTP_SYS_OFFSET_PRECISE   one hardware cross-timestamp: PHC and system
//                            time taken at the same instant (interval 0);
//                            skipped with `nocrossts`, and by drivers that
//                            lack it (EOPNOTSUPP);
//   PTP_SYS_OFFSET_EXTENDED  n_samples triplets [system before, PHC, system
//                            after], each bracket as tight as the driver can
//                            make it (its gettimex64);
//   PTP_SYS_OFFSET           2n+1 stamps, system and PHC interleaved
//                            (sys0 phc0 sys1 phc1 ... sysN): triplet i is
//                            [sys i, phc i, sys i+1].
// Of the triplets the one with the shortest system interval (after minus
// before) is taken: the PHC was read at the interval's mid-point, give or
// take half the interval. Its offset is the PHC's time minus that
// mid-point (the reference minus the system clock, as every Reading; chrony
// prints the opposite sign), its delay the interval. The stamps are int64
// nanoseconds; no floating point before the offset is formed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "refclock/refclock_reading.hpp"

namespace nanotime::refclock {

// Samples asked of PTP_SYS_OFFSET(_EXTENDED) per reading (chrony's
// default for its phc refclock is 10; the kernel allows 25).
inline constexpr unsigned kPhcSamplesPerReading = 10;

// One PTP stamp as the kernel writes it (struct ptp_clock_time).
struct PhcStamp {
    int64_t sec = 0;
    uint32_t nsec = 0;
};

// One measurement: the system clock, the PHC, the system clock again.
struct PhcTriplet {
    PhcStamp system_before;
    PhcStamp phc;
    PhcStamp system_after;
};

// The triplet taken and what it says, in ns.
struct PhcChoice {
    size_t index = 0;        // which triplet
    int64_t system_mid = 0;  // ns since the epoch, CLOCK_REALTIME mid-point
    int64_t offset_ns = 0;   // PHC time minus system_mid
    int64_t delay_ns = 0;    // system_after - system_before (0: a cross-timestamp)
};

// PTP_SYS_OFFSET's interleaved stamps (2n + 1 of them) as n triplets;
// empty if the count is not odd and at least 3.
std::vector<PhcTriplet> phc_triplets_from_interleaved(std::span<const PhcStamp> stamps);

// The shortest-interval triplet, or why none is usable: no triplets, a
// stamp out of range (nsec >= 1e9, negative seconds), or every interval
// negative (the system clock stepped back during the reading).
std::variant<PhcChoice, Refusal> choose_phc_triplet(std::span<const PhcTriplet> triplets);

// The chosen triplet as a Reading (system_time = the mid-point).
ParseOutcome phc_reading(std::span<const PhcTriplet> triplets);

}  // namespace nanotime::refclock
