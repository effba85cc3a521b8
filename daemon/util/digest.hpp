// digest.hpp - SHA-1 and MD5 (through Nettle, see digest.cpp).
//
// Neither guards anything against an attacker: SHA-1 checks the integrity
// hash of an IETF leap-seconds.list file (its "#h" line, which catches a
// truncated or edited file), MD5 makes the reference ID of an IPv6 upstream
// (RFC 5905 §7.3: the first four octets of the MD5 of its address).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace nanotime::ntp {

std::array<uint8_t, 20> sha1(std::span<const uint8_t> message);
std::array<uint8_t, 16> md5(std::span<const uint8_t> message);

}  // namespace nanotime::ntp
