// kernel_random.hpp - the daemon's CSPRNG: the kernel's, through getrandom(2).
//
// Lives at the edge, in its own library (ntpcore_random), so ntpcore itself
// has no system dependency and its tests stay deterministic.
//
// Why not OpenSSL's RAND_bytes (which seeds itself from the same getrandom):
// the daemon draws a few 64-bit values per client request, where a system
// call costs nothing that matters, while OpenSSL's DRBG brings its provider
// machinery into the resident set of every client (about 2 MiB: OpenSSL's
// initialisation, then about 1 MiB of its code faulted in again by every
// draw), against chronyd's 5 MiB whole (tests/bench/client-rss.sh).
#pragma once

#include "util/random.hpp"

namespace nanotime::ntp {

class KernelRandom final : public RandomSource {
  public:
    // Aborts the process if the kernel cannot produce random bytes: request
    // cookies must be unpredictable, and there is no safe degraded mode.
    // Blocks only before the kernel's pool is first seeded (early boot).
    uint64_t next_u64() override;
};

}  // namespace nanotime::ntp
