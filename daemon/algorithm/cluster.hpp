// cluster.hpp - the cluster algorithm (RFC 5905 §11.2.2, A.5.5.2).
//
// Orders the truechimers by merit (stratum * MAXDIST + root distance, lower is
// better), keeps at most MAXCLOCK, then repeatedly drops the survivor with the
// largest selection jitter (RMS of its offset against all the others) while
// that exceeds the smallest peer jitter and more than NMIN survivors remain.
// What is left agrees within its own noise.
#pragma once

#include <span>
#include <vector>

#include "algorithm/candidate.hpp"
#include "algorithm/constants.hpp"

namespace nanotime::ntp {

struct ClusterResult {
    std::vector<size_t> survivors;  // positions in the candidate list, best merit first
    std::vector<size_t> outliers;   // positions dropped by clustering
    double selection_jitter = 0.0;  // s, of the last survivor examined
};

ClusterResult cluster(std::span<const Candidate> candidates, std::vector<size_t> truechimers,
                      size_t min_survivors = kMinCluster);

}  // namespace nanotime::ntp
