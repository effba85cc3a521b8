// SHA-1 and MD5 (util/digest, OpenSSL EVP) against published vectors, and
// SipHash-2-4 (util/siphash, EVP_MAC) against the reference implementation's.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "util/digest.hpp"
#include "util/siphash.hpp"

namespace nanotime::ntp {
namespace {

template <size_t N>
std::string hex(const std::array<uint8_t, N>& d) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (uint8_t b : d) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

std::span<const uint8_t> bytes(const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// FIPS 180-2 appendix A and the NIST example values (one million 'a').
TEST(Sha1, Fips180Vectors) {
    EXPECT_EQ(hex(sha1(bytes(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(hex(sha1(bytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(sha1(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(hex(sha1(bytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijkl"
                             "mnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))),
              "a49b2446a02c645bf419f995b67091253a04a259");
    EXPECT_EQ(hex(sha1(bytes(std::string(1'000'000, 'a')))),
              "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

// Around the 64-byte block: the padding (9+ bytes) fits after 55 bytes and
// spills into a second block from 56. Values from coreutils sha1sum.
TEST(Sha1, BlockBoundaries) {
    EXPECT_EQ(hex(sha1(bytes(std::string(55, 'a')))), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    EXPECT_EQ(hex(sha1(bytes(std::string(56, 'a')))), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    EXPECT_EQ(hex(sha1(bytes(std::string(63, 'a')))), "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
    EXPECT_EQ(hex(sha1(bytes(std::string(64, 'a')))), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    EXPECT_EQ(hex(sha1(bytes(std::string(65, 'a')))), "11655326c708d70319be2610e8a57d9a5b959d3b");
}

TEST(Md5, Rfc1321Vectors) {
    EXPECT_EQ(hex(md5(bytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex(md5(bytes("a"))), "0cc175b9c0f1b6a831c399e269772661");
    EXPECT_EQ(hex(md5(bytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(md5(bytes("message digest"))), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_EQ(hex(md5(bytes("abcdefghijklmnopqrstuvwxyz"))), "c3fcd3d76192e4007dfb496cca67e13b");
    EXPECT_EQ(hex(md5(bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))),
              "d174ab98d277d9f5a5611c2c9f419d9f");
    EXPECT_EQ(hex(md5(bytes("1234567890123456789012345678901234567890123456789012345678901234567"
                            "8901234567890"))),
              "57edf4a22be3c955ac49da2e2107b67a");
}

// The SipHash paper's vectors (Aumasson and Bernstein, appendix A; the
// reference code's vectors.h): key 00..0f, message 00..(n-1), SipHash-2-4
// with 64-bit output read little-endian.
TEST(SipHash, ReferenceVectors) {
    std::array<uint8_t, 16> key;
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
    std::array<uint8_t, 64> message;
    for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(i);
    SipHash hash(key);
    const std::pair<size_t, uint64_t> vectors[] = {
        {0, 0x726fdb47dd0e0e31},  {1, 0x74f839c593dc67fd},  {2, 0x0d6c8009d9a94f5a},
        {15, 0xa129ca6149be45e5}, {16, 0x3f2acc7f57c29bdb}, {63, 0x958a324ceb064572},
    };
    for (auto [length, expected] : vectors) {
        EXPECT_EQ(hash(std::span<const uint8_t>(message.data(), length)), expected) << length;
    }
    // The context is reused: hashing again gives the same value.
    EXPECT_EQ(hash(std::span<const uint8_t>(message.data(), 15)), 0xa129ca6149be45e5U);
    key[0] ^= 1;
    EXPECT_NE(SipHash(key)(std::span<const uint8_t>(message.data(), 15)), 0xa129ca6149be45e5U);
}

// nanotime never reads openssl.cnf (util/openssl_init.hpp): a first fetch
// can come under the seccomp filter. A configuration naming a provider that
// does not exist, with config_diagnostics on, fails every fetch of a process
// that loads it; SipHash (the one EVP fetch in ntpcore) works all the same.
// In a child: OPENSSL_CONF is read by the first OpenSSL initialisation.
TEST(SipHash, OpenSslConfigurationFileIsNotRead) {
    const std::string conf = ::testing::TempDir() + "nanotime-broken-openssl.cnf";
    std::ofstream(conf) << "openssl_conf = openssl_init\nconfig_diagnostics = 1\n"
                           "[openssl_init]\nproviders = provider_sect\n"
                           "[provider_sect]\nnanotime_absent = absent_sect\n"
                           "[absent_sect]\nactivate = 1\n";
    const pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENSSL_CONF", conf.c_str(), 1);
        std::array<uint8_t, 16> key{};
        for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
        _exit(SipHash(key)(std::span<const uint8_t>()) == 0x726fdb47dd0e0e31U ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    std::remove(conf.c_str());
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace nanotime::ntp
