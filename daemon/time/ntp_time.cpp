#include "time/ntp_time.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp {
namespace {

// Floor division and the matching non-negative remainder.
int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

}  // namespace

Nanoseconds from_seconds(double s) {
    return Nanoseconds(std::llround(s * 1e9));
}

Nanoseconds difference(NtpTimestamp a, NtpTimestamp b) {
    // Two's-complement wrap-around makes this a signed 32.32 value whenever the
    // true difference is within +-2^31 s, whatever the eras of a and b.
    const int64_t fixed = static_cast<int64_t>(a.raw - b.raw);
    const int64_t seconds = fixed >> 32;  // arithmetic shift: floor
    const uint32_t fraction = static_cast<uint32_t>(fixed);
    return Nanoseconds(seconds * kNanosPerSecond + fraction_to_nanos(fraction));
}

Nanoseconds to_duration(NtpShort value) {
    const int64_t seconds = value.raw >> 16;
    const uint64_t fraction = value.raw & 0xffff;
    return Nanoseconds(seconds * kNanosPerSecond +
                       static_cast<int64_t>((fraction * kNanosPerSecond + (1U << 15)) >> 16));
}

NtpShort to_short(Nanoseconds duration) {
    const int64_t ns = duration.count();
    if (ns <= 0) return NtpShort{0};
    if (ns >= int64_t{65536} * kNanosPerSecond) return NtpShort{0xffffffffU};
    const uint64_t seconds = static_cast<uint64_t>(ns / kNanosPerSecond);
    const uint64_t rest = static_cast<uint64_t>(ns % kNanosPerSecond);
    uint64_t fraction = ((rest << 16) + kNanosPerSecond - 1) / kNanosPerSecond;  // round up
    uint64_t raw = (seconds << 16) + fraction;
    return NtpShort{static_cast<uint32_t>(std::min<uint64_t>(raw, 0xffffffffULL))};
}

NtpInstant NtpInstant::from_timestamp(NtpTimestamp ts, NtpInstant pivot) {
    return pivot + difference(ts, pivot.to_timestamp());
}

int64_t NtpInstant::era() const {
    return floor_div(floor_div(ns_, kNanosPerSecond), kEraSeconds);
}

NtpTimestamp NtpInstant::to_timestamp() const {
    const int64_t total_seconds = floor_div(ns_, kNanosPerSecond);
    const int64_t nanos = ns_ - total_seconds * kNanosPerSecond;  // [0, 1e9)
    // Seconds within the era: the low 32 bits (two's complement handles
    // instants before 1900 too). nanos < 1e9 rounds to a fraction below 2^32,
    // so there is never a carry into the seconds.
    const uint32_t era_seconds = static_cast<uint32_t>(static_cast<uint64_t>(total_seconds));
    return NtpTimestamp::from_parts(era_seconds, nanos_to_fraction(nanos));
}

}  // namespace nanotime::ntp
