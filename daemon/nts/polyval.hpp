// polyval.hpp - POLYVAL (RFC 8452 §3), the universal hash of AES-GCM-SIV,
// in constant time: the carry-less multiplications are integer multiplies
// of operands with holes (every fourth bit), so neither the time taken nor
// the memory touched depends on the key or the data - no tables, no
// secret-dependent branches.
//
// Field elements are 16 octets, little-endian: bit i of the 128-bit
// little-endian integer is the coefficient of x^i. dot(a, b) = a·b·x^-128
// modulo x^128 + x^127 + x^126 + x^121 + 1; S_j = dot(S_{j-1} + X_j, H).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nts {

class Polyval {
  public:
    explicit Polyval(std::span<const uint8_t, 16> h);
    ~Polyval();
    Polyval(const Polyval&) = delete;
    Polyval& operator=(const Polyval&) = delete;

    // Absorbs @data as a stream: pieces may be any length and are joined.
    void update(std::span<const uint8_t> data);
    // Zero-pads a partial block (RFC 8452: AAD and plaintext are each
    // padded to 16 octets) and absorbs it; nothing if none is pending.
    void pad();
    // pad(), then the hash so far into @out.
    void digest(std::span<uint8_t, 16> out);

  private:
    void absorb(const uint8_t* block);

    uint64_t h_lo_, h_hi_;  // H, low and high 64 coefficients
    uint64_t s_lo_ = 0, s_hi_ = 0;
    uint8_t pending_[16] = {};
    size_t pending_length_ = 0;
};

}  // namespace nts
