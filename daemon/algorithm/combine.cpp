#include "algorithm/combine.hpp"

#include <algorithm>
#include <cmath>

#include "algorithm/constants.hpp"

namespace nanotime::ntp {

Combined combine(std::span<const Candidate> candidates, std::span<const size_t> survivors,
                 size_t system_peer) {
    double weighted_offsets = 0.0, weights = 0.0, weighted_squares = 0.0;
    const double peer_offset = candidates[system_peer].offset;
    for (size_t i : survivors) {
        const Candidate& c = candidates[i];
        const double weight = 1.0 / std::max(c.root_distance, kMinDispersion);
        weights += weight;
        weighted_offsets += weight * c.offset;
        weighted_squares += weight * (c.offset - peer_offset) * (c.offset - peer_offset);
    }
    Combined out;
    out.offset = weighted_offsets / weights;
    const double peer_jitter = candidates[system_peer].jitter;
    out.jitter = std::sqrt(peer_jitter * peer_jitter + weighted_squares / weights);
    return out;
}

}  // namespace nanotime::ntp
