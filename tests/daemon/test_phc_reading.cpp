// The PHC refclock's choice among PTP_SYS_OFFSET* samples
// (refclock/phc_reading.hpp): the triplet with the shortest system interval
// is taken, offset = PHC - mid-point and delay = interval in ns, and
// samples out of range or with the system clock going back are refused.
#include <gtest/gtest.h>

#include <vector>

#include "refclock/phc_reading.hpp"

namespace nanotime::refclock {
namespace {

constexpr int64_t kSec = 1'796'000'000;  // some second in 2026

PhcStamp at(int64_t sec, uint32_t nsec) {
    return PhcStamp{sec, nsec};
}

TEST(PhcReading, TheShortestSystemIntervalIsTaken) {
    const std::vector<PhcTriplet> t = {
        {at(kSec, 1000), at(kSec, 900), at(kSec, 5000)},       // 4000 ns
        {at(kSec, 10000), at(kSec, 10300), at(kSec, 11000)},   // 1000 ns: taken
        {at(kSec, 20000), at(kSec, 20000), at(kSec, 23000)}};  // 3000 ns
    const auto c = choose_phc_triplet(t);
    ASSERT_TRUE(std::holds_alternative<PhcChoice>(c));
    const PhcChoice& choice = std::get<PhcChoice>(c);
    EXPECT_EQ(choice.index, 1u);
    EXPECT_EQ(choice.delay_ns, 1000);
    EXPECT_EQ(choice.system_mid, kSec * 1'000'000'000 + 10500);
    EXPECT_EQ(choice.offset_ns, -200);  // PHC 10300, mid-point 10500
}

TEST(PhcReading, AnOffsetAcrossASecondBoundaryIsExact) {
    // System 0.999999900 .. 1.000000100, PHC 37 s ahead (TAI) plus 250 ns.
    const std::vector<PhcTriplet> t = {
        {at(kSec, 999'999'900), at(kSec + 37, 250), at(kSec + 1, 100)}};
    const auto c = std::get<PhcChoice>(choose_phc_triplet(t));
    EXPECT_EQ(c.delay_ns, 200);
    EXPECT_EQ(c.system_mid, (kSec + 1) * 1'000'000'000);
    EXPECT_EQ(c.offset_ns, 36'000'000'250);
    const auto r = std::get<Reading>(phc_reading(t));
    EXPECT_EQ(r.system_time.tv_sec, kSec + 1);
    EXPECT_EQ(r.system_time.tv_nsec, 0);
    EXPECT_DOUBLE_EQ(r.offset, 36.00000025);
    EXPECT_EQ(r.leap, ntp::LeapIndicator::NoWarning);
}

TEST(PhcReading, OfEqualIntervalsTheFirstIsTaken) {
    const std::vector<PhcTriplet> t = {{at(kSec, 0), at(kSec, 50), at(kSec, 100)},
                                       {at(kSec, 500), at(kSec, 500), at(kSec, 600)}};
    EXPECT_EQ(std::get<PhcChoice>(choose_phc_triplet(t)).index, 0u);
}

TEST(PhcReading, ACrossTimestampHasZeroDelay) {
    // PTP_SYS_OFFSET_PRECISE: one instant read by both clocks.
    const std::vector<PhcTriplet> t = {{at(kSec, 42), at(kSec, 7), at(kSec, 42)}};
    const auto c = std::get<PhcChoice>(choose_phc_triplet(t));
    EXPECT_EQ(c.delay_ns, 0);
    EXPECT_EQ(c.offset_ns, -35);
}

TEST(PhcReading, TheSystemClockGoingBackSkipsThatSample) {
    const std::vector<PhcTriplet> t = {
        {at(kSec, 9000), at(kSec, 9000), at(kSec, 8000)},  // -1000 ns: stepped back
        {at(kSec, 10000), at(kSec, 12000), at(kSec, 14000)}};
    const auto c = std::get<PhcChoice>(choose_phc_triplet(t));
    EXPECT_EQ(c.index, 1u);
    EXPECT_EQ(c.delay_ns, 4000);
    EXPECT_EQ(c.offset_ns, 0);
}

TEST(PhcReading, OnlyBackwardsSamplesAreRefused) {
    const std::vector<PhcTriplet> t = {{at(kSec, 9000), at(kSec, 9000), at(kSec, 8000)}};
    const auto r = std::get<Refusal>(phc_reading(t));
    EXPECT_EQ(r.reason, ntp::RefclockReject::BadTimestamp);
    EXPECT_NE(r.detail.find("backwards"), std::string::npos) << r.detail;
}

TEST(PhcReading, NoSamplesOrStampsOutOfRangeAreRefused) {
    EXPECT_EQ(std::get<Refusal>(phc_reading({})).reason, ntp::RefclockReject::BadTimestamp);
    const std::vector<PhcTriplet> bad_nsec = {{at(kSec, 0), at(kSec, 1'000'000'000), at(kSec, 10)}};
    const auto r = std::get<Refusal>(phc_reading(bad_nsec));
    EXPECT_EQ(r.reason, ntp::RefclockReject::BadTimestamp);
    EXPECT_NE(r.detail.find("PHC 1796000000 s 1000000000 ns"), std::string::npos) << r.detail;
    const std::vector<PhcTriplet> negative = {{at(-1, 0), at(kSec, 0), at(kSec, 10)}};
    EXPECT_TRUE(std::holds_alternative<Refusal>(phc_reading(negative)));
    const std::vector<PhcTriplet> huge = {{at(kSec, 0), at(INT64_MAX, 0), at(kSec, 10)}};
    EXPECT_TRUE(std::holds_alternative<Refusal>(phc_reading(huge)));
}

TEST(PhcReading, InterleavedStampsBecomeTriplets) {
    // PTP_SYS_OFFSET: sys0 phc0 sys1 phc1 sys2.
    const std::vector<PhcStamp> s = {at(kSec, 0), at(kSec, 600), at(kSec, 1000), at(kSec, 1300),
                                     at(kSec, 1400)};
    const auto t = phc_triplets_from_interleaved(s);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1].system_before.nsec, 1000u);
    EXPECT_EQ(t[1].phc.nsec, 1300u);
    EXPECT_EQ(t[1].system_after.nsec, 1400u);
    const auto c = std::get<PhcChoice>(choose_phc_triplet(t));
    EXPECT_EQ(c.index, 1u);
    EXPECT_EQ(c.delay_ns, 400);
    EXPECT_EQ(c.offset_ns, 100);
    EXPECT_TRUE(phc_triplets_from_interleaved(std::vector<PhcStamp>(4)).empty());
    EXPECT_TRUE(phc_triplets_from_interleaved(std::vector<PhcStamp>(1)).empty());
}

}  // namespace
}  // namespace nanotime::refclock
