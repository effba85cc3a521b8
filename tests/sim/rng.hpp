// rng.hpp - deterministic random numbers for the simulator models.
//
// xoshiro256** seeded through splitmix64, and Gaussian variates by the Marsaglia
// polar method. Implemented here (not <random>'s distributions) so that a seed
// gives the same run with every standard library.
#pragma once

#include <cmath>
#include <cstdint>

namespace nksim {

class Rng {
  public:
    explicit Rng(uint64_t seed) {
        for (auto& s : s_) s = splitmix(seed);
    }

    // Derive an independent stream for one model from a scenario seed.
    static uint64_t stream_seed(uint64_t seed, uint64_t stream) {
        uint64_t x = seed ^ (0x9e3779b97f4a7c15ULL * (stream + 1));
        return splitmix(x);
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1).
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    // Standard normal N(0, 1).
    double gauss() {
        if (have_spare_) {
            have_spare_ = false;
            return spare_;
        }
        double u, v, s;
        do {
            u = 2.0 * uniform() - 1.0;
            v = 2.0 * uniform() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        const double m = std::sqrt(-2.0 * std::log(s) / s);
        spare_ = v * m;
        have_spare_ = true;
        return u * m;
    }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix(uint64_t& x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    uint64_t s_[4];
    double spare_ = 0.0;
    bool have_spare_ = false;
};

}  // namespace nksim
