// sha1.hpp - SHA-1 (FIPS 180-4), only to check the integrity hash of an IETF
// leap-seconds.list file (its "#h" line). That hash guards against a
// truncated or edited file, not against an attacker, so a small local
// implementation keeps OpenSSL out of the sans-IO core (as md5.hpp does).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace nanotime::ntp {

class Sha1 {
  public:
    Sha1();
    void update(std::span<const uint8_t> data);
    // The digest; the object must not be updated afterwards.
    std::array<uint8_t, 20> finish();

  private:
    void block(const uint8_t* p);

    std::array<uint32_t, 5> h_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t length_ = 0;  // bytes hashed so far
};

std::array<uint8_t, 20> sha1(std::span<const uint8_t> message);

}  // namespace nanotime::ntp
