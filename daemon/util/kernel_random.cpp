// kernel_random.cpp - random bits from getrandom(2), kBufferBytes per call
// and per thread (see kernel_random.hpp).
#include "util/kernel_random.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace nanotime::ntp {
namespace {

// One thread's unused random octets: [next, end) of bytes, drawn for owner
// (another KernelRandom on the same thread, e.g. a test's, starts afresh).
struct ThreadBuffer {
    std::array<unsigned char, KernelRandom::kBufferBytes> bytes{};
    size_t next = KernelRandom::kBufferBytes;
    const KernelRandom* owner = nullptr;
};
thread_local ThreadBuffer buffer;

ssize_t kernel_getrandom(void* out, size_t length, unsigned flags) {
    return getrandom(out, length, flags);
}

}  // namespace

KernelRandom::KernelRandom() : fill_(kernel_getrandom) {}

uint64_t KernelRandom::next_u64() {
    ThreadBuffer& b = buffer;
    if (b.owner != this || b.next + sizeof(uint64_t) > b.bytes.size()) {
        size_t have = 0;
        while (have < b.bytes.size()) {
            // Up to 256 bytes come whole once the pool is seeded; a signal
            // before that interrupts the wait (EINTR): ask again.
            const ssize_t n = fill_(b.bytes.data() + have, b.bytes.size() - have, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) std::abort();
            have += static_cast<size_t>(n);
        }
        b.next = 0;
        b.owner = this;
    }
    uint64_t value = 0;
    std::memcpy(&value, b.bytes.data() + b.next, sizeof value);
    std::memset(b.bytes.data() + b.next, 0, sizeof value);  // handed out once, kept nowhere
    b.next += sizeof value;
    return value;
}

}  // namespace nanotime::ntp
