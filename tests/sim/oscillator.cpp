#include "oscillator.hpp"

#include <algorithm>
#include <cmath>

namespace nksim {

namespace {
constexpr double kNsPerSec = 1e9;
}

Oscillator::Oscillator(const OscillatorParams& p, uint64_t seed) : p_(p), rng_(seed) {
    pcc_.reserve(1 << 17);
    y_.reserve(1 << 17);
    pcc_.push_back(0.0);
}

void Oscillator::extend_to_second(size_t k) {
    // Invariant: pcc_.size() == y_.size() + 1 (pcc_ holds the end of the last segment).
    while (y_.size() <= k) {
        const size_t i = y_.size();
        double y = p_.freq_ppm * 1e-6 + walk_;
        if (p_.temp_step_at_s >= 0.0 && static_cast<double>(i) >= std::floor(p_.temp_step_at_s))
            y += p_.temp_step_ppm * 1e-6;
        y_.push_back(y);
        pcc_.push_back(pcc_.back() + kNsPerSec * (1.0 + y));
        walk_ += p_.wander * rng_.gauss();
    }
}

void Oscillator::extend_to_pcc(double rel_pcc) {
    while (pcc_.back() <= rel_pcc) extend_to_second(y_.size());
}

double Oscillator::pcc_at(double t_ns) {
    const double sec = std::floor(std::max(t_ns, 0.0) / kNsPerSec);
    const size_t k = static_cast<size_t>(sec);
    extend_to_second(k);
    return p_.pcc_start_ns + pcc_[k] + (t_ns - sec * kNsPerSec) * (1.0 + y_[k]);
}

double Oscillator::true_at(double pcc_ns) {
    const double rel = pcc_ns - p_.pcc_start_ns;
    extend_to_pcc(rel);
    // Last segment start <= rel.
    auto it = std::upper_bound(pcc_.begin(), pcc_.end() - 1, rel);
    size_t k = it == pcc_.begin() ? 0 : static_cast<size_t>(it - pcc_.begin()) - 1;
    return static_cast<double>(k) * kNsPerSec + (rel - pcc_[k]) / (1.0 + y_[k]);
}

double Oscillator::y_at(double t_ns) {
    const size_t k = static_cast<size_t>(std::floor(std::max(t_ns, 0.0) / kNsPerSec));
    extend_to_second(k);
    return y_[k];
}

}  // namespace nksim
