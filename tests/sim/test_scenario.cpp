// Unit tests of scenario parsing.
#include <gtest/gtest.h>
#include <sys/timex.h>

#include <filesystem>

#include "scenario.hpp"

using namespace nksim;

TEST(Scenario, ParsesEveryTable) {
    const Scenario s = parse_scenario(R"(
name = "T"
description = "test"
seed = 7
duration = 7200
variant = "linux"
[clock]
initial_offset_ns = -3_000_000
tick_hz = 100
tick_latency_ns = 2000
[daemon]
status = ["PLL", "PPSFREQ", "STA_PPSTIME"]
ppsmax = 10
[oscillator]
freq_ppm = 50
wander = 1e-11
temp_step_ppm = 1
temp_step_at = 3600
[pps]
jitter_ns = 1000
spike_prob = 0.01
spike_ns = 50000
outages = [[100, 10], [200.5, 1]]
[ntp]
enabled = false
poll = 16
noise_ns = 1e5
mode = "fll"
time_constant = 4
[analysis]
steady_start = 1800
converge_threshold_ns = 5000
[expect]
rms_ns = 800
[expect.linux]
rms_ns = 900
max_ns = 3000
)",
                                      "t.toml");
    EXPECT_EQ(s.name, "T");
    EXPECT_EQ(s.seed, 7u);
    EXPECT_EQ(s.duration_s, 7200.0);
    EXPECT_EQ(s.variant, "linux");
    EXPECT_EQ(s.initial_offset_ns, -3e6);
    EXPECT_EQ(s.tick_hz, 100.0);
    EXPECT_EQ(s.status, STA_PLL | STA_PPSFREQ | STA_PPSTIME);
    EXPECT_EQ(s.ppsmax, 10);
    EXPECT_EQ(s.osc.freq_ppm, 50.0);
    EXPECT_EQ(s.osc.wander, 1e-11);
    EXPECT_EQ(s.osc.temp_step_at_s, 3600.0);
    EXPECT_TRUE(s.pps.enabled);  // a [pps] table enables the source by default
    EXPECT_EQ(s.pps.outages.size(), 2u);
    EXPECT_EQ(s.pps.outages[1].first, 200.5);
    EXPECT_FALSE(s.ntp.enabled);
    EXPECT_EQ(s.ntp.mode, NtpMode::Fll);
    EXPECT_EQ(s.ntp.time_constant, 4);
    EXPECT_EQ(s.steady_start_s, 1800.0);
    EXPECT_EQ(s.expect_for("freebsd").rms_ns, 800.0);
    EXPECT_FALSE(s.expect_for("freebsd").max_ns);
    EXPECT_EQ(s.expect_for("linux").rms_ns, 900.0);
    EXPECT_EQ(s.expect_for("linux").max_ns, 3000.0);
}

TEST(Scenario, RejectsUnknownKeysWithTheLine) {
    try {
        parse_scenario("name = \"x\"\n[pps]\njiter_ns = 5\n", "bad.toml");
        FAIL();
    } catch (const ScenarioError& e) {
        EXPECT_STREQ(e.what(), "bad.toml:3: unknown key 'pps.jiter_ns'");
    }
}

TEST(Scenario, RejectsWrongTypesAndValues) {
    EXPECT_THROW(parse_scenario("[pps]\njitter_ns = \"1us\"\n", "b"), ScenarioError);
    EXPECT_THROW(parse_scenario("[daemon]\nstatus = [\"PPL\"]\n", "b"), ScenarioError);
    EXPECT_THROW(parse_scenario("[clock]\ninitial_offset_ns = 6e8\n", "b"), ScenarioError);
    EXPECT_THROW(parse_scenario("[ntp]\nmode = \"pl\"\n", "b"), ScenarioError);
    EXPECT_THROW(parse_scenario("duration = ", "b"), ScenarioError);
}

TEST(Scenario, ShippedScenariosParse) {
    int n = 0;
    for (const auto& f : std::filesystem::directory_iterator(NKSIM_SCENARIO_DIR)) {
        if (f.path().extension() != ".toml") continue;
        EXPECT_NO_THROW(load_scenario(f.path().string())) << f.path();
        ++n;
    }
    EXPECT_GE(n, 4);
}
