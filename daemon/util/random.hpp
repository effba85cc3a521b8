// random.hpp - injected randomness.
//
// The core never reads a random device itself: request cookies, source-port
// choices, poll jitter and hash keys all come from a RandomSource the caller
// owns. The daemon passes a CSPRNG (util/kernel_random.hpp); tests pass a
// seeded deterministic generator so every run is reproducible.
#pragma once

#include <cstdint>

namespace nanotime::ntp {

class RandomSource {
  public:
    virtual ~RandomSource() = default;

    // 64 uniformly distributed bits.
    virtual uint64_t next_u64() = 0;

    // Uniform integer in [0, bound); bound > 0. Lemire's multiply-shift with
    // rejection, so there is no modulo bias.
    uint64_t uniform(uint64_t bound) {
        const uint64_t threshold = (0 - bound) % bound;
        for (;;) {
            const unsigned __int128 product = static_cast<unsigned __int128>(next_u64()) * bound;
            if (static_cast<uint64_t>(product) >= threshold) {
                return static_cast<uint64_t>(product >> 64);
            }
        }
    }

    // Uniform real in [0, 1), 53 random bits.
    double unit() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
};

// splitmix64: a small deterministic generator for tests and simulations. Not
// for production: its output is predictable.
class SplitMix64 final : public RandomSource {
  public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}

    uint64_t next_u64() override {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

  private:
    uint64_t state_;
};

}  // namespace nanotime::ntp
