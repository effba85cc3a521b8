// selection.hpp - the selection algorithm (RFC 5905 §11.2.1, A.5.5.1).
//
// Each candidate claims the true offset lies in its correctness interval
// [offset - lambda, offset + lambda]. A variant of Marzullo's algorithm finds
// the smallest interval [low, high] contained in the intervals of a majority:
// for f = 0, 1, ... while 2f < n it scans the sorted endpoints for the lowest
// point inside n - f intervals and the highest such point, counting the
// midpoints (offsets) outside; it accepts the first f for which the midpoints
// outside do not exceed f and low < high (the midpoint rule). Candidates
// whose interval overlaps [low, high] are truechimers (ntpd's rule, which
// keeps a source whose best estimate lies just outside); the others are
// falsetickers. With fewer than (n-1)/2 falsetickers the intersection always
// lies within the truechimers' intervals, so falsetickers cannot move it.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "algorithm/candidate.hpp"

namespace nanotime::ntp {

struct Intersection {
    double low = 0.0;   // s
    double high = 0.0;  // s
    size_t allowed_falsetickers = 0;
};

// Nothing when no majority of candidates agrees.
std::optional<Intersection> find_intersection(std::span<const Candidate> candidates);

// Positions (in @candidates) of the truechimers of @intersection.
std::vector<size_t> truechimers(std::span<const Candidate> candidates,
                                const Intersection& intersection);

}  // namespace nanotime::ntp
