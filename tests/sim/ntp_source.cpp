#include "ntp_source.hpp"

namespace nksim {

std::optional<double> NtpSource::measure(double true_offset_ns) {
    const double g = rng_.gauss();
    const double u = rng_.uniform();
    if (u < p_.loss_prob) {
        ++lost_;
        return std::nullopt;
    }
    ++updates_;
    return true_offset_ns + p_.bias_ns + p_.noise_ns * g;
}

}  // namespace nksim
