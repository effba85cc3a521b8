#include "algorithm/selection.hpp"

#include <algorithm>

namespace nanotime::ntp {
namespace {

struct Endpoint {
    double value;
    int type;  // -1 lower edge, 0 midpoint, +1 upper edge (RFC 5905 A.5.5.1)
};

}  // namespace

std::optional<Intersection> find_intersection(std::span<const Candidate> candidates) {
    const size_t n = candidates.size();
    if (n == 0) return std::nullopt;
    std::vector<Endpoint> endpoints;
    endpoints.reserve(3 * n);
    for (const Candidate& c : candidates) {
        endpoints.push_back({c.offset - c.root_distance, -1});
        endpoints.push_back({c.offset, 0});
        endpoints.push_back({c.offset + c.root_distance, +1});
    }
    // Ties: lower edges first, so intervals that touch count as overlapping.
    std::sort(endpoints.begin(), endpoints.end(), [](const Endpoint& a, const Endpoint& b) {
        return a.value < b.value || (a.value == b.value && a.type < b.type);
    });
    for (size_t allow = 0; 2 * allow < n; ++allow) {
        const long needed = static_cast<long>(n - allow);
        size_t found = 0;
        long chime = 0;
        double low = 0.0, high = 0.0;
        bool have_low = false, have_high = false;
        for (const Endpoint& e : endpoints) {
            chime -= e.type;
            if (chime >= needed) {
                low = e.value;
                have_low = true;
                break;
            }
            if (e.type == 0) ++found;
        }
        chime = 0;
        for (auto it = endpoints.rbegin(); it != endpoints.rend(); ++it) {
            chime += it->type;
            if (chime >= needed) {
                high = it->value;
                have_high = true;
                break;
            }
            if (it->type == 0) ++found;
        }
        if (!have_low || !have_high || found > allow) continue;
        if (low <= high) return Intersection{low, high, allow};
    }
    return std::nullopt;
}

std::vector<size_t> truechimers(std::span<const Candidate> candidates,
                                const Intersection& intersection) {
    std::vector<size_t> out;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const Candidate& c = candidates[i];
        if (c.offset + c.root_distance < intersection.low ||
            c.offset - c.root_distance > intersection.high) {
            continue;
        }
        out.push_back(i);
    }
    return out;
}

}  // namespace nanotime::ntp
