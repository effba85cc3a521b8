// kernel_random.hpp - the daemon's CSPRNG: the kernel's, through getrandom(2).
//
// Lives at the edge, in its own library (ntpcore_random), so ntpcore itself
// has no system dependency and its tests stay deterministic.
//
// Why not OpenSSL's RAND_bytes (which seeds itself from the same getrandom):
// OpenSSL's DRBG brings its provider machinery into the resident set of
// every client (about 2 MiB: OpenSSL's initialisation, then about 1 MiB of
// its code faulted in again by every draw), against chronyd's 5 MiB whole
// (tests/bench/client-rss.sh).
//
// Why a buffer: an NTS server draws 32 random octets per response (the
// cookie's and the authenticator's nonces), four getrandom calls when each
// draw was its own call; under NTS load that was 6.5 % of the server's CPU
// (perf, tests/bench/nts-server.sh). Each thread now takes kBufferBytes at a
// time from the kernel and hands them out 8 at a time, erasing each as it
// goes. The buffer is per thread (one KernelRandom serves every worker), so
// no lock; nanotimed never forks (its seccomp filter refuses it), so no two
// processes can share a buffer's contents.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "util/random.hpp"

namespace nanotime::ntp {

class KernelRandom final : public RandomSource {
  public:
    // getrandom(2)'s shape; a test passes a counting stand-in.
    using Fill = ssize_t (*)(void* buffer, size_t length, unsigned flags);
    static constexpr size_t kBufferBytes = 256;  // getrandom's most that comes whole

    KernelRandom();
    explicit KernelRandom(Fill fill) : fill_(fill) {}

    // Aborts the process if the kernel cannot produce random bytes: request
    // cookies must be unpredictable, and there is no safe degraded mode.
    // Blocks only before the kernel's pool is first seeded (early boot).
    uint64_t next_u64() override;

  private:
    Fill fill_;
};

}  // namespace nanotime::ntp
