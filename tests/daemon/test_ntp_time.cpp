// RFC 5905 §6 timestamp formats and era arithmetic, including the 2036 rollover.
#include <gtest/gtest.h>

#include "time/ntp_time.hpp"

namespace nanotime::ntp {
namespace {

constexpr int64_t kS = kNanosPerSecond;

TEST(NtpTime, FractionConversionsRoundTripEveryNanosecondScale) {
    EXPECT_EQ(fraction_to_nanos(0), 0);
    EXPECT_EQ(fraction_to_nanos(0x80000000U), 500'000'000);
    EXPECT_EQ(fraction_to_nanos(0x40000000U), 250'000'000);
    EXPECT_EQ(nanos_to_fraction(500'000'000), 0x80000000U);
    for (int64_t ns : {0LL, 1LL, 2LL, 999LL, 123'456'789LL, 500'000'001LL, 999'999'999LL}) {
        EXPECT_EQ(fraction_to_nanos(nanos_to_fraction(ns)), ns) << ns;
    }
}

TEST(NtpTime, UnixEpochIsNtpSecond2208988800) {
    const NtpInstant epoch = NtpInstant::from_unix(Nanoseconds(0));
    EXPECT_EQ(epoch.to_timestamp().seconds(), 2'208'988'800U);
    EXPECT_EQ(epoch.to_timestamp().fraction(), 0U);
    EXPECT_EQ(epoch.era(), 0);
    EXPECT_EQ(epoch.to_unix().count(), 0);
}

TEST(NtpTime, Era1BeginsAt2036February7) {
    // 2036-02-07T06:28:16Z = Unix 2085978496.
    const NtpInstant rollover = NtpInstant::from_unix(Nanoseconds(2'085'978'496LL * kS));
    EXPECT_EQ(rollover.era(), 1);
    EXPECT_EQ(rollover.to_timestamp().raw, 0U);
    const NtpInstant before = rollover - Nanoseconds(1);
    EXPECT_EQ(before.era(), 0);
    EXPECT_EQ(before.to_timestamp().seconds(), 0xffffffffU);
}

TEST(NtpTime, DifferenceIsEraIndependentAcrossRollover) {
    const NtpInstant rollover = NtpInstant::from_unix(Nanoseconds(2'085'978'496LL * kS));
    const NtpInstant a = rollover - Nanoseconds(3 * kS + 250'000'000);
    const NtpInstant b = rollover + Nanoseconds(2 * kS + 125'000'000);
    EXPECT_EQ(difference(b.to_timestamp(), a.to_timestamp()).count(), 5 * kS + 375'000'000);
    EXPECT_EQ(difference(a.to_timestamp(), b.to_timestamp()).count(), -(5 * kS + 375'000'000));
}

TEST(NtpTime, DifferenceVectors) {
    // 1.5 s - 1.0 s, and negatives with fractions that borrow.
    EXPECT_EQ(difference(NtpTimestamp::from_parts(1, 0x80000000U), NtpTimestamp::from_parts(1, 0))
                  .count(),
              500'000'000);
    EXPECT_EQ(difference(NtpTimestamp::from_parts(1, 0), NtpTimestamp::from_parts(1, 0x80000000U))
                  .count(),
              -500'000'000);
    EXPECT_EQ(difference(NtpTimestamp::from_parts(0, 0), NtpTimestamp::from_parts(0xffffffffU, 0))
                  .count(),
              kS);
    // Close to the +-68-year limit of unambiguous differences.
    EXPECT_EQ(difference(NtpTimestamp::from_parts(0x7fffffffU, 0), NtpTimestamp{}).count(),
              0x7fffffffLL * kS);
    EXPECT_EQ(difference(NtpTimestamp::from_parts(0x80000000U, 0), NtpTimestamp{}).count(),
              -0x80000000LL * kS);
}

TEST(NtpTime, FromTimestampPicksTheEraNearestThePivot) {
    const NtpInstant pivot = NtpInstant::from_unix(Nanoseconds(2'085'978'490LL * kS));  // era 0
    // A server 10 s ahead is already in era 1 (wire seconds = 4).
    const NtpInstant ahead = NtpInstant::from_timestamp(NtpTimestamp::from_parts(4, 0), pivot);
    EXPECT_EQ(ahead.era(), 1);
    EXPECT_EQ((ahead - pivot).count(), 10 * kS);
    // And from era 1 a timestamp just before the rollover is in era 0.
    const NtpInstant later = pivot + Nanoseconds(20 * kS);
    const NtpInstant behind =
        NtpInstant::from_timestamp(NtpTimestamp::from_parts(0xfffffff0U, 0), later);
    EXPECT_EQ(behind.era(), 0);
    EXPECT_EQ(behind.to_timestamp().seconds(), 0xfffffff0U);
    // Round trip for a 2100 date in era 1.
    const NtpInstant y2100 = NtpInstant::from_unix(Nanoseconds(4'102'444'800LL * kS + 7));
    EXPECT_EQ(y2100.era(), 1);
    EXPECT_EQ(NtpInstant::from_timestamp(y2100.to_timestamp(), y2100 - Nanoseconds(86400 * kS)),
              y2100);
}

TEST(NtpTime, BeforeThePrimeEpochIsEraMinusOne) {
    const NtpInstant t = NtpInstant::from_nanos_since_prime_epoch(-kS);
    EXPECT_EQ(t.era(), -1);
    EXPECT_EQ(t.to_timestamp().seconds(), 0xffffffffU);
}

TEST(NtpTime, ShortFormatConversions) {
    EXPECT_EQ(to_duration(NtpShort{0x00010000U}).count(), kS);
    EXPECT_EQ(to_duration(NtpShort{0x00008000U}).count(), 500'000'000);
    EXPECT_EQ(to_short(Nanoseconds(kS)).raw, 0x00010000U);
    EXPECT_EQ(to_short(Nanoseconds(-5)).raw, 0U);
    EXPECT_EQ(to_short(Nanoseconds(70'000 * kS)).raw, 0xffffffffU);
    // Rounded up, never understating an error bound.
    EXPECT_EQ(to_short(Nanoseconds(1)).raw, 1U);
    EXPECT_GE(to_duration(to_short(Nanoseconds(123'456'789))).count(), 123'456'789);
}

}  // namespace
}  // namespace nanotime::ntp
