// PPS refclocks (driver pps): the edge's second numbered by a locked
// refclock or by the system, refused when neither can, and the pulse
// through selection to a stratum-1 system, fed assert stamps as a fake
// /dev/ppsN would give them.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "source/client_core.hpp"
#include "source/pulse_numbering.hpp"
#include "test_support.hpp"

namespace nanotime {
namespace {

using ntp::LeapIndicator;
using ntp::RefclockReject;
using ntp::testing::actions_of;
using ntp::testing::kEpoch2026;

constexpr uint32_t kNmea = 0x4e4d4541;  // "NMEA"
constexpr uint32_t kPps = 0x50505300;   // "PPS"

// kEpoch2026 is a whole second: an edge @fraction s after the local second.
ntp::NtpInstant edge_at(int second, double fraction) {
    return kEpoch2026 + ntp::from_seconds(second) + ntp::from_seconds(fraction);
}

RefclockReject refusal_of(const ntp::PulseOutcome& o) {
    EXPECT_TRUE(std::holds_alternative<ntp::PulseRefusal>(o));
    return std::holds_alternative<ntp::PulseRefusal>(o) ? std::get<ntp::PulseRefusal>(o).reason
                                                        : RefclockReject::WrongSize;
}

double offset_of(const ntp::PulseOutcome& o) {
    EXPECT_TRUE(std::holds_alternative<ntp::RefclockSample>(o))
        << (std::holds_alternative<ntp::PulseRefusal>(o) ? std::get<ntp::PulseRefusal>(o).detail
                                                         : "");
    return std::holds_alternative<ntp::RefclockSample>(o) ? std::get<ntp::RefclockSample>(o).offset
                                                          : NAN;
}

TEST(PulseNumbering, TheEdgeGivesTheOffsetToTheNearestSecond) {
    EXPECT_NEAR(ntp::pulse_fraction_offset(edge_at(0, 0.000123)), -0.000123, 1e-12);
    EXPECT_NEAR(ntp::pulse_fraction_offset(edge_at(0, 0.999)), 0.001, 1e-12);
    EXPECT_NEAR(ntp::pulse_fraction_offset(edge_at(0, 0.5)), 0.5, 1e-12);
    EXPECT_NEAR(ntp::pulse_fraction_offset(edge_at(0, 0.499999999)), -0.499999999, 1e-12);
}

TEST(PulseNumbering, TheLockNamesTheWholeSeconds) {
    // The local clock is 3 s and 20 us behind; NMEA says so to 60 ms.
    const ntp::RefclockSample nmea{edge_at(0, 0.3), 3.06, LeapIndicator::InsertSecond};
    const auto o = ntp::number_by_lock(edge_at(1, -0.000020), 0.0, nmea, "NMEA");
    EXPECT_NEAR(offset_of(o), 3.000020, 1e-9);
    EXPECT_EQ(std::get<ntp::RefclockSample>(o).leap, LeapIndicator::InsertSecond);
    // 1 s ahead instead: the same edge fraction, another second.
    const ntp::RefclockSample ahead{edge_at(0, 0.3), -0.95, LeapIndicator::NoWarning};
    EXPECT_NEAR(offset_of(ntp::number_by_lock(edge_at(1, -0.000020), 0.0, ahead, "NMEA")),
                -0.999980, 1e-9);
    // The pulse's own configured offset (0.1 s) takes part in the numbering
    // and is left out of the sample (the refclock adds it to every reading).
    const ntp::RefclockSample coarse{edge_at(0, 0.3), 2.6, LeapIndicator::NoWarning};
    EXPECT_NEAR(offset_of(ntp::number_by_lock(edge_at(1, -0.000020), 0.45, coarse, "NMEA")),
                2.000020, 1e-9);
    EXPECT_EQ(refusal_of(ntp::number_by_lock(edge_at(1, -0.000020), 0.0, coarse, "NMEA")),
              RefclockReject::LockMismatch);
}

TEST(PulseNumbering, WithoutAUsableLockNoSecondIsGuessed) {
    const ntp::NtpInstant edge = edge_at(10, 0.0001);
    const auto none = ntp::number_by_lock(edge, 0.0, std::nullopt, "NMEA");
    EXPECT_EQ(refusal_of(none), RefclockReject::NoSecondNumbering);
    EXPECT_EQ(std::get<ntp::PulseRefusal>(none).detail, "locked refclock NMEA has no reading");
    // A reading 3 s from the edge: too old to number it.
    const ntp::RefclockSample old{edge_at(7, 0.0), 0.0, LeapIndicator::NoWarning};
    EXPECT_EQ(refusal_of(ntp::number_by_lock(edge, 0.0, old, "NMEA")),
              RefclockReject::NoSecondNumbering);
    // Half a second off any second of the edge: which one is unknown.
    const ntp::RefclockSample coarse{edge_at(10, 0.2), 0.45, LeapIndicator::NoWarning};
    const auto torn = ntp::number_by_lock(edge, 0.0, coarse, "NMEA");
    EXPECT_EQ(refusal_of(torn), RefclockReject::LockMismatch);
    EXPECT_EQ(std::get<ntp::PulseRefusal>(torn).detail,
              "NMEA reads 0.450100 s from the edge's second");
}

TEST(PulseNumbering, TheSystemNumbersOnlyWhenANonPulseSourceHoldsItWithin400Ms) {
    ntp::SystemNumbering s;
    s.synchronised = true;
    s.numbering_source_selected = true;
    s.error_bound = 0.39;
    EXPECT_NEAR(offset_of(ntp::number_by_system(edge_at(5, 0.999990), 0.0, s)), 0.000010, 1e-9);
    // The configured offset moves the edge before rounding, and is taken out.
    EXPECT_NEAR(offset_of(ntp::number_by_system(edge_at(5, 0.2), 0.4, s)), -0.2, 1e-9);

    ntp::SystemNumbering far = s;
    far.error_bound = 0.4;
    const auto refused = ntp::number_by_system(edge_at(5, 0.0), 0.0, far);
    EXPECT_EQ(refusal_of(refused), RefclockReject::NoSecondNumbering);
    EXPECT_EQ(std::get<ntp::PulseRefusal>(refused).detail,
              "the system's offset and root distance 0.400000 s are not below 0.4 s");
    ntp::SystemNumbering unsynchronised = s;
    unsynchronised.synchronised = false;
    EXPECT_EQ(refusal_of(ntp::number_by_system(edge_at(5, 0.0), 0.0, unsynchronised)),
              RefclockReject::NoSecondNumbering);
    ntp::SystemNumbering pulse_only = s;
    pulse_only.numbering_source_selected = false;
    EXPECT_EQ(refusal_of(ntp::number_by_system(edge_at(5, 0.0), 0.0, pulse_only)),
              RefclockReject::NoSecondNumbering);
}

ntp::RefclockConfig nmea_config(bool noselect = false) {
    ntp::RefclockConfig c;
    c.reference_id = kNmea;
    c.poll = 0;
    c.delay = 0.2;  // NMEA alone: coarse
    c.noselect = noselect;
    return c;
}

ntp::RefclockConfig pps_config(std::optional<uint32_t> lock) {
    ntp::RefclockConfig c;
    c.reference_id = kPps;
    c.poll = 0;
    c.pulse = true;
    c.lock = lock;
    c.prefer = true;
    return c;
}

// A fake /dev/ppsN and NMEA through gpsd for @seconds seconds: the local
// clock is @behind s behind the reference (whole seconds and a fraction);
// each second an assert edge at the reference's second and an NMEA reading
// @nmea_noise s off, then both refclocks poll.
// The clock is only watched and never stepped (the fake clock never moves,
// so the core's view of it stays true).
ntp::ControllerConfig watch_only() {
    ntp::ControllerConfig c;
    c.adjust = false;
    c.step_threshold = 0;
    c.makestep_threshold = 0;
    return c;
}

struct Bench {
    ntp::SplitMix64 random{5};
    ntp::ClientCore core{ntp::SystemConfig{}, watch_only()};
    ntp::SourceId nmea = 0;
    ntp::SourceId pps = 0;
    ntp::NtpInstant now = kEpoch2026;

    void run(int seconds, double behind, double nmea_noise, bool with_nmea = true) {
        for (int i = 0; i < seconds; ++i) {
            // The reference's second n begins at local time n - behind.
            const ntp::NtpInstant edge = now + ntp::from_seconds(1.0 - behind);
            if (with_nmea && nmea != 0) {
                core.handle_refclock_sample(
                    nmea, {edge + ntp::from_seconds(0.3),
                           behind + (i % 2 ? nmea_noise : -nmea_noise), LeapIndicator::NoWarning});
            }
            core.handle_refclock_pulse(pps, edge, edge);
            now += ntp::from_seconds(1);
            if (nmea != 0) core.handle_source_timer(nmea, now, random);
            core.handle_source_timer(pps, now, random);
        }
    }
};

TEST(PpsRefclockCore, APulseAloneIsNeverASample) {
    Bench b;
    ntp::ClientActions out;
    b.pps = b.core.add_refclock(pps_config(std::nullopt), out);
    b.run(20, 0.000050, 0.0);
    const ntp::RefclockSource& pps = *b.core.refclock(b.pps);
    EXPECT_EQ(pps.counters().samples, 0u);
    EXPECT_EQ(pps.counters().rejected[static_cast<size_t>(RefclockReject::NoSecondNumbering)], 20u);
    EXPECT_EQ(pps.last_error(),
              "no second-numbering source: no lock, and no selected source other than a pulse");
    EXPECT_FALSE(b.core.system_state().synchronized());
    EXPECT_EQ(pps.reach(), 0);
}

TEST(PpsRefclockCore, LockedToNmeaThePulseNumbersTheRightSecondAndServesStratumOne) {
    Bench b;
    ntp::ClientActions out;
    // As chrony's documentation pairs them: NMEA only numbers the seconds
    // (noselect: its 50 ms noise would make a falseticker of one of the two).
    b.nmea = b.core.add_refclock(nmea_config(/*noselect=*/true), out);
    b.pps = b.core.add_refclock(pps_config(kNmea), out);
    // The local clock 2 s and 123.456 us behind; NMEA 50 ms noisy.
    b.run(12, 2.000123456, 0.05);
    const ntp::RefclockSource& pps = *b.core.refclock(b.pps);
    EXPECT_EQ(pps.counters().samples, 12u);
    ASSERT_TRUE(pps.filter().has_statistics());
    EXPECT_NEAR(pps.filter().statistics().offset, 2.000123456, 1e-9);
    const ntp::SystemState& s = b.core.system_state();
    EXPECT_TRUE(s.synchronized());
    EXPECT_EQ(s.stratum, 1);
    EXPECT_EQ(s.reference_id, kPps);
    ASSERT_TRUE(s.system_peer);
    EXPECT_EQ(*s.system_peer, b.pps);
}

TEST(PpsRefclockCore, WhenTheLockFallsSilentThePulsesAreRefused) {
    Bench b;
    ntp::ClientActions out;
    b.nmea = b.core.add_refclock(nmea_config(), out);
    b.pps = b.core.add_refclock(pps_config(kNmea), out);
    b.run(6, 0.000010, 0.01);
    const uint64_t taken = b.core.refclock(b.pps)->counters().samples;
    EXPECT_EQ(taken, 6u);
    b.run(5, 0.000010, 0.01, /*with_nmea=*/false);
    // The first edges are within 2 s of the last NMEA reading; then nothing.
    // The edges 0.7 s and 1.7 s after the last NMEA reading are numbered by
    // it, the later ones are refused.
    const ntp::RefclockSource& pps = *b.core.refclock(b.pps);
    EXPECT_EQ(pps.counters().samples, taken + 2);
    EXPECT_EQ(pps.counters().rejected[static_cast<size_t>(RefclockReject::NoSecondNumbering)], 3u);
}

TEST(PpsRefclockCore, WithoutLockTheSystemNumbersTheSecondOnceANonPulseSourceHoldsIt) {
    Bench b;
    ntp::ClientActions out;
    b.nmea = b.core.add_refclock(nmea_config(), out);
    b.pps = b.core.add_refclock(pps_config(std::nullopt), out);
    b.run(30, 0.010, 0.001);
    const ntp::RefclockSource& pps = *b.core.refclock(b.pps);
    // Refused until NMEA was selected, then every edge a sample at 10 ms.
    EXPECT_GT(pps.counters().rejected[static_cast<size_t>(RefclockReject::NoSecondNumbering)], 0u);
    EXPECT_GT(pps.counters().samples, 4u);
    ASSERT_TRUE(pps.filter().has_statistics());
    EXPECT_NEAR(pps.filter().statistics().offset, 0.010, 1e-9);
    EXPECT_EQ(b.core.system_state().reference_id, kPps);
}

TEST(PpsRefclockCore, WithoutLockASystemOffsetOf450MsNumbersNothing) {
    Bench b;
    ntp::ClientActions out;
    b.nmea = b.core.add_refclock(nmea_config(), out);
    b.pps = b.core.add_refclock(pps_config(std::nullopt), out);
    // 0.45 s: the nearest local second is the wrong one.
    b.run(30, 0.45, 0.001);
    EXPECT_TRUE(b.core.system_state().synchronized());  // NMEA holds the system
    const ntp::RefclockSource& pps = *b.core.refclock(b.pps);
    EXPECT_EQ(pps.counters().samples, 0u);
    EXPECT_EQ(pps.counters().rejected[static_cast<size_t>(RefclockReject::NoSecondNumbering)], 30u);
}

}  // namespace
}  // namespace nanotime
