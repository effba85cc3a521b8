// digest.cpp - SHA-1 and MD5 one-shot, through Nettle's plain functions.
//
// Nettle rather than OpenSSL's EVP_Digest: an EVP fetch sets up OpenSSL's
// default provider (its algorithm and name tables, and the libcrypto code
// that builds them), about 1.3 MiB of resident set that a client whose only
// digest is the leap file's SHA-1 kept for its whole life; Nettle's
// functions need no set-up (a context on the stack, 64 KiB for the library)
// and no system call, so a first use under the seccomp filter (an IPv6
// refid, a leap file reloaded on SIGHUP) is safe.
#include "util/digest.hpp"

#include <nettle/md5.h>
#include <nettle/sha1.h>

namespace nanotime::ntp {

std::array<uint8_t, 20> sha1(std::span<const uint8_t> message) {
    static_assert(SHA1_DIGEST_SIZE == 20);
    sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, message.size(), message.data());
    std::array<uint8_t, 20> out{};
    sha1_digest(&ctx, out.size(), out.data());
    return out;
}

std::array<uint8_t, 16> md5(std::span<const uint8_t> message) {
    static_assert(MD5_DIGEST_SIZE == 16);
    md5_ctx ctx;
    md5_init(&ctx);
    md5_update(&ctx, message.size(), message.data());
    std::array<uint8_t, 16> out{};
    md5_digest(&ctx, out.size(), out.data());
    return out;
}

}  // namespace nanotime::ntp
