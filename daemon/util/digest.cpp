// digest.cpp - one-shot EVP_Digest calls; the algorithms are fetched once.
#include "util/digest.hpp"

#include <openssl/evp.h>

#include <cstdlib>

namespace nanotime::ntp {
namespace {

// Fetched once per process (explicit fetches skip the per-call lookup of
// EVP_sha1()/EVP_md5()); kept for the life of the process.
const EVP_MD* fetched(const char* name) noexcept {
    EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
    if (md == nullptr) std::abort();  // OpenSSL's default provider is always there
    return md;
}

template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::span<const uint8_t> message) {
    std::array<uint8_t, N> out{};
    unsigned int length = 0;
    if (EVP_Digest(message.data(), message.size(), out.data(), &length, md, nullptr) != 1 ||
        length != N) {
        std::abort();  // cannot fail for these algorithms short of memory exhaustion
    }
    return out;
}

// Fetched at start-up, before the daemon installs its seccomp filter: a
// first fetch later (an IPv6 refid, a leap file reloaded on SIGHUP) would
// run OpenSSL's provider lookup under the filter.
const EVP_MD* const kSha1 = fetched("SHA1");
const EVP_MD* const kMd5 = fetched("MD5");

}  // namespace

std::array<uint8_t, 20> sha1(std::span<const uint8_t> message) {
    return digest<20>(kSha1, message);
}

std::array<uint8_t, 16> md5(std::span<const uint8_t> message) {
    return digest<16>(kMd5, message);
}

}  // namespace nanotime::ntp
