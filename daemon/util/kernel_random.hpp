// openssl_random.hpp - the daemon's CSPRNG (OpenSSL RAND_bytes).
//
// Lives at the edge, in its own library (ntpcore_openssl), so ntpcore itself has
// no dependency on OpenSSL and its tests stay deterministic.
#pragma once

#include "util/random.hpp"

namespace nanotime::ntp {

class OpensslRandom final : public RandomSource {
  public:
    // Aborts the process if OpenSSL cannot produce random bytes: request
    // cookies must be unpredictable, and there is no safe degraded mode.
    uint64_t next_u64() override;
};

}  // namespace nanotime::ntp
