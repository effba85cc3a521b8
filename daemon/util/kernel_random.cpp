#include "util/openssl_random.hpp"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

namespace nanotime::ntp {

uint64_t OpensslRandom::next_u64() {
    unsigned char bytes[sizeof(uint64_t)];
    if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
    uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

}  // namespace nanotime::ntp
