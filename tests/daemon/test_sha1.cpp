// SHA-1 against the FIPS 180 / RFC 3174 test vectors.
#include <gtest/gtest.h>

#include <string>

#include "util/sha1.hpp"

namespace nanotime::ntp {
namespace {

std::string hex(const std::array<uint8_t, 20>& d) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (uint8_t b : d) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

std::array<uint8_t, 20> of(const std::string& s) {
    return sha1(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

TEST(Sha1, Fips180Vectors) {
    EXPECT_EQ(hex(of("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(hex(of("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(Sha1, MillionAsInUnevenPieces) {
    Sha1 h;
    const std::string chunk(997, 'a');
    size_t left = 1'000'000;
    while (left > 0) {
        const size_t n = std::min(left, chunk.size());
        h.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(chunk.data()), n));
        left -= n;
    }
    EXPECT_EQ(hex(h.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, BlockBoundaries) {
    // 55, 56 and 64 bytes: the padding spills into a second block or not.
    EXPECT_EQ(hex(of(std::string(55, 'x'))), hex(of(std::string(55, 'x'))));
    Sha1 a;
    const std::string s(64, 'q');
    a.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), 30));
    a.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()) + 30, 34));
    EXPECT_EQ(hex(a.finish()), hex(of(s)));
    EXPECT_NE(hex(of(std::string(56, 'x'))), hex(of(std::string(55, 'x'))));
}

}  // namespace
}  // namespace nanotime::ntp
