// RFC 5905 §8 on-wire offset/delay/dispersion vectors.
#include <gtest/gtest.h>

#include "algorithm/constants.hpp"
#include "algorithm/on_wire.hpp"

namespace nanotime::ntp {
namespace {

constexpr int64_t kMs = 1'000'000;

NtpTimestamp at(NtpInstant base, int64_t ms) {
    return (base + Nanoseconds(ms * kMs)).to_timestamp();
}

TEST(OnWire, SymmetricPathGivesExactOffsetAndDelay) {
    const NtpInstant base = NtpInstant::from_unix(Nanoseconds(1'700'000'000LL * kNanosPerSecond));
    // Server 100 ms ahead, 10 ms each way, 1 ms processing:
    // t1 = 0, t2 = 0 + 10 + 100, t3 = 111, t4 = 21 (client clock).
    const auto s =
        measure_on_wire(at(base, 0), at(base, 110), at(base, 111), at(base, 21), -20, -20);
    EXPECT_EQ(s.offset.count(), 100 * kMs);
    EXPECT_EQ(s.delay.count(), 20 * kMs);
    EXPECT_NEAR(s.dispersion, 2 * log2_to_seconds(-20) + kPhi * 0.021, 1e-12);
}

TEST(OnWire, AsymmetryShowsUpAsHalfTheDifference) {
    const NtpInstant base = NtpInstant::from_unix(Nanoseconds(1'700'000'000LL * kNanosPerSecond));
    // Same clocks, 30 ms out, 10 ms back: offset error +10 ms.
    const auto s = measure_on_wire(at(base, 0), at(base, 30), at(base, 30), at(base, 40), -20, -20);
    EXPECT_EQ(s.offset.count(), 10 * kMs);
    EXPECT_EQ(s.delay.count(), 40 * kMs);
}

TEST(OnWire, NegativeDelayIsClampedToPrecision) {
    const NtpInstant base = NtpInstant::from_unix(Nanoseconds(1'700'000'000LL * kNanosPerSecond));
    const auto s = measure_on_wire(at(base, 0), at(base, 5), at(base, 10), at(base, 1), -10, -20);
    EXPECT_EQ(s.delay.count(), from_seconds(log2_to_seconds(-10)).count());
}

TEST(OnWire, ExchangeStraddlingThe2036Rollover) {
    const NtpInstant rollover =
        NtpInstant::from_unix(Nanoseconds(2'085'978'496LL * kNanosPerSecond));
    const NtpInstant t1 = rollover - Nanoseconds(5 * kMs);
    // Server 1 s behind: its clock is still in era 0 when ours is in era 1.
    const auto s = measure_on_wire(t1.to_timestamp(), at(t1, 10 - 1000), at(t1, 11 - 1000),
                                   at(t1, 21), -20, -20);
    EXPECT_EQ(s.offset.count(), -1000 * kMs);
    EXPECT_EQ(s.delay.count(), 20 * kMs);
}

}  // namespace
}  // namespace nanotime::ntp
