// siphash.hpp - SipHash-2-4 (64-bit output) through OpenSSL 3's EVP_MAC.
//
// A keyed hash for tables indexed by attacker-chosen keys (the rate
// limiter's client table): without the key nobody can aim collisions at one
// bucket. The MAC is fetched once, by the first object made; each keeps one
// context, keyed once, and re-initialises it per message without the key
// (cheap: no allocation, no key schedule). One object per thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "util/random.hpp"

struct evp_mac_ctx_st;

namespace nanotime::ntp {

// A secret key drawn from @random (the tables' hashes).
std::array<uint8_t, 16> random_siphash_key(RandomSource& random);

class SipHash {
  public:
    explicit SipHash(const std::array<uint8_t, 16>& key);

    uint64_t operator()(std::span<const uint8_t> message);

  private:
    struct Free {
        void operator()(evp_mac_ctx_st* ctx) const;
    };
    std::unique_ptr<evp_mac_ctx_st, Free> ctx_;
};

}  // namespace nanotime::ntp
