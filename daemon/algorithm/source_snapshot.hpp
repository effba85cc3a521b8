// source_snapshot.hpp - what a source reports to the system process.
#pragma once

#include <cstdint>

#include "algorithm/clock_filter.hpp"
#include "packet/packet.hpp"

namespace nanotime::ntp {

using SourceId = uint32_t;

struct SourceSnapshot {
    SourceId id = 0;
    bool has_statistics = false;  // the filter produced at least one estimate
    // Still filling its clock filter after start (a source needs about 4
    // samples before its root distance is below MAXDIST), and not given up
    // on. Counts toward the startup quorum (see system_process.hpp).
    bool starting = false;
    PeerStatistics statistics;  // the clock filter's output
    uint8_t reach = 0;          // reachability register, bit 0 = last poll answered
    // From the source's last accepted reply:
    LeapIndicator leap = LeapIndicator::Unsynchronized;
    uint8_t stratum = kMaxStratum;
    double root_delay = 0.0;       // s
    double root_dispersion = 0.0;  // s
    uint32_t reference_id = 0;     // the source's own reference (its upstream)
    // The reference ID other hosts see for this source: its IPv4 address or
    // the MD5 prefix of its IPv6 address.
    uint32_t address_reference_id = 0;
    int8_t poll = 6;        // log2 s, the source's current poll exponent
    bool prefer = false;    // made the system peer whenever it survives
    bool noselect = false;  // measured and shown, never selected
    bool trust = false;     // never a falseticker: the trusted sources decide (chrony's trust)
};

// lambda = max(MINDISP, root_delay + delay) / 2 + root_dispersion + dispersion
//          + PHI * (now - updated) + jitter                          (s)
double root_distance(const SourceSnapshot& source, NtpInstant now);

}  // namespace nanotime::ntp
