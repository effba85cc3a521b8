// System process: fitness, falsetickers, system peer stickiness, stratum,
// reference ID, root delay/dispersion, clock updates.
#include <gtest/gtest.h>

#include "algorithm/system_process.hpp"

namespace nanotime::ntp {
namespace {

const NtpInstant kNow = NtpInstant::from_unix(Nanoseconds(1'700'000'000LL * kNanosPerSecond));

SourceSnapshot source(SourceId id, double offset, uint8_t stratum = 2, double delay = 0.010) {
    SourceSnapshot s;
    s.id = id;
    s.has_statistics = true;
    s.statistics.offset = offset;
    s.statistics.delay = delay;
    s.statistics.dispersion = 0.001;
    s.statistics.jitter = 0.0005;
    s.statistics.time = kNow;
    s.statistics.updated = kNow;
    s.reach = 0xff;
    s.leap = LeapIndicator::NoWarning;
    s.stratum = stratum;
    s.root_delay = 0.002;
    s.root_dispersion = 0.003;
    s.reference_id = 0x0a000001;
    s.address_reference_id = 0xc0000200 + id;
    return s;
}

TEST(SystemProcess, RootDistanceFormula) {
    const SourceSnapshot s = source(1, 0.0);
    // max(MINDISP, 0.002 + 0.010) / 2 + 0.003 + 0.001 + 0 + 0.0005
    EXPECT_NEAR(root_distance(s, kNow), 0.006 + 0.003 + 0.001 + 0.0005, 1e-12);
    EXPECT_NEAR(root_distance(s, kNow + from_seconds(100)) - root_distance(s, kNow), kPhi * 100,
                1e-12);
}

TEST(SystemProcess, ATrustedSourceIsNeverAFalsetickerAndDecidesAgainstTheMajority) {
    // Two servers agree at 0; the trusted refclock-like source says 0.5 s.
    std::vector<SourceSnapshot> sources = {source(1, 0.0010), source(2, 0.0012), source(3, 0.5, 1)};
    SystemProcess plain(SystemConfig{});
    auto outcome = plain.select(sources, kNow);
    EXPECT_EQ(outcome.verdicts[2].status, SourceStatus::Falseticker);

    sources[2].trust = true;
    SystemProcess trusting(SystemConfig{});
    outcome = trusting.select(sources, kNow);
    ASSERT_TRUE(outcome.majority);
    EXPECT_EQ(outcome.verdicts[2].status, SourceStatus::SystemPeer);
    EXPECT_EQ(outcome.verdicts[0].status, SourceStatus::Falseticker);
    EXPECT_EQ(outcome.verdicts[1].status, SourceStatus::Falseticker);
    ASSERT_TRUE(outcome.clock_update);
    EXPECT_NEAR(outcome.clock_update->offset, 0.5, 1e-9);

    // A trusted source the majority agrees with changes nothing.
    sources[2].statistics.offset = 0.0011;
    SystemProcess agreeing(SystemConfig{});
    outcome = agreeing.select(sources, kNow);
    EXPECT_NE(outcome.verdicts[0].status, SourceStatus::Falseticker);
    EXPECT_NE(outcome.verdicts[1].status, SourceStatus::Falseticker);
    EXPECT_EQ(outcome.verdicts[2].status, SourceStatus::SystemPeer);
}

TEST(SystemProcess, SynchronizesToTheMajorityAndReportsTheFalseticker) {
    SystemProcess system(SystemConfig{});
    std::vector<SourceSnapshot> sources = {source(1, 0.0010), source(2, 0.0012),
                                           source(3, 0.0008, 1), source(4, 0.5)};
    auto outcome = system.select(sources, kNow);
    ASSERT_TRUE(outcome.majority);
    ASSERT_TRUE(outcome.clock_update);
    EXPECT_NEAR(outcome.clock_update->offset, 0.001, 0.0003);
    EXPECT_EQ(outcome.verdicts[3].status, SourceStatus::Falseticker);
    // The stratum-1 source has the best merit and becomes the system peer.
    EXPECT_EQ(outcome.verdicts[2].status, SourceStatus::SystemPeer);
    const SystemState& st = system.state();
    EXPECT_EQ(st.system_peer, 3u);
    EXPECT_EQ(st.stratum, 2);
    EXPECT_EQ(st.reference_id, 0xc0000203U);
    EXPECT_EQ(st.leap, LeapIndicator::NoWarning);
    EXPECT_NEAR(st.root_delay, 0.002 + 0.010, 1e-12);
    EXPECT_GE(st.root_dispersion, 0.003 + 0.001 + 0.0005);
    EXPECT_TRUE(st.synchronized());
}

// The leap warning is the majority's: one server announcing a leap second
// (here the system peer itself) is not enough among three.
TEST(SystemProcess, LeapWarningByMajority) {
    SystemProcess system(SystemConfig{});
    std::vector<SourceSnapshot> sources = {source(1, 0.0010), source(2, 0.0012),
                                           source(3, 0.0008, 1)};
    sources[2].leap = LeapIndicator::InsertSecond;
    ASSERT_TRUE(system.select(sources, kNow).majority);
    EXPECT_EQ(system.state().system_peer, 3u);
    EXPECT_EQ(system.state().leap, LeapIndicator::NoWarning);
    sources[0].leap = LeapIndicator::InsertSecond;
    ASSERT_TRUE(system.select(sources, kNow).majority);
    EXPECT_EQ(system.state().leap, LeapIndicator::InsertSecond);
    sources[0].leap = sources[1].leap = sources[2].leap = LeapIndicator::DeleteSecond;
    ASSERT_TRUE(system.select(sources, kNow).majority);
    EXPECT_EQ(system.state().leap, LeapIndicator::DeleteSecond);
}

TEST(SystemProcess, UnfitSourcesAreExcluded) {
    SystemConfig config;
    config.own_reference_ids = {0x0a0000ff};
    SystemProcess system(config);
    auto unreachable = source(1, 0.0);
    unreachable.reach = 0;
    auto unsynced = source(2, 0.0);
    unsynced.leap = LeapIndicator::Unsynchronized;
    auto far = source(3, 0.0);
    far.root_dispersion = 2.0;
    auto loop = source(4, 0.0);
    loop.reference_id = 0x0a0000ff;
    auto empty = source(5, 0.0);
    empty.has_statistics = false;
    std::vector<SourceSnapshot> sources = {unreachable, unsynced, far, loop, empty};
    auto outcome = system.select(sources, kNow);
    EXPECT_FALSE(outcome.majority);
    EXPECT_FALSE(outcome.clock_update);
    EXPECT_EQ(outcome.verdicts[0].unfitness, Unfitness::Unreachable);
    EXPECT_EQ(outcome.verdicts[1].unfitness, Unfitness::Unsynchronized);
    EXPECT_EQ(outcome.verdicts[2].unfitness, Unfitness::TooFar);
    EXPECT_EQ(outcome.verdicts[3].unfitness, Unfitness::Loop);
    EXPECT_EQ(outcome.verdicts[4].unfitness, Unfitness::NoStatistics);
    EXPECT_FALSE(system.state().synchronized());
    EXPECT_EQ(system.state().stratum, kMaxStratum);
}

TEST(SystemProcess, LosingTheMajorityDropsTheSystemPeerButKeepsHoldover) {
    SystemProcess system(SystemConfig{});
    std::vector<SourceSnapshot> sources = {source(1, 0.001), source(2, 0.001), source(3, 0.001)};
    system.select(sources, kNow);
    ASSERT_TRUE(system.state().system_peer);
    for (auto& s : sources) s.reach = 0;
    auto outcome = system.select(sources, kNow + from_seconds(600));
    EXPECT_FALSE(outcome.majority);
    EXPECT_FALSE(system.state().system_peer);
    EXPECT_TRUE(system.state().synchronized());  // holdover
    EXPECT_TRUE(system.state().serves_time_at(kNow + from_seconds(600)));
    EXPECT_FALSE(system.state().serves_time_at(kNow + from_seconds(200000)));
}

// The startup quorum: with no system peer, one fit source does not take
// the clock while another is still starting; once there is a system peer,
// a source that starts later (added at run time, a pool's new member, even
// one that never answers) does not stop the updates.
TEST(SystemProcess, StartingSourcesHoldOnlyWhileNothingIsSelected) {
    SourceSnapshot newcomer = source(2, 0.0);
    newcomer.has_statistics = false;
    newcomer.reach = 0;
    newcomer.starting = true;

    SystemProcess fresh(SystemConfig{});
    std::vector<SourceSnapshot> both = {source(1, 0.001), newcomer};
    auto outcome = fresh.select(both, kNow);
    EXPECT_FALSE(outcome.majority);
    EXPECT_FALSE(outcome.clock_update);
    EXPECT_FALSE(fresh.state().system_peer);

    SystemProcess running(SystemConfig{});
    std::vector<SourceSnapshot> one = {source(1, 0.001)};
    ASSERT_TRUE(running.select(one, kNow).clock_update);
    ASSERT_EQ(running.state().system_peer, 1u);
    both[0].statistics.time = both[0].statistics.updated = kNow + from_seconds(64);
    outcome = running.select(both, kNow + from_seconds(64));
    EXPECT_TRUE(outcome.majority);
    EXPECT_EQ(outcome.verdicts[0].status, SourceStatus::SystemPeer);
    EXPECT_EQ(outcome.verdicts[1].unfitness, Unfitness::NoStatistics);
    ASSERT_TRUE(outcome.clock_update);
    EXPECT_EQ(running.state().system_peer, 1u);
}

TEST(SystemProcess, SystemPeerIsStickyAndUpdatesOnlyOnNewSamples) {
    SystemProcess system(SystemConfig{});
    std::vector<SourceSnapshot> sources = {source(1, 0.001, 2, 0.010), source(2, 0.001, 2, 0.012),
                                           source(3, 0.001, 2, 0.014)};
    auto first = system.select(sources, kNow);
    ASSERT_EQ(system.state().system_peer, 1u);
    ASSERT_TRUE(first.clock_update);
    // Same samples again: no new clock update.
    EXPECT_FALSE(system.select(sources, kNow).clock_update);
    // Source 2 becomes slightly better but 1 still survives: no hopping.
    sources[1].statistics.delay = 0.009;
    system.select(sources, kNow);
    EXPECT_EQ(system.state().system_peer, 1u);
    // A newer sample of the system peer produces an update.
    sources[0].statistics.time = kNow + from_seconds(64);
    EXPECT_TRUE(system.select(sources, kNow + from_seconds(64)).clock_update);
}

}  // namespace
}  // namespace nanotime::ntp
