// Refclocks: the SOCK and SHM parsers' checks, the refclock source's polls,
// and a refclock through selection to a stratum-1 system state.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "refclock/shm_segment.hpp"
#include "refclock/sock_sample.hpp"
#include "source/client_core.hpp"
#include "test_support.hpp"

namespace nanotime {
namespace {

using ntp::LeapIndicator;
using ntp::RefclockReject;
using ntp::testing::actions_of;
using ntp::testing::kEpoch2026;

constexpr uint32_t kGps = 0x47505300;  // "GPS"

std::vector<uint8_t> sock_bytes(const refclock::SockSample& s) {
    std::vector<uint8_t> b(sizeof s);
    std::memcpy(b.data(), &s, sizeof s);
    return b;
}

refclock::SockSample good_sock() {
    refclock::SockSample s{};
    s.tv.tv_sec = 1'780'000'000;
    s.tv.tv_usec = 250'000;
    s.offset = -0.125;
    s.leap = 0;
    s.magic = refclock::kSockMagic;
    return s;
}

RefclockReject refusal_of(const refclock::ParseOutcome& o) {
    EXPECT_TRUE(std::holds_alternative<refclock::Refusal>(o));
    return std::get<refclock::Refusal>(o).reason;
}

TEST(SockSample, AGoodSampleIsReadAsGpsdWritesIt) {
    const auto o = refclock::parse_sock_sample(sock_bytes(good_sock()));
    ASSERT_TRUE(std::holds_alternative<refclock::Reading>(o));
    const auto& r = std::get<refclock::Reading>(o);
    EXPECT_EQ(r.system_time.tv_sec, 1'780'000'000);
    EXPECT_EQ(r.system_time.tv_nsec, 250'000'000);
    EXPECT_DOUBLE_EQ(r.offset, -0.125);
    EXPECT_EQ(r.leap, LeapIndicator::NoWarning);

    auto s = good_sock();
    s.leap = 1;
    const auto insert = refclock::parse_sock_sample(sock_bytes(s));
    ASSERT_TRUE(std::holds_alternative<refclock::Reading>(insert));
    EXPECT_EQ(std::get<refclock::Reading>(insert).leap, LeapIndicator::InsertSecond);
}

TEST(SockSample, WrongSizeOrMagicIsRefused) {
    auto bytes = sock_bytes(good_sock());
    bytes.pop_back();
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(bytes)), RefclockReject::WrongSize);
    bytes.push_back(0);
    bytes.push_back(0);
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(bytes)), RefclockReject::WrongSize);
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample({})), RefclockReject::WrongSize);

    auto s = good_sock();
    s.magic = 0x4b434f53;  // byte-swapped: a writer of the other endianness
    const auto o = refclock::parse_sock_sample(sock_bytes(s));
    EXPECT_EQ(refusal_of(o), RefclockReject::WrongMagic);
    EXPECT_EQ(std::get<refclock::Refusal>(o).detail, "0x4b434f53");
}

TEST(SockSample, BadFieldsArePulsesAndUnsyncAreRefused) {
    auto s = good_sock();
    s.tv.tv_usec = 1'000'000;
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))), RefclockReject::BadTimestamp);
    s = good_sock();
    s.tv.tv_sec = -1;
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))), RefclockReject::BadTimestamp);
    s = good_sock();
    s.offset = std::nan("");
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))), RefclockReject::BadTimestamp);
    s = good_sock();
    s.leap = 7;
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))), RefclockReject::BadLeap);
    s = good_sock();
    s.leap = 3;
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))),
              RefclockReject::Unsynchronized);
    // A PPS edge alone: nothing numbers its second, so it is never a time.
    s = good_sock();
    s.pulse = 1;
    EXPECT_EQ(refusal_of(refclock::parse_sock_sample(sock_bytes(s))), RefclockReject::PulseOnly);
}

refclock::ShmTime good_shm(int mode) {
    refclock::ShmTime t{};
    t.mode = mode;
    t.count = 41;
    t.clock_sec = 1'780'000'001;
    t.clock_usec = 0;
    t.clock_nsec = 0;
    t.receive_sec = 1'780'000'001;
    t.receive_usec = 120'000;
    t.receive_nsec = 120'000'500;
    t.precision = -20;
    t.valid = 1;
    return t;
}

TEST(ShmSegment, KeysAndPermissionsAreNtpds) {
    EXPECT_EQ(refclock::shm_key(0), 0x4e545030);
    EXPECT_EQ(refclock::shm_key(3), 0x4e545033);
    EXPECT_EQ(refclock::shm_mode(0), 0600);
    EXPECT_EQ(refclock::shm_mode(1), 0600);
    EXPECT_EQ(refclock::shm_mode(2), 0666);
    EXPECT_EQ(refclock::shm_mode(3), 0666);
}

TEST(ShmSegment, ValidSamplesInModesZeroAndOne) {
    for (int mode : {0, 1}) {
        const auto o = refclock::read_shm_copy(good_shm(mode), 41);
        ASSERT_TRUE(std::holds_alternative<refclock::Reading>(o)) << mode;
        const auto& r = std::get<refclock::Reading>(o);
        // The nanoseconds agree with the microseconds: they are used.
        EXPECT_EQ(r.system_time.tv_nsec, 120'000'500);
        EXPECT_NEAR(r.offset, -0.1200005, 1e-12);
    }
    // Nanoseconds that disagree with the microseconds (a writer that fills
    // only the old fields): the microseconds.
    auto t = good_shm(0);
    t.receive_nsec = 0;
    const auto o = refclock::read_shm_copy(t, 41);
    ASSERT_TRUE(std::holds_alternative<refclock::Reading>(o));
    EXPECT_EQ(std::get<refclock::Reading>(o).system_time.tv_nsec, 120'000'000);
}

TEST(ShmSegment, BadModeTornReadInvalidFlagAndBadStampsAreRefused) {
    auto t = good_shm(2);
    const auto bad_mode = refclock::read_shm_copy(t, 41);
    EXPECT_EQ(refusal_of(bad_mode), RefclockReject::BadMode);
    EXPECT_EQ(std::get<refclock::Refusal>(bad_mode).detail, "mode 2 (0 or 1)");
    // Mode 1: the writer bumped count while we copied.
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(good_shm(1), 42)), RefclockReject::TornRead);
    // Mode 0 does not look at count.
    EXPECT_TRUE(
        std::holds_alternative<refclock::Reading>(refclock::read_shm_copy(good_shm(0), 42)));
    t = good_shm(1);
    t.valid = 0;
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(t, 41)), RefclockReject::NotValid);
    t = good_shm(0);
    t.clock_nsec = 1'000'000'000;
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(t, 41)), RefclockReject::BadTimestamp);
    t = good_shm(0);
    t.receive_usec = -1;
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(t, 41)), RefclockReject::BadTimestamp);
    t = good_shm(0);
    t.leap = 3;
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(t, 41)), RefclockReject::Unsynchronized);
    t.leap = -1;
    EXPECT_EQ(refusal_of(refclock::read_shm_copy(t, 41)), RefclockReject::BadLeap);
}

ntp::RefclockConfig gps(int8_t poll = 0) {
    ntp::RefclockConfig c;
    c.reference_id = kGps;
    c.poll = poll;
    return c;
}

TEST(RefclockSource, APollTurnsItsReadingsIntoOneTrimmedSample) {
    ntp::RefclockConfig c = gps(4);
    c.offset = 0.1;  // NMEA arrives 0.1 s late
    ntp::RefclockSource ref(7, c);
    ntp::NtpInstant t = kEpoch2026;
    // 10 readings around -0.1 s, one wild one each way: trimmed away.
    for (int i = 0; i < 10; ++i) {
        double offset = -0.1 + 1e-4 * (i % 2 ? 1 : -1);
        if (i == 3) offset = 5.0;
        if (i == 6) offset = -5.0;
        ref.add_sample({t + ntp::from_seconds(i), offset, LeapIndicator::NoWarning});
    }
    EXPECT_EQ(ref.pending(), 10u);
    const auto actions = ref.handle_timer(t + ntp::from_seconds(16));
    EXPECT_EQ(actions_of<ntp::UpdateSystem>(actions).size(), 1u);
    EXPECT_EQ(ref.pending(), 0u);
    EXPECT_EQ(ref.reach(), 1);
    ASSERT_TRUE(ref.filter().has_statistics());
    EXPECT_NEAR(ref.filter().statistics().offset, 0.0, 1e-4);
    const ntp::SourceSnapshot s = ref.snapshot();
    EXPECT_EQ(s.stratum, 0);
    EXPECT_EQ(s.reference_id, kGps);
    EXPECT_EQ(s.leap, LeapIndicator::NoWarning);
    EXPECT_EQ(s.root_delay, 0.0);
}

TEST(RefclockSource, TheBufferKeepsTheNewestFilterReadings) {
    ntp::RefclockConfig c = gps(4);
    c.filter = 3;
    ntp::RefclockSource ref(1, c);
    for (int i = 0; i < 5; ++i) ref.add_sample({kEpoch2026, 0.001 * i, LeapIndicator::NoWarning});
    EXPECT_EQ(ref.pending(), 3u);
    EXPECT_EQ(ref.counters().dropped_full, 2u);
    ref.handle_timer(kEpoch2026 + ntp::from_seconds(1));
    EXPECT_NEAR(ref.filter().statistics().offset, 0.003, 1e-9);  // mean of 2, 3, 4 ms
}

TEST(RefclockSource, SilentPollsMakeItUnreachableAndRefusalsAreNamed) {
    ntp::RefclockSource ref(1, gps(0));
    ref.reject(RefclockReject::WrongMagic, "0x00000000");
    EXPECT_EQ(ref.last_error(), "wrong magic: 0x00000000");
    EXPECT_EQ(ref.counters().rejected[static_cast<size_t>(RefclockReject::WrongMagic)], 1u);
    ntp::NtpInstant t = kEpoch2026;
    ref.add_sample({t, 0.0, LeapIndicator::NoWarning});
    ref.handle_timer(t += ntp::from_seconds(1));
    EXPECT_EQ(ref.reach(), 1);
    bool reset = false;
    for (int i = 0; i < 8; ++i) {
        for (const auto& r : actions_of<ntp::Reset>(ref.handle_timer(t += ntp::from_seconds(1))))
            reset = reset || r.reason == ntp::ResetReason::Unreachable;
    }
    EXPECT_TRUE(reset);
    EXPECT_EQ(ref.reach(), 0);
    EXPECT_FALSE(ref.snapshot().starting);
}

TEST(RefclockSource, UnsynchronisedUntilItsFirstSample) {
    ntp::RefclockSource ref(1, gps(0));
    EXPECT_EQ(ref.snapshot().stratum, ntp::kMaxStratum);
    EXPECT_EQ(ref.snapshot().leap, LeapIndicator::Unsynchronized);
}

// Drives @core's refclock @id for @polls polls of 1 s, a reading 10 ms
// ahead (the reference minus local) half way through each.
std::vector<ntp::DisciplineClock> run_refclock(ntp::ClientCore& core, ntp::SourceId id, int polls,
                                               ntp::NtpInstant& now, ntp::RandomSource& random,
                                               double offset = 0.010) {
    std::vector<ntp::DisciplineClock> updates;
    for (int i = 0; i < polls; ++i) {
        core.handle_refclock_sample(
            id, {now + ntp::from_seconds(0.5), offset, LeapIndicator::NoWarning});
        now += ntp::from_seconds(1);
        for (const auto& u :
             actions_of<ntp::DisciplineClock>(core.handle_source_timer(id, now, random)))
            updates.push_back(u);
    }
    return updates;
}

TEST(RefclockCore, ARefclockAloneMakesTheSystemStratumOneWithItsRefid) {
    ntp::SplitMix64 random(3);
    ntp::ClientCore core(ntp::SystemConfig{});
    ntp::ClientActions out;
    const ntp::SourceId id = core.add_refclock(gps(0), out);
    ASSERT_EQ(actions_of<ntp::SetSourceTimer>(out).size(), 1u);
    EXPECT_EQ(actions_of<ntp::SetSourceTimer>(out)[0].source, id);
    ASSERT_EQ(core.refclocks().size(), 1u);
    EXPECT_TRUE(core.sources().empty());  // the NTP list holds NTP sources only
    EXPECT_EQ(core.source(id), nullptr);
    EXPECT_NE(core.refclock(id), nullptr);
    ntp::NtpInstant now = kEpoch2026;
    const auto updates = run_refclock(core, id, 8, now, random);
    ASSERT_FALSE(updates.empty());
    EXPECT_NEAR(updates.front().update.offset, 0.010, 1e-6);
    EXPECT_EQ(updates.front().update.system_peer, id);
    const ntp::SystemState& s = core.system_state();
    EXPECT_TRUE(s.synchronized());
    EXPECT_EQ(s.stratum, 1);
    EXPECT_EQ(s.reference_id, kGps);
    ASSERT_TRUE(s.system_peer);
    EXPECT_EQ(*s.system_peer, id);
    // Root delay: the refclock's own (delay 1 ns); dispersion from its estimate.
    EXPECT_LT(s.root_delay, 1e-6);
    EXPECT_GT(s.root_dispersion, 0.0);
    EXPECT_LT(s.root_dispersion, 0.01);
    EXPECT_EQ(core.refclocks().front().verdict.status, ntp::SourceStatus::SystemPeer);
}

TEST(RefclockCore, NoselectIsMeasuredButNeverSelected) {
    ntp::SplitMix64 random(3);
    ntp::ClientCore core(ntp::SystemConfig{});
    ntp::ClientActions out;
    ntp::RefclockConfig c = gps(0);
    c.noselect = true;
    const ntp::SourceId id = core.add_refclock(c, out);
    ntp::NtpInstant now = kEpoch2026;
    EXPECT_TRUE(run_refclock(core, id, 8, now, random).empty());
    EXPECT_FALSE(core.system_state().synchronized());
    EXPECT_EQ(core.refclocks().front().verdict.unfitness, ntp::Unfitness::NoSelect);
    EXPECT_GT(core.refclock(id)->filter().valid_stages(), 4u);
}

TEST(RefclockCore, PreferMakesASurvivorTheSystemPeer) {
    ntp::SplitMix64 random(3);
    ntp::ClientCore core(ntp::SystemConfig{});
    ntp::ClientActions out;
    ntp::RefclockConfig plain = gps(0);
    ntp::RefclockConfig preferred = gps(0);
    preferred.reference_id = 0x50505300;  // "PPS"
    preferred.prefer = true;
    const ntp::SourceId a = core.add_refclock(plain, out);
    const ntp::SourceId b = core.add_refclock(preferred, out);
    ntp::NtpInstant now = kEpoch2026;
    for (int i = 0; i < 8; ++i) {
        core.handle_refclock_sample(
            a, {now + ntp::from_seconds(0.5), 0.0100, LeapIndicator::NoWarning});
        core.handle_refclock_sample(
            b, {now + ntp::from_seconds(0.5), 0.0101, LeapIndicator::NoWarning});
        now += ntp::from_seconds(1);
        core.handle_source_timer(a, now, random);
        core.handle_source_timer(b, now, random);
    }
    ASSERT_TRUE(core.system_state().system_peer);
    EXPECT_EQ(*core.system_state().system_peer, b);
    EXPECT_EQ(core.system_state().reference_id, 0x50505300u);
}

TEST(RefclockCore, RefusedReadingsChangeNothing) {
    ntp::SplitMix64 random(3);
    ntp::ClientCore core(ntp::SystemConfig{});
    ntp::ClientActions out;
    const ntp::SourceId id = core.add_refclock(gps(0), out);
    ntp::NtpInstant now = kEpoch2026;
    for (int i = 0; i < 8; ++i) {
        core.handle_refclock_reject(id, RefclockReject::TornRead, "count 1 became 2");
        now += ntp::from_seconds(1);
        EXPECT_TRUE(
            actions_of<ntp::DisciplineClock>(core.handle_source_timer(id, now, random)).empty());
    }
    EXPECT_FALSE(core.system_state().synchronized());
    EXPECT_EQ(core.refclock(id)->reach(), 0);
    EXPECT_EQ(core.refclock(id)->last_error(), "torn read: count 1 became 2");
}

}  // namespace
}  // namespace nanotime
