// candidate.hpp - one source as seen by selection, clustering and combining.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nanotime::ntp {

struct Candidate {
    size_t index = 0;            // caller's handle (position in its source list)
    double offset = 0.0;         // theta, s
    double root_distance = 0.0;  // lambda, s: half-width of the correctness interval
    double jitter = 0.0;         // psi, s
    uint8_t stratum = 0;
};

}  // namespace nanotime::ntp
