// The estimator PPS discipline (NK_OPT_PPS_ESTIMATOR): the edge estimator
// of nk_ppsest.c (gains, exact two-point start, spike gate, step refit,
// wander-adapted memory) and the clock it steers through nk_hardpps().
// Expected values come from the least-squares line fit the estimator
// implements, worked out here in integer or 128-bit arithmetic.
#include <cstdint>

#include "nk_test.hpp"

using namespace nktest;

namespace {

// A deterministic +-1000 ns jitter pattern (period 8, mean 0).
int64_t jitter(int k) {
    static const int64_t p[8] = {700, -1000, 300, 1000, -700, -300, 600, -600};
    return p[k & 7];
}

// PCC of edge @k of a PCC @ppb fast (true second k), from kP0.
uint64_t edge_pcc(int64_t k, int64_t ppb) {
    return kP0 + static_cast<uint64_t>(k * (kNs + ppb));
}

}  // namespace

TEST(PpsEstGains, LeastSquaresLine) {
    nk_u64 a, b;
    nk_pe_gains(2, &a, &b);  // two points: the line through both
    EXPECT_EQ(a, uint64_t{1} << 32);
    EXPECT_EQ(b, uint64_t{1} << 32);
    nk_pe_gains(10, &a, &b);  // 2 (2n - 1) / (n (n + 1)) = 38 / 110, 6 / 110
    EXPECT_EQ(a, (uint64_t{38} << 32) / 110);
    EXPECT_EQ(b, (uint64_t{6} << 32) / 110);
}

TEST(PpsEstGains, SignedQ32Product) {
    EXPECT_EQ(nk_pe_mul_q32(lfp(1000), uint64_t{1} << 31), lfp(500));
    EXPECT_EQ(nk_pe_mul_q32(-lfp(1000), uint64_t{1} << 31), -lfp(500));
    EXPECT_EQ(nk_pe_mul_q32(-3, uint64_t{1} << 31), -1);  // toward zero
}

TEST(PpsEst, TwoEdgesGiveTheExactInterval) {
    struct nk_ppsest e;
    nk_pe_reset(&e);
    EXPECT_EQ(nk_pe_edge(&e, kP0, 0), NK_PE_FIRST);
    EXPECT_EQ(nk_pe_edge(&e, kP0 + kNs + 50000, 0), NK_PE_ACCEPTED);
    EXPECT_EQ(e.theta, kP0 + kNs + 50000);
    EXPECT_EQ(e.theta_frac, 0u);
    EXPECT_EQ(e.phi, lfp(50000));
    EXPECT_EQ(e.n, 2);
    // a second hit in the same second changes nothing
    EXPECT_EQ(nk_pe_edge(&e, kP0 + kNs + 50100, 0), NK_PE_IGNORED);
    EXPECT_EQ(e.phi, lfp(50000));
}

TEST(PpsEst, NoiseFreeEdgesAreFollowedExactly) {
    struct nk_ppsest e;
    nk_pe_reset(&e);
    for (int k = 0; k <= 100; k++) nk_pe_edge(&e, edge_pcc(k, 50000), 0);
    EXPECT_EQ(e.theta, edge_pcc(100, 50000));
    EXPECT_EQ(e.phi, lfp(50000));
    EXPECT_EQ(e.rejects, 0);
    EXPECT_EQ(e.steps, 0);
}

TEST(PpsEst, JitterIsAveragedAndASpikeRejected) {
    struct nk_ppsest e;
    nk_pe_reset(&e);
    for (int k = 0; k <= 400; k++)
        nk_pe_edge(&e, edge_pcc(k, 50000) + static_cast<uint64_t>(jitter(k) + 1000), 0);
    // the mean |jitter| is 650 ns; the fit's phase is within a few tens of ns
    EXPECT_NEAR(nk_pe_adev(&e), 650, 100);
    const int64_t phase = static_cast<int64_t>(e.theta - edge_pcc(400, 50000)) - 1000;
    EXPECT_LT(phase < 0 ? -phase : phase, 150);
    EXPECT_NEAR(static_cast<double>(e.phi) / kFrac, 50000.0, 5.0);
    const int64_t phi = e.phi;
    // a 50 us late edge is outside the gate: prediction only
    EXPECT_EQ(nk_pe_edge(&e, edge_pcc(401, 50000) + 51000, 0), NK_PE_REJECTED);
    EXPECT_EQ(e.phi, phi);
    EXPECT_EQ(e.rejects, 1);
    EXPECT_EQ(nk_pe_edge(&e, edge_pcc(402, 50000) + 1000 + jitter(402), 0), NK_PE_ACCEPTED);
}

TEST(PpsEst, FrequencyStepIsRefitted) {
    struct nk_ppsest e;
    nk_pe_reset(&e);
    int k = 0;
    for (; k <= 600; k++)
        nk_pe_edge(&e, edge_pcc(k, 50000) + static_cast<uint64_t>(jitter(k) + 1000), 0);
    // +1 ppm from edge 600 on: the phase ramps 1000 ns per edge
    const uint64_t base = edge_pcc(600, 50000);
    int step_at = -1;
    for (int j = 1; j <= 20 && step_at < 0; j++)
        if (nk_pe_edge(&e, base + static_cast<uint64_t>(j * (kNs + 51000) + jitter(k + j) + 1000),
                       0) == NK_PE_STEP)
            step_at = j;
    ASSERT_GT(step_at, 0);
    EXPECT_LE(step_at, 8);
    EXPECT_EQ(e.steps, 1);
    EXPECT_EQ(e.n, NK_PE_RUN);
    EXPECT_NEAR(static_cast<double>(e.phi) / kFrac, 51000.0, 700.0);
}

TEST(PpsEst, MemoryGrowsOnAQuietSignalAndShrinksOnWander) {
    struct nk_ppsest e;
    nk_pe_reset(&e);
    int k = 0;
    for (; k <= 2000; k++)
        nk_pe_edge(&e, edge_pcc(k, 0) + static_cast<uint64_t>(jitter(k) + 1000), 0);
    EXPECT_EQ(e.nmax, NK_PE_NMAX);
    // a frequency that drifts 0.5 ns/s per second: the innovations lag
    uint64_t pcc = edge_pcc(k - 1, 0);
    int64_t y = 0;
    for (int j = 0; j < 600; j++) {
        y += 1;
        pcc += static_cast<uint64_t>(kNs + y / 2);
        nk_pe_edge(&e, pcc + static_cast<uint64_t>(jitter(k + j) + 1000), 0);
    }
    EXPECT_LT(e.nmax, NK_PE_NMAX);
}

// The clock under the estimator discipline: PCC +50 ppm, clock 3 ms ahead.
class PpsEstClock : public Clock {};

TEST_F(PpsEstClock, LocksPhaseAndFrequencyWithinSeconds) {
    init(NK_OPT_PPS_ESTIMATOR, kT0, 3000000);
    pll_nano(STA_PPSTIME | STA_PPSFREQ);
    tick_at(kP0);
    for (int k = 1; k <= 30; k++) {
        const uint64_t e = edge_pcc(k, 50000);
        while (static_cast<uint64_t>(c.next_second_pcc) <= e) tick_at(c.next_second_pcc);
        pcc_ = e;
        nk_hardpps(&c, e);
    }
    // time_freq: -50000 ns/s per true second is -50000 / 1.00005 per PCC ns
    EXPECT_NEAR(static_cast<double>(c.time_freq) / kFrac, -50000.0 / 1.00005, 0.01);
    EXPECT_EQ(c.pps_freq, c.time_freq);
    // at the next edge the clock reads the true second to within a ns
    const uint64_t e = edge_pcc(31, 50000);
    while (static_cast<uint64_t>(c.next_second_pcc) <= e) tick_at(c.next_second_pcc);
    struct nk_time t;
    nk_read(&c, e, &t);
    const int64_t err = (t.sec - kT0 - 31) * kNs + t.nsec;
    EXPECT_LT(err < 0 ? -err : err, 2);
    EXPECT_FALSE(c.time_status & STA_PPSJITTER);
}

TEST_F(PpsEstClock, SwitchingDisciplineRestartsThePpsState) {
    init(0);
    pll_nano(STA_PPSTIME | STA_PPSFREQ);
    for (int k = 1; k <= 10; k++) nk_hardpps(&c, edge_pcc(k, 0));
    nk_set_options(&c, NK_OPT_PPS_ESTIMATOR);
    EXPECT_EQ(c.options, static_cast<uint32_t>(NK_OPT_PPS_ESTIMATOR));
    EXPECT_EQ(c.pps_est.valid, 0);
    EXPECT_EQ(c.pps_shift, NK_PPS_FAVG);
    nk_hardpps(&c, edge_pcc(11, 0));
    EXPECT_EQ(c.pps_est.valid, 1);
    EXPECT_EQ(c.pps_est.n, 1);
}
