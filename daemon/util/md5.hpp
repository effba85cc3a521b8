// md5.hpp - MD5 (RFC 1321), only for the IPv6 reference ID.
//
// RFC 5905 §7.3 defines the refid of an IPv6 upstream as the first four octets
// of the MD5 hash of its address; peers compare it with their own to detect
// loops. This is not used for anything security-relevant, so a small local
// implementation keeps OpenSSL out of the core.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace nanotime::ntp {

std::array<uint8_t, 16> md5(std::span<const uint8_t> message);

}  // namespace nanotime::ntp
