// Deterministic simulation of the client core against simulated servers:
// convergence, falseticker rejection, recovery after a server disappears,
// pool replacement. Prints the RMS offset error of each run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "simulation/sim_network.hpp"

namespace nanotime::ntp::sim {
namespace {

ServerModel good(uint8_t last_octet, double out_ms, double back_ms) {
    ServerModel s;
    s.address = IpAddress::v4(198, 51, 100, last_octet);
    s.path.out_delay = out_ms * 1e-3;
    s.path.back_delay = back_ms * 1e-3;
    s.path.jitter_mean = 0.5e-3;
    s.path.loss = 0.05;
    return s;
}

ServerModel falseticker(uint8_t last_octet, double error_s) {
    ServerModel s = good(last_octet, 8, 8);
    s.clock_error = error_s;
    return s;
}

SimConfig base_config(uint64_t seed) {
    SimConfig c;
    c.seed = seed;
    c.clock_offset = 0.025;  // client 25 ms ahead of true time
    c.source.minpoll = 6;
    c.source.maxpoll = 10;
    c.source.iburst = true;
    return c;
}

void report(const char* name, const Simulation& sim, double from) {
    std::printf("[ sim      ] %s: %zu clock updates, RMS offset error %.1f us, max %.1f us\n", name,
                sim.updates().size(), sim.rms_error(from) * 1e6, sim.max_abs_error(from) * 1e6);
}

TEST(Simulation, ConvergesAndRejectsAFalseticker) {
    for (uint64_t seed : {1, 2, 3}) {
        SimConfig c = base_config(seed);
        // Asymmetries of +-1 ms (errors of +-0.5 ms), a 300 ms falseticker.
        c.servers = {good(1, 10, 10), good(2, 5, 6), good(3, 20, 19), good(4, 15, 15),
                     falseticker(5, 0.300)};
        Simulation sim(c);
        sim.run_until(30);
        // iburst: synchronized within seconds, and the first update sees the
        // whole offset (25 ms ahead), before any correction.
        ASSERT_FALSE(sim.updates().empty()) << "seed " << seed;
        EXPECT_LT(std::fabs(sim.updates().front().offset + 0.025), 0.002);
        sim.run_until(4 * 3600);
        report("converge+falseticker", sim, 60);
        EXPECT_LT(sim.rms_error(60), 0.0015) << "seed " << seed;
        EXPECT_LT(sim.max_abs_error(60), 0.004) << "seed " << seed;
        for (const UpdateRecord& u : sim.updates()) {
            ASSERT_NE(sim.server_of(u.system_peer), nullptr);
            EXPECT_EQ(sim.server_of(u.system_peer)->clock_error, 0.0);
        }
        for (const SourceInfo& info : sim.client().sources()) {
            const bool is_false = sim.server_of(info.source->id())->clock_error != 0.0;
            if (is_false) {
                EXPECT_EQ(info.verdict.status, SourceStatus::Falseticker);
            } else {
                EXPECT_NE(info.verdict.status, SourceStatus::Falseticker);
                EXPECT_GT(info.source->poll(), 6);  // adapted toward maxpoll
            }
        }
        EXPECT_TRUE(sim.client().system_state().synchronized());
        EXPECT_EQ(sim.client().system_state().stratum, 2);
    }
}

TEST(Simulation, TwoFalsetickersOutOfFiveNeverMoveTheClock) {
    SimConfig c = base_config(11);
    c.servers = {good(1, 10, 10), good(2, 12, 12), good(3, 8, 9), falseticker(4, 0.200),
                 falseticker(5, -0.150)};
    Simulation sim(c);
    sim.run_until(2 * 3600);
    report("2 of 5 falsetickers", sim, 60);
    EXPECT_LT(sim.max_abs_error(60), 0.004);
}

TEST(Simulation, RecoversWhenTheSystemPeerDisappears) {
    SimConfig c = base_config(21);
    c.servers = {good(1, 2, 2), good(2, 10, 10), good(3, 12, 12), good(4, 9, 10)};
    Simulation sim(c);
    sim.run_until(3600);
    ASSERT_FALSE(sim.updates().empty());
    // After an hour the system peer goes away.
    const SourceId first_peer = sim.updates().back().system_peer;
    sim.set_server_dies_at(sim.server_of(first_peer)->address, sim.now());
    const size_t updates_before = sim.updates().size();
    // Unreachable after 8 unanswered polls of up to 1024 s (1 + 1/16).
    sim.run_until(4 * 3600);
    report("recovery", sim, 60);
    ASSERT_GT(sim.updates().size(), updates_before);
    const SourceId new_peer = sim.updates().back().system_peer;
    EXPECT_NE(new_peer, first_peer);
    EXPECT_LT(sim.rms_error(3600), 0.0015);
    EXPECT_LT(sim.max_abs_error(3600), 0.004);
    // The dead server is unreachable and unfit.
    for (const SourceInfo& info : sim.client().sources()) {
        if (info.source->id() == first_peer) {
            EXPECT_EQ(info.source->reach(), 0);
            EXPECT_EQ(info.verdict.status, SourceStatus::Unfit);
        }
    }
    EXPECT_TRUE(sim.client().system_state().synchronized());
}

TEST(Simulation, PoolReplacesFalsetickerAndDeadMember) {
    SimConfig c = base_config(31);
    c.use_pool = true;
    c.pool.hostname = "pool.sim";
    c.pool.desired_members = 4;
    c.pool.source = c.source;
    // Six addresses; the pool starts with the first four, one of which is a
    // falseticker and one of which dies after 30 minutes.
    c.servers = {good(1, 10, 10), falseticker(2, 0.5), good(3, 12, 12),
                 good(4, 9, 9),   good(5, 11, 11),     good(6, 14, 14)};
    c.servers[2].dies_at = 1800;
    Simulation sim(c);
    // A dead member is replaced after 8 unanswered polls, which back off
    // toward maxpoll (1024 s): 1800 s + 8 * 1024 * (1 + 1/16) s at most.
    sim.run_until(3.5 * 3600);
    report("pool", sim, 60);
    size_t members = 0;
    for (const SourceInfo& info : sim.client().sources()) {
        ASSERT_TRUE(info.pool);
        ++members;
        const ServerModel* model = sim.server_of(info.source->id());
        ASSERT_NE(model, nullptr);
        EXPECT_EQ(model->clock_error, 0.0) << "falseticker still a member";
        EXPECT_GT(model->dies_at, sim.now()) << "dead server still a member";
    }
    EXPECT_EQ(members, 4u);
    EXPECT_LT(sim.rms_error(60), 0.0015);
}

TEST(Simulation, KeepsTimeAcrossThe2036EraRollover) {
    SimConfig c = base_config(51);
    // Start 30 minutes before 2036-02-07T06:28:16Z (NTP era 0 -> 1).
    c.start_unix_seconds = 2'085'978'496LL - 1800;
    c.servers = {good(1, 10, 10), good(2, 12, 12), good(3, 8, 9), falseticker(4, 0.2)};
    Simulation sim(c);
    sim.run_until(2 * 3600);
    report("2036 rollover", sim, 60);
    size_t after_rollover = 0;
    for (const UpdateRecord& u : sim.updates()) after_rollover += u.time > 1800;
    EXPECT_GT(after_rollover, 3u);
    EXPECT_LT(sim.max_abs_error(60), 0.004);
}

TEST(Simulation, ServersCountWhatTheyAnswered) {
    SimConfig c = base_config(41);
    c.servers = {good(1, 10, 10), good(2, 10, 10), good(3, 10, 10)};
    Simulation sim(c);
    sim.run_until(3600);
    for (size_t i = 0; i < 3; ++i) {
        const ServerCounters& counters = sim.server_counters(i);
        EXPECT_GT(counters.replied, 10u);
        EXPECT_EQ(counters.replied, counters.received);
    }
}

}  // namespace
}  // namespace nanotime::ntp::sim
