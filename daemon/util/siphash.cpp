// siphash.cpp - SipHash-2-4 through EVP_MAC "SIPHASH" (OpenSSL >= 3.0).
#include "util/siphash.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>
#include <cstring>

#include "util/openssl_init.hpp"

namespace nanotime::ntp {
namespace {

// Fetched once, by the first SipHash made (a server's rate limiter), not at
// start-up: a daemon that serves nobody never sets up OpenSSL's default
// provider. Without openssl.cnf (openssl_init.hpp) a fetch under the seccomp
// filter needs no system call it denies.
EVP_MAC* siphash_algorithm() noexcept {
    static EVP_MAC* const mac = [] {
        init_openssl_without_config();
        EVP_MAC* m = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
        if (m == nullptr) std::abort();  // in OpenSSL's default provider since 3.0
        return m;
    }();
    return mac;
}

}  // namespace

std::array<uint8_t, 16> random_siphash_key(RandomSource& random) {
    std::array<uint8_t, 16> key;
    for (size_t half = 0; half < 2; ++half) {
        const uint64_t bits = random.next_u64();
        std::memcpy(key.data() + 8 * half, &bits, 8);
    }
    return key;
}

void SipHash::Free::operator()(evp_mac_ctx_st* ctx) const {
    EVP_MAC_CTX_free(ctx);
}

SipHash::SipHash(const std::array<uint8_t, 16>& key) : ctx_(EVP_MAC_CTX_new(siphash_algorithm())) {
    // 8-byte output: SipHash-2-4 as published (OpenSSL defaults to 16).
    unsigned int size = 8;
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                                 OSSL_PARAM_construct_end()};
    if (ctx_ == nullptr || EVP_MAC_init(ctx_.get(), key.data(), key.size(), params) != 1) {
        std::abort();
    }
}

uint64_t SipHash::operator()(std::span<const uint8_t> message) {
    // Without a key, init restores the keyed state saved by the first init.
    uint8_t out[8];
    size_t length = 0;
    if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx_.get(), message.data(), message.size()) != 1 ||
        EVP_MAC_final(ctx_.get(), out, &length, sizeof out) != 1 || length != sizeof out) {
        std::abort();
    }
    uint64_t h = 0;
    for (int i = 7; i >= 0; --i) h = h << 8 | out[i];  // little-endian, as the reference code
    return h;
}

}  // namespace nanotime::ntp
