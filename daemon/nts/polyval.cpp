// polyval.cpp - constant-time POLYVAL (see polyval.hpp).
#include "nts/polyval.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace nts {
namespace {

uint64_t load_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// 32 x 32 -> 64-bit carry-less product from four integer multiplies per
// lane. Each operand is split into four masks keeping every fourth bit; a
// product of two masks sums at most 8 one-bit terms per 4-bit group, which
// never carries into the next group, so bit 4k+r of the integer product is
// the XOR of the terms of weight x^(4k+r). The masks keep, per lane, the
// residue class the lane is responsible for.
uint64_t clmul32(uint32_t x, uint32_t y) {
    const uint64_t x0 = x & 0x11111111u, x1 = x & 0x22222222u;
    const uint64_t x2 = x & 0x44444444u, x3 = x & 0x88888888u;
    const uint64_t y0 = y & 0x11111111u, y1 = y & 0x22222222u;
    const uint64_t y2 = y & 0x44444444u, y3 = y & 0x88888888u;
    const uint64_t z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
    const uint64_t z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
    const uint64_t z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
    const uint64_t z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
    return (z0 & 0x1111111111111111u) | (z1 & 0x2222222222222222u) | (z2 & 0x4444444444444444u) |
           (z3 & 0x8888888888888888u);
}

struct U128 {
    uint64_t lo, hi;
};

// 64 x 64 -> 128-bit carry-less product (Karatsuba over 32-bit halves).
U128 clmul64(uint64_t a, uint64_t b) {
    const auto a0 = static_cast<uint32_t>(a), a1 = static_cast<uint32_t>(a >> 32);
    const auto b0 = static_cast<uint32_t>(b), b1 = static_cast<uint32_t>(b >> 32);
    const uint64_t lo = clmul32(a0, b0);
    const uint64_t hi = clmul32(a1, b1);
    const uint64_t mid = clmul32(a0 ^ a1, b0 ^ b1) ^ lo ^ hi;
    return {lo ^ (mid << 32), hi ^ (mid >> 32)};
}

}  // namespace

Polyval::Polyval(std::span<const uint8_t, 16> h)
    : h_lo_(load_le64(h.data())), h_hi_(load_le64(h.data() + 8)) {}

Polyval::~Polyval() {
    OPENSSL_cleanse(this, sizeof(*this));
}

// S = dot(S + X, H): a 256-bit carry-less product (Karatsuba over 64-bit
// halves), then Montgomery reduction by x^128: add X0·P to clear the low 64
// coefficients, then the same for the next 64. P = x^128 + x^127 + x^126 +
// x^121 + 1, so X·P adds X at x^128 and X shifted by 127, 126 and 121.
void Polyval::absorb(const uint8_t* block) {
    const uint64_t a_lo = s_lo_ ^ load_le64(block);
    const uint64_t a_hi = s_hi_ ^ load_le64(block + 8);
    const U128 low = clmul64(a_lo, h_lo_);
    const U128 high = clmul64(a_hi, h_hi_);
    U128 mid = clmul64(a_lo ^ a_hi, h_lo_ ^ h_hi_);
    mid.lo ^= low.lo ^ high.lo;
    mid.hi ^= low.hi ^ high.hi;
    const uint64_t c0 = low.lo;
    uint64_t c1 = low.hi ^ mid.lo;
    uint64_t c2 = high.lo ^ mid.hi;
    uint64_t c3 = high.hi;
    c1 ^= (c0 << 63) ^ (c0 << 62) ^ (c0 << 57);
    c2 ^= c0 ^ (c0 >> 1) ^ (c0 >> 2) ^ (c0 >> 7);
    c2 ^= (c1 << 63) ^ (c1 << 62) ^ (c1 << 57);
    c3 ^= c1 ^ (c1 >> 1) ^ (c1 >> 2) ^ (c1 >> 7);
    s_lo_ = c2;
    s_hi_ = c3;
}

void Polyval::update(std::span<const uint8_t> data) {
    if (data.empty()) return;  // also: memcpy must not see its null pointer
    size_t at = 0;
    if (pending_length_ > 0) {
        const size_t take = std::min(data.size(), sizeof(pending_) - pending_length_);
        std::memcpy(pending_ + pending_length_, data.data(), take);
        pending_length_ += take;
        at = take;
        if (pending_length_ < sizeof(pending_)) return;
        absorb(pending_);
        pending_length_ = 0;
    }
    for (; at + 16 <= data.size(); at += 16) absorb(data.data() + at);
    if (at < data.size()) {
        pending_length_ = data.size() - at;
        std::memcpy(pending_, data.data() + at, pending_length_);
    }
}

void Polyval::pad() {
    if (pending_length_ == 0) return;
    std::memset(pending_ + pending_length_, 0, sizeof(pending_) - pending_length_);
    absorb(pending_);
    pending_length_ = 0;
}

void Polyval::digest(std::span<uint8_t, 16> out) {
    pad();
    store_le64(out.data(), s_lo_);
    store_le64(out.data() + 8, s_hi_);
}

}  // namespace nts
