// combine.hpp - the combine algorithm (RFC 5905 §11.2.3, A.5.5.5).
//
// The system offset is the average of the survivors' offsets weighted by the
// reciprocal of their root distance. The system jitter combines the system
// peer's own jitter with the selection jitter, the weighted RMS of the
// survivors' offsets about the system peer's:
//   jitter = sqrt(psi_peer^2 + sum(w_i (theta_i - theta_peer)^2) / sum(w_i)).
#pragma once

#include <span>

#include "algorithm/candidate.hpp"

namespace nanotime::ntp {

struct Combined {
    double offset = 0.0;  // s
    double jitter = 0.0;  // s
};

// @survivors are positions in @candidates (at least one); @system_peer is one
// of them.
Combined combine(std::span<const Candidate> candidates, std::span<const size_t> survivors,
                 size_t system_peer);

}  // namespace nanotime::ntp
