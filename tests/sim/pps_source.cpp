#include "pps_source.hpp"

namespace nksim {

std::optional<double> PpsSource::capture(int64_t k) {
    const double g = rng_.gauss();
    const double u_spike = rng_.uniform();
    const double u_drop = rng_.uniform();
    const double t = static_cast<double>(k);
    for (const auto& [start, len] : p_.outages) {
        if (t >= start && t < start + len) {
            ++n_.outage;
            return std::nullopt;
        }
    }
    if (u_drop < p_.dropout_prob) {
        ++n_.dropouts;
        return std::nullopt;
    }
    double e = p_.bias_ns + p_.jitter_ns * g;
    if (u_spike < p_.spike_prob) {
        e += p_.spike_ns;
        ++n_.spikes;
    }
    ++n_.edges;
    return e;
}

}  // namespace nksim
