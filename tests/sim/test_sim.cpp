// Unit tests of the simulation engine on the real core (short runs).
#include <gtest/gtest.h>

#include "report.hpp"
#include "simulator.hpp"

using namespace nksim;

TEST(Variant, Names) {
    EXPECT_EQ(variant_from_name("default")->options, 0u);
    EXPECT_EQ(variant_from_name("freebsd")->name, "default");  // the old name
    EXPECT_EQ(variant_from_name("freebsd")->options, 0u);
    EXPECT_EQ(variant_from_name("freebsd-strict")->options,
              static_cast<uint32_t>(NKS_OPT_FREEBSD_STRICT_CAL));
    EXPECT_EQ(variant_from_name("0x3f")->options, 0x3fu);
    EXPECT_EQ(variant_from_name("estimator")->options, 0x40u);
    EXPECT_EQ(variant_from_name("0x40")->options, 0x40u);
    EXPECT_FALSE(variant_from_name("0x80"));  // beyond NK_OPT_ALL
    EXPECT_EQ(variant_from_name("linux")->options, static_cast<uint32_t>(NKS_OPT_LINUX_ALL));
    EXPECT_EQ(variant_from_name("shiftpll2")->options,
              static_cast<uint32_t>(NKS_OPT_LINUX_SHIFT_PLL));
    EXPECT_EQ(variant_from_name("0x4")->options, 4u);
    EXPECT_FALSE(variant_from_name("bsd"));
    EXPECT_FALSE(variant_from_name("0x100"));
}

namespace {
Scenario small_pps() {
    return parse_scenario(R"(
name = "small"
duration = 600
[clock]
initial_offset_ns = 2_000_000
tick_hz = 4
tick_latency_ns = 1000
[daemon]
status = ["PLL", "PPSFREQ", "PPSTIME"]
[oscillator]
freq_ppm = 20
[pps]
jitter_ns = 1000
dropout_prob = 0.1
)",
                          "small");
}
}  // namespace

TEST(Simulator, RunsEveryEventAndSamples) {
    const Scenario s = small_pps();
    const SimResult r = simulate(s, *variant_from_name("freebsd"));
    EXPECT_EQ(r.t_s.size(), 600u);  // one sample per second
    EXPECT_EQ(r.hardpps, r.pps.edges);
    EXPECT_NEAR(static_cast<double>(r.pps.dropouts), 60.0, 30.0);
    EXPECT_GE(r.ticks, 4u * 600u);  // periodic ticks plus boundary ticks
    EXPECT_NEAR(static_cast<double>(r.boundary_ticks), 600.0, 5.0);
    EXPECT_EQ(r.nonmonotonic, 0u);
    // First sample: the initial offset, the oscillator runs 20 ppm fast.
    EXPECT_NEAR(r.err_ns.front(), 2e6, 2e6 * 1e-2);
}

TEST(Simulator, DeterministicFromTheSeed) {
    Scenario s = small_pps();
    const SimResult a = simulate(s, *variant_from_name("freebsd"));
    const SimResult b = simulate(s, *variant_from_name("freebsd"));
    EXPECT_EQ(a.err_ns, b.err_ns);
    s.seed = 2;
    const SimResult c = simulate(s, *variant_from_name("freebsd"));
    EXPECT_NE(a.err_ns, c.err_ns);
}

TEST(Simulator, FreeRunningClockDriftsWithTheOscillator) {
    // No discipline at all: error grows as freq_ppm * t.
    Scenario s = parse_scenario(R"(
duration = 100
[oscillator]
freq_ppm = 10
)",
                                "free");
    const SimResult r = simulate(s, *variant_from_name("freebsd"));
    ASSERT_FALSE(r.t_s.empty());
    EXPECT_NEAR(r.err_ns.back(), 10e-6 * r.t_s.back() * 1e9, 5.0);
    EXPECT_EQ(r.discontinuities, 0u);
    const Report rep = analyse(s, r);
    EXPECT_EQ(rep.err.n, r.t_s.size());
}

TEST(Report, ChecksUseTheVariantAndFailOnAnEmptyWindow) {
    Scenario s = parse_scenario(R"(
duration = 100
[oscillator]
freq_ppm = 10
[analysis]
steady_start = 50
converge_threshold_ns = 1e9
[expect]
rms_ns = 1e9
[expect.linux]
rms_ns = 1
)",
                                "chk");
    const SimResult r = simulate(s, *variant_from_name("freebsd"));
    EXPECT_TRUE(analyse(s, r).pass);
    const SimResult rl = simulate(s, *variant_from_name("linux"));
    EXPECT_FALSE(analyse(s, rl).pass);  // 10 ppm free-running >> 1 ns
    s.duration_s = 40;                  // window [50, 40] is empty
    const SimResult re = simulate(s, *variant_from_name("freebsd"));
    const Report rep = analyse(s, re);
    EXPECT_EQ(rep.err.n, 0u);
    EXPECT_FALSE(rep.pass);
}

// The PPS calibration variants on a short run with lost edges: kern_ntptime.c
// voids every interval with a lost edge (STA_PPSERROR, errcnt), the default
// measures across it.
TEST(Simulator, DroppedEdgesVoidOnlyStrictCalibrations) {
    Scenario s = small_pps();  // 10 % of the edges lost
    s.duration_s = 1200;
    const SimResult strict = simulate(s, *variant_from_name("freebsd-strict"));
    const SimResult def = simulate(s, *variant_from_name("default"));
    EXPECT_GT(strict.final_tx.errcnt, 5);
    EXPECT_EQ(def.final_tx.errcnt, 0);
    EXPECT_GT(def.final_tx.calcnt, 10);
    EXPECT_EQ(def.nonmonotonic, 0u);
    EXPECT_EQ(def.discontinuities, 0u);
}

TEST(Report, RuntimeCheck) {
    Scenario s = parse_scenario(R"(
duration = 10
[expect]
runtime_s = 1e-9
)",
                                "rt");
    const SimResult r = simulate(s, *variant_from_name("default"));
    const Report rep = analyse(s, r);
    ASSERT_EQ(rep.checks.front().name, "runtime_s");
    EXPECT_FALSE(rep.pass);  // nothing runs in a nanosecond
}
