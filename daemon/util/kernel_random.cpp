// kernel_random.cpp - 64 random bits from getrandom(2) (see kernel_random.hpp).
#include "util/kernel_random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nanotime::ntp {

uint64_t KernelRandom::next_u64() {
    unsigned char bytes[sizeof(uint64_t)];
    size_t have = 0;
    while (have < sizeof bytes) {
        // Up to 256 bytes come whole once the pool is seeded; a signal
        // before that interrupts the wait (EINTR): ask again.
        const ssize_t n = getrandom(bytes + have, sizeof bytes - have, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) std::abort();
        have += static_cast<size_t>(n);
    }
    uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

}  // namespace nanotime::ntp
