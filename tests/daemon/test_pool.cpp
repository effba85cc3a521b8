// Pool membership and the ClientCore's pool handling: resolution requests,
// member replacement for unreachable members, address avoidance.
#include <gtest/gtest.h>

#include "source/client_core.hpp"
#include "source/pool.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::actions_of;
using testing::kEpoch2026;

std::vector<IpAddress> addresses(int count, int first = 1) {
    std::vector<IpAddress> out;
    for (int i = 0; i < count; ++i)
        out.push_back(IpAddress::v4(198, 51, 100, static_cast<uint8_t>(first + i)));
    return out;
}

TEST(Pool, TakesUpToDesiredUniqueAddresses) {
    PoolConfig config;
    config.hostname = "pool.example";
    config.desired_members = 3;
    Pool pool(config);
    auto resolved = addresses(5);
    resolved.push_back(resolved[0]);  // duplicate in the answer
    auto chosen = pool.take_addresses(resolved, kEpoch2026);
    ASSERT_EQ(chosen.size(), 3u);
    for (size_t i = 0; i < chosen.size(); ++i)
        pool.add_member(static_cast<SourceId>(i + 1), chosen[i]);
    EXPECT_FALSE(pool.wants_members());
    // Replace member 1: its address is avoided, a spare is used instead.
    pool.remove_member(1, kEpoch2026, true);
    auto spare = pool.take_spare(kEpoch2026);
    ASSERT_EQ(spare.size(), 1u);
    EXPECT_NE(spare[0], chosen[0]);
    pool.add_member(9, spare[0]);
    // A new resolution returning the replaced address does not bring it back.
    pool.remove_member(2, kEpoch2026, true);
    auto again = pool.take_addresses({chosen[0].ip, chosen[1].ip}, kEpoch2026);
    EXPECT_TRUE(again.empty());
    // After avoid_for it is usable again.
    auto later = pool.take_addresses({chosen[0].ip}, kEpoch2026 + config.avoid_for);
    EXPECT_EQ(later.size(), 1u);
}

TEST(Pool, FalsetickerRunTriggersReplacement) {
    PoolConfig config;
    config.falseticker_limit = 3;
    Pool pool(config);
    pool.add_member(1, SocketAddress{IpAddress::v4(10, 0, 0, 1), 123});
    EXPECT_FALSE(pool.record_falseticker(1, true));
    EXPECT_FALSE(pool.record_falseticker(1, true));
    EXPECT_FALSE(pool.record_falseticker(1, false));  // run broken
    EXPECT_FALSE(pool.record_falseticker(1, true));
    EXPECT_FALSE(pool.record_falseticker(1, true));
    EXPECT_TRUE(pool.record_falseticker(1, true));
    EXPECT_FALSE(pool.record_falseticker(2, true));  // not a member
}

TEST(Pool, ResolveBackoffDoubles) {
    PoolConfig config;
    config.min_resolve_interval = from_seconds(16);
    config.max_resolve_interval = from_seconds(100);
    Pool pool(config);
    EXPECT_EQ(pool.next_resolve_delay(), from_seconds(16));
    EXPECT_EQ(pool.next_resolve_delay(), from_seconds(32));
    EXPECT_EQ(pool.next_resolve_delay(), from_seconds(64));
    EXPECT_EQ(pool.next_resolve_delay(), from_seconds(100));
    pool.resolution_succeeded();
    EXPECT_EQ(pool.next_resolve_delay(), from_seconds(16));
}

TEST(ClientCorePool, ResolvesSpawnsAndReplacesUnreachableMembers) {
    SplitMix64 random(1);
    ClientCore core(SystemConfig{});
    ClientActions out;
    PoolConfig config;
    config.hostname = "pool.example";
    config.desired_members = 2;
    config.source.iburst = false;
    const PoolId pool = core.add_pool(config, out);
    auto resolves = actions_of<Resolve>(out);
    ASSERT_EQ(resolves.size(), 1u);
    EXPECT_EQ(resolves[0].hostname, "pool.example");

    auto spawned = core.handle_resolved(pool, addresses(3), kEpoch2026, random);
    auto timers = actions_of<SetSourceTimer>(spawned);
    ASSERT_EQ(timers.size(), 2u);
    EXPECT_EQ(core.pool(pool)->member_count(), 2u);

    // Member timers fire with no replies: after 8 polls the first is
    // unreachable, is dropped and replaced by the spare address.
    const SourceId victim = timers[0].source;
    NtpInstant now = kEpoch2026;
    ClientActions all;
    for (int i = 0; i < 9; ++i) {
        now += from_seconds(64);
        auto a = core.handle_source_timer(victim, now, random);
        all.insert(all.end(), a.begin(), a.end());
    }
    auto removed = actions_of<SourceRemoved>(all);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].source, victim);
    EXPECT_EQ(removed[0].reason, RemovalReason::Unreachable);
    EXPECT_EQ(core.source(victim), nullptr);
    EXPECT_EQ(core.pool(pool)->member_count(), 2u);
    auto new_timers = actions_of<SetSourceTimer>(all);
    bool started_new = false;
    for (const auto& t : new_timers) started_new |= t.source != victim;
    EXPECT_TRUE(started_new);
}

TEST(ClientCorePool, ShortOfAddressesAsksAgainLater) {
    SplitMix64 random(2);
    ClientCore core(SystemConfig{});
    ClientActions out;
    PoolConfig config;
    config.hostname = "pool.example";
    config.desired_members = 4;
    const PoolId pool = core.add_pool(config, out);
    auto spawned = core.handle_resolved(pool, addresses(1), kEpoch2026, random);
    auto pool_timers = actions_of<SetPoolTimer>(spawned);
    ASSERT_EQ(pool_timers.size(), 1u);
    auto retry = core.handle_pool_timer(pool, kEpoch2026 + pool_timers[0].after, random);
    EXPECT_EQ(actions_of<Resolve>(retry).size(), 1u);
    auto failed = core.handle_resolve_failed(pool);
    EXPECT_EQ(actions_of<SetPoolTimer>(failed).size(), 1u);
}

TEST(ClientCorePool, RemovedPoolTakesItsMembersAndAnswersNothingAfter) {
    SplitMix64 random(3);
    ClientCore core(SystemConfig{});
    ClientActions out;
    PoolConfig config;
    config.hostname = "pool.example";
    config.desired_members = 2;
    const PoolId pool = core.add_pool(config, out);
    SourceConfig lone;
    lone.address = SocketAddress{IpAddress::v4(192, 0, 2, 1), 123};
    const SourceId server = core.add_server(lone, random, out);
    core.handle_resolved(pool, addresses(2), kEpoch2026, random);
    ASSERT_EQ(core.pool(pool)->member_count(), 2u);

    ClientActions removal;
    core.remove_pool(pool, kEpoch2026, removal);
    auto removed = actions_of<SourceRemoved>(removal);
    ASSERT_EQ(removed.size(), 2u);
    for (const SourceRemoved& r : removed) {
        EXPECT_EQ(r.reason, RemovalReason::Removed);
        EXPECT_NE(r.source, server);
        EXPECT_EQ(core.source(r.source), nullptr);
    }
    EXPECT_EQ(core.pool(pool), nullptr);
    EXPECT_NE(core.source(server), nullptr);  // not the pool's: kept
    // A resolution or pool timer still in flight for it changes nothing.
    EXPECT_TRUE(core.handle_resolved(pool, addresses(2, 10), kEpoch2026, random).empty());
    EXPECT_TRUE(core.handle_pool_timer(pool, kEpoch2026, random).empty());
    EXPECT_TRUE(core.handle_resolve_failed(pool).empty());
    EXPECT_EQ(core.sources().size(), 1u);
}

}  // namespace
}  // namespace nanotime::ntp
