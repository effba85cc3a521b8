// ClientCore: routing replies by request ID, system updates, KoD removal.
#include <gtest/gtest.h>

#include "packet/reference_id.hpp"
#include "source/client_core.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::actions_of;
using testing::kEpoch2026;
using testing::make_reply;

SourceConfig server(uint8_t last_octet) {
    SourceConfig c;
    c.address = SocketAddress{IpAddress::v4(192, 0, 2, last_octet), 123};
    c.iburst = true;
    return c;
}

// Answers every SendTo in @actions as a server 10 ms ahead with 4 ms RTT;
// returns the actions the replies produced.
ClientActions answer_all(ClientCore& core, const ClientActions& actions, NtpInstant now,
                         RandomSource& random) {
    ClientActions produced;
    for (const SendTo& send : actions_of<SendTo>(actions)) {
        const auto reply =
            make_reply(send.request.packet, now + from_seconds(0.012), now + from_seconds(0.012));
        auto out =
            core.handle_packet(send.request.request_id, reply, now + from_seconds(0.004), random);
        produced.insert(produced.end(), out.begin(), out.end());
    }
    return produced;
}

TEST(ClientCore, SynchronizesFromThreeServers) {
    SplitMix64 random(1);
    ClientCore core(SystemConfig{});
    ClientActions out;
    std::vector<SourceId> ids;
    for (uint8_t i = 1; i <= 3; ++i) ids.push_back(core.add_server(server(i), random, out));
    EXPECT_EQ(actions_of<SetSourceTimer>(out).size(), 3u);
    NtpInstant now = kEpoch2026;
    std::vector<DisciplineClock> updates;
    for (int round = 0; round < 6; ++round) {
        for (SourceId id : ids) {
            auto sent = core.handle_source_timer(id, now, random);
            auto replies = answer_all(core, sent, now, random);
            for (const auto& u : actions_of<DisciplineClock>(replies)) updates.push_back(u);
        }
        now += from_seconds(2);
    }
    ASSERT_FALSE(updates.empty());
    // The first update, before any correction: exactly what the samples say.
    // (Later ones see the slew the core commanded, which this test does not
    // carry out on its clock.)
    EXPECT_NEAR(updates.front().update.offset, 0.010, 1e-6);
    EXPECT_EQ(updates.front().command.action, ClockAction::Slew);
    EXPECT_GT(updates.front().command.frequency, 0.0);  // behind: run faster
    EXPECT_TRUE(core.system_state().synchronized());
    EXPECT_EQ(core.system_state().stratum, 2);
    for (const SourceInfo& info : core.sources()) {
        EXPECT_TRUE(info.verdict.status == SourceStatus::Survivor ||
                    info.verdict.status == SourceStatus::SystemPeer);
    }
}

TEST(ClientCore, UnknownRequestIdsAreIgnored) {
    SplitMix64 random(2);
    ClientCore core(SystemConfig{});
    ClientActions out;
    const SourceId id = core.add_server(server(1), random, out);
    auto sent = core.handle_source_timer(id, kEpoch2026, random);
    const auto send = actions_of<SendTo>(sent).at(0);
    const auto reply = make_reply(send.request.packet, kEpoch2026, kEpoch2026);
    EXPECT_TRUE(core.handle_packet(send.request.request_id ^ 1, reply, kEpoch2026, random).empty());
    // The real one is accepted once; a replay finds no waiting request.
    core.handle_packet(send.request.request_id, reply, kEpoch2026, random);
    EXPECT_EQ(core.source(id)->counters().replies_accepted, 1u);
    EXPECT_TRUE(core.handle_packet(send.request.request_id, reply, kEpoch2026, random).empty());
}

TEST(ClientCore, KissDenyRemovesTheServer) {
    SplitMix64 random(3);
    ClientCore core(SystemConfig{});
    ClientActions out;
    const SourceId id = core.add_server(server(1), random, out);
    auto sent = core.handle_source_timer(id, kEpoch2026, random);
    const auto send = actions_of<SendTo>(sent).at(0);
    auto reply = make_reply(send.request.packet, kEpoch2026, kEpoch2026);
    NtpHeader h = *parse_header(reply);
    h.stratum = 0;
    h.reference_id = kKissDeny;
    const auto kod = serialize_header(h);
    auto result = core.handle_packet(send.request.request_id, kod, kEpoch2026, random);
    auto removed = actions_of<SourceRemoved>(result);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].source, id);
    EXPECT_EQ(removed[0].reason, RemovalReason::KissDeny);
    EXPECT_EQ(core.source(id), nullptr);
    EXPECT_TRUE(core.handle_source_timer(id, kEpoch2026, random).empty());
}

TEST(ClientCore, ClockStepClearsEveryFilter) {
    SplitMix64 random(4);
    ClientCore core(SystemConfig{});
    ClientActions out;
    const SourceId id = core.add_server(server(1), random, out);
    auto sent = core.handle_source_timer(id, kEpoch2026, random);
    answer_all(core, sent, kEpoch2026, random);
    ASSERT_TRUE(core.source(id)->filter().has_statistics());
    core.handle_clock_step(kEpoch2026);
    EXPECT_FALSE(core.source(id)->filter().has_statistics());
}

// nanotimectl burst/online/offline/minpoll/maxpoll reach the NTP source
// named; unknown ids and refclocks change nothing.
TEST(ClientCore, ManagementCommandsReachTheSourceAndRefuseOthers) {
    SplitMix64 random(60);
    ClientCore core(SystemConfig{});
    ClientActions out;
    const SourceId id = core.add_server(server(1), random, out);
    const SourceId ref = core.add_refclock(RefclockConfig{}, out);
    out.clear();
    ASSERT_TRUE(core.burst(id, kManualBurstRequests, kEpoch2026, random, out));
    auto timers = actions_of<SetSourceTimer>(out);
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].source, id);
    EXPECT_EQ(timers[0].after, Nanoseconds(0));
    EXPECT_TRUE(core.source(id)->in_burst());
    out.clear();
    EXPECT_FALSE(core.burst(id + 100, 4, kEpoch2026, random, out));
    EXPECT_FALSE(core.burst(ref, 4, kEpoch2026, random, out));
    EXPECT_FALSE(core.set_online(ref, false, kEpoch2026, random, out));
    EXPECT_FALSE(core.set_poll_limits(ref, 4, 8));
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(core.set_online(id, false, kEpoch2026, random, out));
    EXPECT_FALSE(core.source(id)->online());
    EXPECT_TRUE(core.set_poll_limits(id, 4, 8));
    EXPECT_FALSE(core.set_poll_limits(id, 9, 8));
    EXPECT_EQ(core.source(id)->minpoll(), 4);
    EXPECT_EQ(core.source(id)->maxpoll(), 8);
}

}  // namespace
}  // namespace nanotime::ntp
