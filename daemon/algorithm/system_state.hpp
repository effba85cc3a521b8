// system_state.hpp - the system variables (RFC 5905 §11.2.3) that a server
// puts in its replies and the discipline consumes.
#pragma once

#include <cstdint>
#include <optional>

#include "algorithm/constants.hpp"
#include "algorithm/source_snapshot.hpp"
#include "packet/reference_id.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct SystemState {
    LeapIndicator leap = LeapIndicator::Unsynchronized;
    uint8_t stratum = kMaxStratum;  // 16 until synchronized
    int8_t precision = -20;         // log2 s of the local clock reading
    double root_delay = 0.0;        // s, to the primary reference
    double root_dispersion = 0.0;   // s, as of reference_time
    uint32_t reference_id = kRefIdInit;
    NtpInstant reference_time;  // local time of the last clock update
    bool has_reference_time = false;
    double offset = 0.0;  // s, combined offset of the last update
    double jitter = 0.0;  // s, system jitter
    // How fast the root dispersion grows after reference_time (s/s): the
    // estimate's frequency uncertainty plus the clock's error bound, as
    // chrony serves it (RFC 5905's PHI, 15 ppm, until the first update).
    double dispersion_rate = kPhi;
    std::optional<SourceId> system_peer;

    bool synchronized() const { return leap != LeapIndicator::Unsynchronized; }
    // Root distance (s) a server advertises at @now: root delay / 2 + grown
    // root dispersion.
    double root_distance_at(NtpInstant now) const {
        return root_delay / 2 + root_dispersion_at(now);
    }
    // Synchronized and not yet aged beyond MAXDIST: after about a day of
    // holdover without sources, a server stops claiming good time.
    bool serves_time_at(NtpInstant now) const {
        return synchronized() && root_distance_at(now) < kMaxDistance;
    }
    // Root dispersion grown by PHI since the last update, as a server must
    // advertise it (RFC 5905 §9.2).
    double root_dispersion_at(NtpInstant now) const;
};

}  // namespace nanotime::ntp
