#include "algorithm/cluster.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {

ClusterResult cluster(std::span<const Candidate> candidates, std::vector<size_t> truechimers,
                      size_t min_survivors) {
    ClusterResult result;
    auto merit = [&](size_t i) {
        return candidates[i].stratum * kMaxDistance + candidates[i].root_distance;
    };
    std::stable_sort(truechimers.begin(), truechimers.end(),
                     [&](size_t a, size_t b) { return merit(a) < merit(b); });
    if (truechimers.size() > kMaxCluster) {
        result.outliers.assign(truechimers.begin() + kMaxCluster, truechimers.end());
        truechimers.resize(kMaxCluster);
    }
    while (truechimers.size() > std::max<size_t>(min_survivors, 1)) {
        double worst_jitter = -1.0;
        size_t worst = 0;
        double best_peer_jitter = INFINITY;
        for (size_t k = 0; k < truechimers.size(); ++k) {
            const Candidate& ci = candidates[truechimers[k]];
            double squares = 0.0;
            for (size_t j : truechimers) {
                const double d = ci.offset - candidates[j].offset;
                squares += d * d;
            }
            const double jitter = std::sqrt(squares / static_cast<double>(truechimers.size() - 1));
            if (jitter > worst_jitter) {
                worst_jitter = jitter;
                worst = k;
            }
            best_peer_jitter = std::min(best_peer_jitter, ci.jitter);
        }
        result.selection_jitter = worst_jitter;
        if (worst_jitter <= best_peer_jitter) break;
        result.outliers.push_back(truechimers[worst]);
        truechimers.erase(truechimers.begin() + static_cast<long>(worst));
    }
    result.survivors = std::move(truechimers);
    return result;
}

}  // namespace nanotime::ntp
