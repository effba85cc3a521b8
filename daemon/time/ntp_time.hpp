// ntp_time.hpp - NTP time formats and era arithmetic (RFC 5905 §6).
//
// Three representations:
//   NtpTimestamp  the 64-bit wire format: unsigned 32.32 seconds within an
//                 era of 2^32 s (~136 years). Era 0 began 1900-01-01 00:00 UTC,
//                 era 1 begins 2036-02-07 06:28:16 UTC. The wire does not carry
//                 the era, so a timestamp alone is ambiguous.
//   NtpShort      the 32-bit short format: unsigned 16.16 seconds (root delay,
//                 root dispersion).
//   NtpInstant    an unambiguous instant: signed 64-bit nanoseconds since the
//                 NTP prime epoch (era 0, second 0). Covers 1608..2192.
// Durations are Nanoseconds (signed 64-bit ns).
//
// The difference of two wire timestamps is era-independent as long as the two
// instants are less than 68 years apart (the 2^64 wrap-around is taken as a
// signed 32.32 value), which is how on-wire offsets are computed across the
// 2036 rollover. A wire timestamp becomes an instant by choosing the era that
// puts it closest to a pivot instant the caller knows (the local clock).
#pragma once

#include <chrono>
#include <cstdint>

namespace nanotime::ntp {

using Nanoseconds = std::chrono::duration<int64_t, std::nano>;

inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
inline constexpr int64_t kNtpToUnixSeconds = 2'208'988'800;
// Length of one NTP era, in seconds.
inline constexpr int64_t kEraSeconds = int64_t{1} << 32;

// Seconds as a double, for the statistics of RFC 5905 §10-11.
constexpr double to_seconds(Nanoseconds d) {
    return static_cast<double>(d.count()) * 1e-9;
}
// Rounds to the nearest nanosecond; the caller keeps |s| < 9.2e9.
Nanoseconds from_seconds(double s);

// 32-bit fraction of a second (units of 2^-32 s) to nanoseconds, rounded.
constexpr int64_t fraction_to_nanos(uint32_t fraction) {
    return static_cast<int64_t>(
        (static_cast<uint64_t>(fraction) * kNanosPerSecond + (uint64_t{1} << 31)) >> 32);
}
// Nanoseconds in [0, 1e9) to a 32-bit fraction, rounded; 1e9-1 ns saturates.
constexpr uint32_t nanos_to_fraction(int64_t nanos) {
    const uint64_t scaled =
        ((static_cast<uint64_t>(nanos) << 32) + kNanosPerSecond / 2) / kNanosPerSecond;
    return scaled > 0xffffffffULL ? 0xffffffffU : static_cast<uint32_t>(scaled);
}

struct NtpTimestamp {
    uint64_t raw = 0;  // seconds in the high 32 bits, 2^-32 s in the low 32 bits

    static constexpr NtpTimestamp from_parts(uint32_t seconds, uint32_t fraction) {
        return NtpTimestamp{static_cast<uint64_t>(seconds) << 32 | fraction};
    }
    constexpr uint32_t seconds() const { return static_cast<uint32_t>(raw >> 32); }
    constexpr uint32_t fraction() const { return static_cast<uint32_t>(raw); }
    // RFC 5905: an all-zero timestamp means "unknown / not set".
    constexpr bool is_zero() const { return raw == 0; }

    friend constexpr bool operator==(NtpTimestamp, NtpTimestamp) = default;
};

// a - b, assuming the two instants are less than 2^31 s (68 years) apart.
Nanoseconds difference(NtpTimestamp a, NtpTimestamp b);

struct NtpShort {
    uint32_t raw = 0;  // seconds in the high 16 bits, 2^-16 s in the low 16 bits

    friend constexpr bool operator==(NtpShort, NtpShort) = default;
};

Nanoseconds to_duration(NtpShort value);
// Negative durations become 0, durations beyond 65535.99998 s saturate.
// Rounds up, so a transmitted root delay/dispersion never understates error.
NtpShort to_short(Nanoseconds duration);

class NtpInstant {
  public:
    constexpr NtpInstant() = default;
    static constexpr NtpInstant from_nanos_since_prime_epoch(int64_t ns) { return NtpInstant(ns); }
    // Unix time (CLOCK_REALTIME) in ns since 1970-01-01 to an NTP instant.
    static constexpr NtpInstant from_unix(Nanoseconds since_unix_epoch) {
        return NtpInstant(since_unix_epoch.count() + kNtpToUnixSeconds * kNanosPerSecond);
    }
    // The instant that has wire form @ts and lies within 68 years of @pivot.
    static NtpInstant from_timestamp(NtpTimestamp ts, NtpInstant pivot);

    constexpr int64_t nanos_since_prime_epoch() const { return ns_; }
    constexpr Nanoseconds to_unix() const {
        return Nanoseconds(ns_ - kNtpToUnixSeconds * kNanosPerSecond);
    }
    // Era number: 0 for 1900..2036, 1 for 2036..2172, -1 before 1900.
    int64_t era() const;
    // The wire form (drops the era).
    NtpTimestamp to_timestamp() const;

    constexpr NtpInstant operator+(Nanoseconds d) const { return NtpInstant(ns_ + d.count()); }
    constexpr NtpInstant operator-(Nanoseconds d) const { return NtpInstant(ns_ - d.count()); }
    constexpr Nanoseconds operator-(NtpInstant other) const { return Nanoseconds(ns_ - other.ns_); }
    NtpInstant& operator+=(Nanoseconds d) {
        ns_ += d.count();
        return *this;
    }
    friend constexpr auto operator<=>(NtpInstant, NtpInstant) = default;

  private:
    explicit constexpr NtpInstant(int64_t ns) : ns_(ns) {}
    int64_t ns_ = 0;  // ns since 1900-01-01 00:00:00 UTC (era 0, second 0)
};

}  // namespace nanotime::ntp
