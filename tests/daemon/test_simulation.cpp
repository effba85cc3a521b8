// Deterministic simulation of the client core against simulated servers:
// convergence, falseticker rejection, recovery after a server disappears,
// pool replacement, server faults; the oscillator and the clock models
// (ideal, libnanokernel as the nanoclock and as CLOCK_REALTIME). Prints the
// RMS offset error of each run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "simulation/sim_clock.hpp"
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

// ---- the oscillator and the clock models ----

TEST(SimOscillator, DriftsAtItsFrequencyAndStepsOnTheSecond) {
    OscillatorModel m;
    m.frequency = 20e-6;
    m.steps = {FrequencyStep{100.5, 1e-6}};
    Oscillator osc(m, 1);
    EXPECT_NEAR(osc.drift(50.25), 50.25 * 20e-6, 1e-15);
    EXPECT_DOUBLE_EQ(osc.frequency(100.9), 20e-6);  // begins at the first whole second after
    EXPECT_DOUBLE_EQ(osc.frequency(101.0), 21e-6);
    EXPECT_NEAR(osc.drift(201), 201 * 20e-6 + 100 * 1e-6, 1e-14);
}

TEST(SimOscillator, WanderIsARandomWalkPerSecond) {
    OscillatorModel m;
    m.wander = 1e-9;
    Oscillator osc(m, 7);
    double squares = 0, last = osc.frequency(0);
    const int n = 20000;
    for (int k = 1; k <= n; ++k) {
        const double y = osc.frequency(k);
        squares += (y - last) * (y - last);
        last = y;
    }
    EXPECT_NEAR(std::sqrt(squares / n), 1e-9, 0.03e-9);
}

ClockModelConfig kernel_config(ClockModelKind kind) {
    ClockModelConfig c;
    c.kind = kind;
    c.offset = 0.0123;
    return c;
}

class KernelClockModel : public ::testing::TestWithParam<ClockModelKind> {};

TEST_P(KernelClockModel, RunsFreeWithTheOscillator) {
    OscillatorModel m;
    m.frequency = 50e-6;
    Oscillator osc(m, 1);
    auto clock = make_clock_model(kernel_config(GetParam()), osc);
    EXPECT_NEAR(clock->error(0.0), 0.0123, 1e-9);
    EXPECT_NEAR(clock->error(1000.3), 0.0123 + 1000.3 * 50e-6, 2e-9);
    EXPECT_NEAR(clock->rate_error(1000.3), 50e-6, 1e-12);
    EXPECT_DOUBLE_EQ(clock->frequency(1000.3), 0.0);
    // The tick rates: 10 Hz plus the second boundaries, or the 250 Hz grid.
    const double per_second = GetParam() == ClockModelKind::Nanoclock ? 10.0 : 250.0;
    EXPECT_NEAR(static_cast<double>(clock->ticks()), 1000.3 * per_second, 0.01 * 1000 * per_second);
}

TEST_P(KernelClockModel, CarriesOutStepsAndFrequenciesAsTheDaemonDoes) {
    OscillatorModel m;
    m.frequency = 50e-6;
    Oscillator osc(m, 1);
    ClockModelConfig config = kernel_config(GetParam());
    config.initial_frequency = -20e-6;  // a drift file
    auto clock = make_clock_model(config, osc);
    EXPECT_NEAR(clock->frequency(0), -20e-6, 1e-11);  // read back after take_control
    DisciplineClock dc;
    dc.command.action = ClockAction::Step;
    dc.command.step = -0.0123;
    // -y / (1 + y): the clock runs at (1 + y)(1 + f), exactly on time.
    dc.command.frequency = -50e-6 / (1 + 50e-6);
    const double before = clock->error(10.5);
    ASSERT_TRUE(clock->discipline(10.5, dc));
    EXPECT_NEAR(clock->error(10.5), before - 0.0123, 1e-9);
    // The frequency takes effect at the clock's next second boundary
    // (second overflow); after it the oscillator is cancelled to the
    // timebase's resolution (its slope is rounded to 2^-32, 0.23 ppb).
    EXPECT_NEAR(clock->rate_error(12.5), 0.0, 0.12e-9);
    const double e = clock->error(12.5);
    EXPECT_NEAR(clock->error(1012.5), e, 120e-9);
    // A slew beyond what ADJ_FREQUENCY takes goes through ADJ_TICK.
    ASSERT_TRUE(clock->set_frequency(1013, 0.01));
    EXPECT_NEAR(clock->frequency(1013), 0.01, 1e-9);
    EXPECT_NEAR(clock->rate_error(1020), 0.01 + 50e-6 + 0.01 * 50e-6, 0.12e-9);
}

INSTANTIATE_TEST_SUITE_P(Sim, KernelClockModel,
                         ::testing::Values(ClockModelKind::Nanoclock, ClockModelKind::Realtime),
                         [](const auto& info) {
                             return std::string(clock_model_name(info.param));
                         });

TEST(Simulation, ClockModelsCarryOutTheCoresCommands) {
    for (ClockModelKind kind :
         {ClockModelKind::Ideal, ClockModelKind::Nanoclock, ClockModelKind::Realtime}) {
        SimConfig c = base_config(61);
        c.source.iburst = false;
        c.clock_offset = 0.001;
        c.frequency_error = 30e-6;
        c.wander = 1e-10;
        c.clock_model = kind;
        // As the daemon configures its core for the nanoclock backend.
        c.controller.frequency_at_second = kind == ClockModelKind::Nanoclock;
        c.servers = {good(1, 1, 1), good(2, 2, 2), good(3, 1.5, 1.5)};
        Simulation sim(c);
        sim.run_until(6 * 3600);
        double ledger = 0;
        for (const ClockSample& s : sim.clock_samples())
            ledger = std::max(ledger, std::fabs(s.ledger_error));
        std::printf(
            "[ sim      ] %s clock: RMS %.1f us, max %.1f us, ledger error up to %.3f us, "
            "%llu ticks\n",
            clock_model_name(kind), sim.rms_clock_error(3600) * 1e6,
            sim.max_clock_error(3600) * 1e6, ledger * 1e6,
            static_cast<unsigned long long>(sim.clock().ticks()));
        EXPECT_EQ(sim.refused_commands(), 0u);
        EXPECT_LT(sim.rms_clock_error(3600), 500e-6);
        if (kind == ClockModelKind::Ideal) {
            // The ideal clock does exactly what the ledger books.
            EXPECT_LT(ledger, 1e-9);
            EXPECT_EQ(sim.clock().ticks(), 0u);
        } else if (kind == ClockModelKind::Nanoclock) {
            // The ledger books each frequency at the clock's next second, as
            // the nanokernel applies it: only the timebase's resolution (its
            // slope rounded to 2^-32) is left.
            EXPECT_LT(ledger, 2e-6);
            EXPECT_GT(sim.clock().ticks(), 6 * 3600u);
        } else {
            // CLOCK_REALTIME is booked as Linux applies a frequency (at once),
            // the model applies it at its next second: the ledger is off by
            // up to a second of each slew's rate.
            EXPECT_GT(ledger, 1e-6);
            EXPECT_GT(sim.clock().ticks(), 6 * 3600u);
        }
    }
}

// ---- server faults ----

TEST(SimServerModel, ClockErrorDriftsAndJumps) {
    ServerModel m;
    EXPECT_FALSE(m.falseticker());
    m.clock_error = 0.001;
    m.drift = 10e-6;
    m.jump_at = 100;
    m.jump = -0.5;
    EXPECT_TRUE(m.falseticker());
    EXPECT_DOUBLE_EQ(m.error_at(50), 0.001 + 50 * 10e-6);
    EXPECT_DOUBLE_EQ(m.error_at(100), 0.001 + 100 * 10e-6 - 0.5);
}

TEST(Simulation, ServerFaultsReachTheClientAsTheRealCoreAnswers) {
    SimConfig c = base_config(81);
    c.servers = {good(1, 10, 10), good(2, 12, 12), good(3, 8, 9), good(4, 9, 9)};
    for (ServerModel& s : c.servers) s.path.loss = 0;
    c.servers[0].unsync_at = 1800;
    c.servers[1].kod_rate_at = 1800;
    c.servers[2].deny_at = 1800;
    Simulation sim(c);
    sim.run_until(4 * 3600);
    report("server faults", sim, 600);
    for (const SourceInfo& info : sim.client().sources()) {
        const NtpSource& s = *info.source;
        const ServerModel* m = sim.server_of(s.id());
        ASSERT_NE(m, nullptr);
        if (std::isfinite(m->unsync_at)) {
            EXPECT_GT(s.counters().unsynchronized, 0u);
            EXPECT_NE(s.reach(), 0);  // it still answers
            EXPECT_EQ(info.verdict.status, SourceStatus::Unfit);
        } else if (std::isfinite(m->kod_rate_at)) {
            EXPECT_GT(s.counters().kiss_rate, 0u);
            EXPECT_EQ(s.counters().kiss_deny, 0u);
        } else if (std::isfinite(m->deny_at)) {
            EXPECT_EQ(s.reach(), 0);  // dropped without a word: unreachable
        } else {
            EXPECT_EQ(info.verdict.status, SourceStatus::SystemPeer);
        }
    }
    EXPECT_TRUE(sim.client().system_state().synchronized());
}

}  // namespace
}  // namespace nanotime::ntp::sim
