// hardpps: the PPS discipline (FreeBSD hardpps()).
//
// The clock is left at its nominal slope (no ticks) unless said otherwise,
// so an edge at PCC kP0 + k s + d reads kT0 + k s + d: the phase is d.
//
// PpsStrict tests run with NK_OPT_FREEBSD_STRICT_CAL (kern_ntptime.c's
// calibration, bit for bit apart from the exact rate); Pps tests the
// default calibration (README.md, "Deviations").
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "nk_test.hpp"

using namespace nktest;

// The exact PPS frequency, ns/s << 32, for a calibration interval of @secs
// PPS periods that lasted secs * 1e9 - @v PCC ns: v / (secs * 1e9 - v),
// truncated toward zero (an independent 128-bit computation of nk_pps_rate).
static int64_t rate(int64_t v, int64_t secs) {
    return static_cast<int64_t>(static_cast<__int128>(v) * kNs * kFrac / (secs * kNs - v));
}

// The timex view (scaled ppm) of a frequency in ns/s << 32.
static int64_t scaled_ppm(int64_t f) {
    const int64_t x = f / 1000 * 65536;
    return x < 0 ? -((-x) >> 32) : x >> 32;
}

// The PPS frequency a PCC 10 ppm fast measures: -10000 ns/s per PCC second
// is 1e9 / (1e9 + 10000) of -10000 ns/s (-9999.9 ns/s). The same for every
// interval length (the ratio is exact).
static const int64_t kR10 = rate(-40000, 4);

class Pps : public Clock {
  protected:
    // Edge k of a PCC whose seconds are 1e9 + dt ns long (dt: ns per s fast).
    void edge(int64_t dt = 0) {
        epcc_ += static_cast<uint64_t>(kNs + dt);
        nk_hardpps(&c, epcc_);
    }
    // The same edge, timestamped @spike ns late (the next one is on time).
    void spike_edge(int64_t dt, int64_t spike) {
        epcc_ += static_cast<uint64_t>(kNs + dt);
        nk_hardpps(&c, epcc_ + static_cast<uint64_t>(spike));
    }
    // The edge of the next PPS period is lost: only the PCC moves on.
    void drop(int64_t dt = 0) { epcc_ += static_cast<uint64_t>(kNs + dt); }
    // Edge in clock second k at phase @phase ns.
    void edge_at(int64_t k, int64_t phase) {
        epcc_ = kP0 + static_cast<uint64_t>(k * kNs + phase);
        nk_hardpps(&c, epcc_);
    }
    void ppstime(int extra = 0) { pll_nano(STA_PPSTIME | extra); }
    // Edges until the next calibration (at most @max edges).
    void until_calibration(int64_t dt, int max = 100000) {
        const int64_t n = c.pps_calcnt;
        for (int i = 0; i < max && c.pps_calcnt == n; i++) edge(dt);
        ASSERT_NE(c.pps_calcnt, n);
    }
    uint64_t epcc_ = kP0;
};

class PpsStrict : public Pps {
  protected:
    void SetUp() override { init(NK_OPT_FREEBSD_STRICT_CAL); }
};

constexpr uint32_t kStrict = NK_OPT_FREEBSD_STRICT_CAL;

TEST_F(PpsStrict, FirstEdge) {
    edge_at(1, 100);
    EXPECT_EQ(c.time_status, STA_UNSYNC | STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSERROR);
    EXPECT_EQ(c.pps_valid, 120);
    EXPECT_EQ(c.pps_tf[0].sec, kT0 + 1);
    EXPECT_EQ(c.pps_tf[0].nsec, 100);
    // median of {100, 0, 0} is 0, spread 100 > 2 ns floor: popcorn
    EXPECT_EQ(c.pps_jitcnt, 1);
    EXPECT_EQ(c.pps_jitter, 25);  // 100 / 4
    // the first calibration interval (from pps_lastsec = 0) is wrong
    EXPECT_EQ(c.pps_calcnt, 1);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_EQ(c.pps_lastsec, kT0 + 1);
    EXPECT_EQ(c.pps_lastpcc, kP0 + kNs + 100);
    struct __kernel_timex tx = mktx(ADJ_NANO);
    adj(tx);
    EXPECT_EQ(tx.jitcnt, 1);
    EXPECT_EQ(tx.calcnt, 1);
    EXPECT_EQ(tx.errcnt, 1);
    EXPECT_EQ(tx.stbcnt, 0);
    EXPECT_EQ(tx.jitter, 25);
    EXPECT_EQ(tx.shift, 2);
}

TEST_F(Pps, PhaseNormalisedToNearestSecond) {
    edge_at(0, 700000000);  // reads kT0.7: 0.3 s before kT0 + 1
    EXPECT_EQ(c.pps_tf[0].sec, kT0 + 1);
    EXPECT_EQ(c.pps_tf[0].nsec, -300000000);
    EXPECT_TRUE(c.time_status & STA_PPSJITTER);  // and out of the range gate
    edge_at(2, 499999999);                       // just below half a second: stays in second 2
    EXPECT_EQ(c.pps_tf[0].sec, kT0 + 2);
    EXPECT_EQ(c.pps_tf[0].nsec, 499999999);
}

TEST_F(Pps, MedianOfThree) {
    const std::array<std::array<int64_t, 3>, 6> perms = {
        {{10, 20, 30}, {10, 30, 20}, {20, 10, 30}, {20, 30, 10}, {30, 10, 20}, {30, 20, 10}}};
    for (const auto& p : perms) {
        init(0);
        ppstime();
        c.pps_jitter = 1000000;  // popcorn gate 4 ms: nothing rejected
        for (int k = 0; k < 3; k++) edge_at(k + 1, p[k]);
        EXPECT_EQ(c.time_monitor, -20) << p[0] << p[1] << p[2];
        EXPECT_EQ(c.time_offset, lfp(-20));
        EXPECT_EQ(c.pps_jitcnt, 0);
        // jitter EWMA saw spreads: {p1,0,0}, {p2,p1,0}, {p3,p2,p1} = 20
        int64_t j = 1000000;
        const int64_t s1 = p[0], s2 = std::max(p[0], p[1]), s3 = 20;
        for (int64_t s : {s1, s2, s3}) j += (s - j) >> 2;
        EXPECT_EQ(c.pps_jitter, j);
    }
}

TEST_F(Pps, LinuxNewestSample) {
    init(NK_OPT_LINUX_PPS_NEWEST);
    ppstime();
    c.pps_jitter = 1000000;
    edge_at(1, 10);
    edge_at(2, 30);
    edge_at(3, 20);
    EXPECT_EQ(c.time_offset, lfp(-20));  // the newest
    edge_at(4, -70);
    EXPECT_EQ(c.time_offset, lfp(70));
    // jitter: |newest - previous|
    int64_t j = 1000000;
    for (int64_t s : {10, 20, 10, 90}) j += (s - j) >> 2;
    EXPECT_EQ(c.pps_jitter, j);
}

TEST_F(Pps, PopcornSpikeRejected) {
    ppstime();
    c.pps_jitter = 100;
    edge_at(1, 0);  // jitter 100 - 25 = 75
    edge_at(2, 0);  // 75 + (-75 >> 2 = -19) = 56
    EXPECT_EQ(c.pps_jitter, 56);
    c.time_offset = 12345;
    edge_at(3, 1000);  // {1000, 0, 0}: spread 1000 > 56 << 2 = 224
    EXPECT_EQ(c.pps_jitcnt, 1);
    EXPECT_TRUE(c.time_status & STA_PPSJITTER);
    EXPECT_EQ(c.time_offset, 12345);  // phase not taken
    EXPECT_EQ(c.pps_jitter, 56 + (944 >> 2));
    EXPECT_EQ(adj(0), TIME_ERROR);  // PPSTIME with PPSJITTER
}

TEST_F(Pps, PopcornGateFreeBSDVsLinux) {
    for (uint32_t opt : {0u, static_cast<uint32_t>(NK_OPT_LINUX_PPS_NEWEST)}) {
        init(opt);
        ppstime();
        c.pps_jitter = 100;
        edge_at(1, 0);
        edge_at(2, 0);
        edge_at(3, 800);  // spread 800: > 224 (x4), <= 896 (x16)
        if (opt) {
            EXPECT_EQ(c.pps_jitcnt, 0);
            EXPECT_EQ(c.time_offset, lfp(-800));
        } else {
            EXPECT_EQ(c.pps_jitcnt, 1);
            EXPECT_EQ(c.time_offset, 0);
        }
    }
}

TEST_F(Pps, PopcornFloorTwoNanoseconds) {
    ppstime();
    edge_at(1, 0);
    edge_at(2, 0);
    edge_at(3, 2);  // spread 2: not above the floor
    EXPECT_EQ(c.pps_jitcnt, 0);
    EXPECT_EQ(c.pps_jitter, 0);  // 2 >> 2
    edge_at(4, 3);               // {3, 2, 0}: spread 3 > 2
    EXPECT_EQ(c.pps_jitcnt, 1);
}

TEST_F(Pps, RangeGate) {
    ppstime();
    c.pps_jitter = 1000000;
    edge_at(1, 0);
    edge_at(2, 0);
    c.time_offset = 777;
    edge_at(3, 500001);  // 500001 ns from the previous phase: gated
    EXPECT_TRUE(c.time_status & STA_PPSJITTER);
    EXPECT_EQ(c.time_offset, 777);
    EXPECT_EQ(c.pps_jitcnt, 0);
    EXPECT_EQ(c.pps_tf[0].nsec, 500001);  // kept for the next comparison
    edge_at(4, 1000001);                  // 500000 from the previous: passes
    EXPECT_FALSE(c.time_status & STA_PPSJITTER);
    EXPECT_EQ(c.time_offset, lfp(-500001));  // median of {1000001, 500001, 0}
}

TEST_F(Pps, DoubleHitIgnored) {
    for (uint32_t opt : {kStrict, 0u}) {
        init(opt);
        edge_at(1, 0);
        const struct nk_time tf1 = c.pps_tf[1];
        edge_at(1, 200000000);  // another edge in the same second
        EXPECT_EQ(c.pps_tf[0].sec, kT0 + 1);
        EXPECT_EQ(c.pps_tf[0].nsec, 0);
        EXPECT_EQ(c.pps_tf[1].sec, tf1.sec);
        // kern_ntptime.c's counter has moved on (the next interval loses the
        // double hit's part); the default ignores the edge altogether
        EXPECT_EQ(c.pps_lastpcc, opt ? kP0 + kNs + 200000000 : kP0 + kNs);
        edge_at(1, 499999999);  // still the same second
        EXPECT_EQ(c.pps_tf[0].nsec, 0);
        edge_at(1, 500000000);  // rounds to the next second: taken
        EXPECT_EQ(c.pps_tf[0].sec, kT0 + 2);
        EXPECT_EQ(c.pps_tf[0].nsec, -500000000);
    }
}

TEST_F(PpsStrict, FrequencyDiscriminator) {
    pll_nano(STA_PPSFREQ);
    // PCC 10 ppm fast: each edge 1e9 + 10000 PCC ns apart.
    for (int k = 1; k <= 4; k++) edge(10000);
    EXPECT_EQ(c.pps_calcnt, 1);
    edge(10000);  // edge 5: 4 s since the first: calibrate
    EXPECT_EQ(c.pps_calcnt, 2);
    EXPECT_EQ(c.pps_errcnt, 1);
    // -(4 * 10000) ns over 4 s of 1e9 + 10000 PCC ns: -9999.9 ns/s (exact
    // units; kern_ntptime.c's -10000 ns/s would leave the clock y^2 slow)
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_LT(std::abs(static_cast<double>(kR10) / kFrac + 10000.0 / 1.00001), 1e-6);
    EXPECT_EQ(c.time_freq, kR10);  // STA_PPSFREQ
    EXPECT_EQ(c.pps_intcnt, 1);
    EXPECT_EQ(c.pps_stabil, 9999 * 65 / 4);  // |delta| (ns/s) * SCALE_PPM, EWMA 1/4
    struct __kernel_timex tx = mktx(0);
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(tx.ppsfreq, scaled_ppm(kR10));
    EXPECT_EQ(tx.ppsfreq, -655353);  // -9.9999 ppm << 16
    EXPECT_EQ(tx.freq, scaled_ppm(kR10));
    EXPECT_EQ(tx.stabil, 162483);
    for (int k = 0; k < 4; k++) edge(10000);
    EXPECT_EQ(c.pps_calcnt, 3);
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_EQ(c.pps_stabil, 162483 + ((0 - 162483) >> 2));
    EXPECT_EQ(c.pps_intcnt, 2);
}

TEST_F(PpsStrict, FrequencyWithoutPpsFreqLeavesTimeFreq) {
    pll_nano();
    for (int k = 0; k < 5; k++) edge(-2500);
    EXPECT_EQ(c.pps_freq, rate(10000, 4));  // 2500.006 ns/s
    EXPECT_EQ(c.time_freq, 0);
}

TEST_F(PpsStrict, WanderClampedToMaxwander) {
    pll_nano(STA_PPSFREQ);
    for (int k = 0; k < 5; k++) edge(500000);  // 500 ppm: at the range gate
    EXPECT_EQ(c.pps_calcnt, 2);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_EQ(c.pps_freq, lfp(-100000));  // one step of PPS_MAXWANDER
    EXPECT_TRUE(c.time_status & STA_PPSWANDER);
    EXPECT_EQ(c.pps_stbcnt, 1);
    EXPECT_EQ(c.pps_intcnt, -1);
    // |delta|: 500 ppm of PCC ns, 500250.1 ns/s
    EXPECT_EQ(c.pps_stabil, -(rate(-2000000, 4) / kFrac) * 65 / 4);
    EXPECT_EQ(adj(0), TIME_ERROR);  // PPSFREQ with PPSWANDER
    edge(500000);
    EXPECT_FALSE(c.time_status & STA_PPSWANDER);  // cleared at each edge
}

TEST_F(PpsStrict, ErrorOnWrongCalibrationInterval) {
    pll_nano(STA_PPSFREQ);
    for (int k = 0; k < 5; k++) edge(10000);
    ASSERT_EQ(c.pps_calcnt, 2);
    for (int k = 0; k < 3; k++) edge(10000);
    edge(kNs + 20000);  // edge 9 is lost: edge 10 ends a 5 s interval
    EXPECT_EQ(c.pps_calcnt, 3);
    EXPECT_EQ(c.pps_errcnt, 2);
    EXPECT_TRUE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_freq, kR10);  // unchanged
    EXPECT_EQ(c.pps_lastsec, kT0 + 10);
    EXPECT_EQ(adj(0), TIME_ERROR);
    for (int k = 0; k < 4; k++) edge(10000);  // 11..14: a good interval
    EXPECT_EQ(c.pps_calcnt, 4);
    EXPECT_EQ(c.pps_errcnt, 2);
    EXPECT_FALSE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_freq, kR10);
}

TEST_F(PpsStrict, ErrorOnFrequencyBeyondMaxfreq) {
    // |sum of (interval - 1 s)| over the interval must not exceed
    // MAXFREQ << pps_shift = 2000000 ns at pps_shift 2.
    for (uint32_t i = 0; i < 2; i++) {
        init(kStrict);
        epcc_ = kP0;
        pll_nano(STA_PPSFREQ);
        for (int k = 0; k < 8; k++) edge(0);
        ASSERT_EQ(c.pps_calcnt, 2);
        c.pps_fcount = i ? -2000001 : -2000000;  // as if the PCC was that fast
        edge(0);                                 // edge 9: calibration
        EXPECT_EQ(c.pps_calcnt, 3);
        EXPECT_EQ(c.pps_errcnt, i ? 2 : 1) << i;
        EXPECT_EQ(c.pps_freq, i ? 0 : lfp(100000)) << i;  // else one wander step
    }
}

TEST_F(PpsStrict, IntervalGrowsToShiftmaxUnderStableInput) {
    pll_nano(STA_PPSFREQ);
    for (int k = 1; k <= 1300; k++) edge(10000);
    // calibrations at edges 1 (error); 5,9,13,17; 25,33,41,49; 65..113 (16 s);
    // 145..241 (32 s); 305..497 (64 s); 625..1009 (128 s); 1265 (256 s)
    EXPECT_EQ(c.pps_shift, 8);
    EXPECT_EQ(c.pps_calcnt, 26);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_EQ(c.pps_intcnt, 1);  // one good interval at 256 s
    EXPECT_EQ(c.pps_stbcnt, 0);
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_EQ(c.pps_lastsec, kT0 + 1265);
}

TEST_F(PpsStrict, PpsMaxCapsTheInterval) {
    pll_nano(STA_PPSFREQ);
    struct __kernel_timex tx = mktx(NK_ADJ_PPSMAX);
    tx.shift = 4;
    adj(tx);
    for (int k = 1; k <= 1300; k++) edge(10000);
    EXPECT_EQ(c.pps_shift, 4);
    // 1 + 4 + 4 + calibrations at 65, 81, ..., 1297
    EXPECT_EQ(c.pps_calcnt, 87);
    EXPECT_EQ(c.pps_intcnt, 4);  // held at 4
    // Lowering shiftmax: FreeBSD shrinks only when the counter is below 4,
    // so under stable input the interval is held ...
    tx = mktx(NK_ADJ_PPSMAX);
    tx.shift = 2;
    adj(tx);
    for (int k = 0; k < 13; k++) edge(10000);  // 1301..1313: calibration at 1313
    EXPECT_EQ(c.pps_calcnt, 88);
    EXPECT_EQ(c.pps_shift, 4);
    // ... until a wander: then one step per calibration.
    for (int k = 0; k < 16; k++) edge(300000);  // 1314..1329: -300 ppm measured
    EXPECT_TRUE(c.time_status & STA_PPSWANDER);
    EXPECT_EQ(c.pps_shift, 3);
    EXPECT_EQ(c.pps_freq, kR10 - lfp(100000));
    for (int k = 0; k < 8; k++) edge(10000);  // 1330..1337: delta +100000, not above
    EXPECT_FALSE(c.time_status & STA_PPSWANDER);
    EXPECT_EQ(c.pps_shift, 2);
    EXPECT_EQ(c.pps_freq, kR10);
}

TEST_F(PpsStrict, IntervalShrinksUnderWander) {
    pll_nano(STA_PPSFREQ);
    struct __kernel_timex tx = mktx(NK_ADJ_PPSMAX);
    tx.shift = 4;
    adj(tx);
    while (!(c.pps_shift == 4 && c.pps_intcnt == 4)) edge(10000);
    const int64_t k0 = c.pps_calcnt;
    ASSERT_EQ(k0, 13);  // 1 + 4 (s=2) + 4 (s=3) + 4 (s=4)
    // Now the frequency swings +-300 ppm every calibration interval.
    std::vector<int> shifts;
    while (c.pps_calcnt < k0 + 14) {
        const int64_t n = c.pps_calcnt;
        edge(((n - k0) % 2) ? 300000 : -300000);
        if (c.pps_calcnt != n) {
            shifts.push_back(c.pps_shift);
            EXPECT_TRUE(c.time_status & STA_PPSWANDER);
        }
    }
    const std::vector<int> want = {4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2};
    EXPECT_EQ(shifts, want);
    EXPECT_EQ(c.pps_stbcnt, 14);
    EXPECT_EQ(c.pps_intcnt, -2);  // 0 after the shrink at #12, then -1, -2
    EXPECT_EQ(c.pps_errcnt, 1);
}

TEST_F(Pps, StatusFromEdgesAndTimeError) {
    pll_nano(STA_PPSFREQ | STA_PPSTIME);
    EXPECT_EQ(adj(0), TIME_ERROR);  // no signal yet
    c.pps_jitter = 1000;
    for (int k = 0; k < 8; k++) edge(0);
    EXPECT_EQ(c.time_status & (STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR),
              STA_PPSSIGNAL);
    EXPECT_EQ(adj(0), TIME_OK);
}

// ---- the default calibration (README.md, "Deviations") ----

TEST_F(Pps, FirstEdgeOpensNoIntervalAndCountsNoError) {
    edge_at(1, 100);
    EXPECT_EQ(c.pps_jitcnt, 1);  // {100, 0, 0}: popcorn, as strict
    EXPECT_EQ(c.pps_calcnt, 0);  // kern_ntptime.c: 1, and an error
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_FALSE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_fsecs, -1);
    edge_at(2, 100);  // {100, 100, 0}: spread 100, not above 25 << 2: accepted
    EXPECT_EQ(c.pps_jitcnt, 1);
    EXPECT_EQ(c.pps_fsecs, 0);  // starts the interval
    EXPECT_EQ(c.pps_lastsec, kT0 + 2);
    for (int k = 3; k <= 6; k++) edge_at(k, 100);
    EXPECT_EQ(c.pps_calcnt, 1);  // 4 s after edge 2
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_EQ(c.pps_freq, 0);
    EXPECT_EQ(c.pps_lastsec, kT0 + 6);
}

TEST_F(Pps, DefaultFrequencyDiscriminator) {
    pll_nano(STA_PPSFREQ);
    until_calibration(10000);
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_EQ(c.time_freq, kR10);
    until_calibration(10000);
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_EQ(c.pps_intcnt, 2);
    EXPECT_EQ(c.pps_dropcnt, 0);
}

// A latency spike on the edge that would close the interval: kern_ntptime.c
// takes that edge's PCC reading as the interval's end (the popcorn filter
// guards only the phase) and pps_freq moves by spike / 2^pps_shift; the
// default closes on the next accepted edge, one second later, and measures
// the 5 s that actually elapsed: pps_freq does not move.
TEST_F(Pps, SpikeOnTheClosingEdgeDoesNotMovePpsFreq) {
    for (uint32_t opt : {kStrict, 0u}) {
        init(opt);
        epcc_ = kP0;
        pll_nano(STA_PPSFREQ);
        until_calibration(0);
        until_calibration(0);
        ASSERT_EQ(c.pps_freq, 0);
        const int64_t n = c.pps_calcnt, jit = c.pps_jitcnt;
        for (int k = 0; k < 3; k++) edge(0);
        spike_edge(0, 50000);                     // the 4th edge: 50 us late
        EXPECT_EQ(c.pps_jitcnt, jit + 1) << opt;  // popcorn rejected its phase
        if (opt) {
            EXPECT_EQ(c.pps_calcnt, n + 1);
            // -50000 ns over 4 s: 12.5 us/s
            EXPECT_EQ(c.pps_freq, rate(-50000, 4));
            EXPECT_LT(c.pps_freq, lfp(-12000));
            continue;
        }
        EXPECT_EQ(c.pps_calcnt, n);  // not closed on the spike
        EXPECT_EQ(c.pps_fsecs, 4);
        edge(0);  // on time, accepted: closes 5 s after the start
        EXPECT_EQ(c.pps_calcnt, n + 1);
        EXPECT_EQ(c.pps_freq, 0);
        EXPECT_EQ(c.pps_errcnt, 0);
        EXPECT_EQ(c.pps_fsecs, 0);
        EXPECT_EQ(c.pps_lastsec, c.pps_tf[0].sec);
    }
}

// One lost edge inside an interval: kern_ntptime.c voids the interval
// (STA_PPSERROR, errcnt); the default counts the missing second from the PCC
// and measures over the 4 s that elapsed.
TEST_F(Pps, DroppedEdgeDoesNotVoidTheInterval) {
    for (uint32_t opt : {kStrict, 0u}) {
        init(opt);
        epcc_ = kP0;
        pll_nano(STA_PPSFREQ);
        until_calibration(10000);
        until_calibration(10000);
        ASSERT_EQ(c.pps_freq, kR10) << opt;
        const int64_t n = c.pps_calcnt, errs = c.pps_errcnt;
        edge(10000);
        drop(10000);
        edge(10000);
        edge(10000);  // 4 PPS periods since the last calibration
        EXPECT_EQ(c.pps_calcnt, n + 1) << opt;
        EXPECT_EQ(c.pps_freq, kR10) << opt;
        if (opt) {
            EXPECT_EQ(c.pps_errcnt, errs + 1);
            EXPECT_TRUE(c.time_status & STA_PPSERROR);
        } else {
            EXPECT_EQ(c.pps_errcnt, errs);
            EXPECT_FALSE(c.time_status & STA_PPSERROR);
            EXPECT_EQ(c.pps_dropcnt, 1);
            EXPECT_EQ(c.pps_intcnt, 3);  // a good interval
        }
    }
}

TEST_F(Pps, DroppedClosingEdgeMeasuresTheLongerInterval) {
    pll_nano(STA_PPSFREQ);
    until_calibration(10000);
    const int64_t n = c.pps_calcnt;
    for (int k = 0; k < 3; k++) edge(10000);
    drop(10000);  // the 4th edge is lost
    edge(10000);  // 5 s: closes, no error
    EXPECT_EQ(c.pps_calcnt, n + 1);
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_EQ(c.pps_freq, kR10);
    EXPECT_EQ(c.pps_dropcnt, 1);
}

// A genuinely wrong interval still counts: the clock stepped by 5 s inside
// it, so the labels disagree with the PCC count by more than a leap second.
TEST_F(Pps, ClockStepInsideTheIntervalIsAnError) {
    pll_nano(STA_PPSFREQ);
    until_calibration(0);
    const int64_t n = c.pps_calcnt;
    edge(0);
    struct nk_time t = now();
    pcc_ = epcc_;
    t = now();
    t.sec += 5;
    nk_settime(&c, epcc_, &t);
    for (int k = 0; k < 3; k++) edge(0);
    EXPECT_EQ(c.pps_calcnt, n + 1);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_TRUE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(adj(0), TIME_ERROR);  // PPSFREQ with PPSERROR
    until_calibration(0);           // the next interval is good
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_FALSE(c.time_status & STA_PPSERROR);
}

TEST_F(Pps, GapBeyondTheWatchdogRestartsTheInterval) {
    pll_nano(STA_PPSFREQ);
    until_calibration(10000);
    const int64_t n = c.pps_calcnt;
    edge(10000);
    for (int k = 0; k < 121; k++) drop(10000);
    edge(10000);  // 122 s gap: more than PPS_VALID, no interval open
    EXPECT_EQ(c.pps_fsecs, -1);
    EXPECT_EQ(c.pps_calcnt, n);
    EXPECT_EQ(c.pps_errcnt, 0);
    until_calibration(10000);
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_EQ(c.pps_freq, kR10);
}

TEST_F(Pps, NoAcceptedEdgeForTwiceTheIntervalIsAnError) {
    pll_nano(STA_PPSFREQ);
    until_calibration(0);
    const int64_t n = c.pps_calcnt;
    // the phase jumps by 600 us at every edge: all stopped by the range gate
    for (int k = 0; k < 7; k++) edge(k % 2 ? -600000 : 600000);
    EXPECT_EQ(c.pps_calcnt, n);
    EXPECT_EQ(c.pps_fsecs, 7);
    edge(600000);  // 8 = 2 x 2^pps_shift s without an accepted edge
    EXPECT_EQ(c.pps_calcnt, n + 1);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_TRUE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_fsecs, -1);
    EXPECT_EQ(c.pps_freq, 0);
}

TEST_F(Pps, DefaultIntervalGrowsToShiftmax) {
    pll_nano(STA_PPSFREQ);
    for (int k = 1; k <= 1400; k++) edge(10000);
    EXPECT_EQ(c.pps_shift, 8);
    EXPECT_EQ(c.pps_errcnt, 0);
    EXPECT_EQ(c.pps_stbcnt, 0);
    EXPECT_EQ(c.pps_freq, kR10);
}

// Exact rate at the limits of the discriminator and over long intervals
// (pps_shiftmax 10: 1024 s, a PCC length near 2^40 ns): nk_pps_rate's
// 64-bit long division against a 128-bit division. Closed loop on
// frequency (STA_PPSFREQ, ticks), so the phase stays inside the range gate.
TEST_F(Pps, ExactRateAtTheLimits) {
    for (uint32_t opt : {kStrict, 0u}) {
        for (int64_t dt : {-499000LL, -123457LL, -1LL, 1LL, 77777LL, 499000LL}) {
            init(opt);
            pll_nano(STA_PPSFREQ);
            struct __kernel_timex tx = mktx(NK_ADJ_PPSMAX);
            tx.shift = 10;
            adj(tx);
            uint64_t next_tick = static_cast<uint64_t>(c.next_second_pcc);
            for (int64_t k = 1; k <= 9000 && c.pps_shift < 10; k++) {
                const uint64_t e = kP0 + static_cast<uint64_t>(k * (kNs + dt));
                while (next_tick <= e) next_tick = tick_at(next_tick);
                nk_hardpps(&c, e);
            }
            ASSERT_EQ(c.pps_shift, 10) << opt << " " << dt;
            EXPECT_EQ(c.pps_freq, rate(-dt, 1)) << opt << " " << dt;
        }
    }
}

// Closed loop: the module's schedule (tick at each predicted boundary, PPS
// edges in between) with a PCC y = 50 ppm fast and noiseless edges at true
// seconds. The PCC interval is 1e9 (1 + y) PCC ns per true second; the PPS
// frequency must be -y / (1 + y) (ns/s << 32 per PCC second) for the clock
// to keep true time. kern_ntptime.c's -y left it running at
// (1 + y)(1 - y) = 1 - y^2, 2.5 ns/s slow, which the type-1 PPS phase loop
// held at -2.5 ns/s * 2^8 s = -640 ns. With the exact rate (both modes) the
// frequency is right to 2^-32 ns/s and the phase settles within the slope's
// rounding: a slope unit is 2^-32 ns per PCC ns (0.23 ns/s), rounded to
// nearest (0.12 ns/s), held by the loop at <= 0.12 ns/s * 2^8 s = 30 ns.
TEST_F(Pps, ClosedLoopAtFiftyPpmHasNoY2Bias) {
    for (uint32_t opt : {kStrict, 0u}) {
        init(opt);
        pll_nano(STA_PPSFREQ | STA_PPSTIME);
        const int64_t y = 50000;  // PCC ns per true second, fast
        uint64_t next_tick = static_cast<uint64_t>(c.next_second_pcc);
        int64_t err = 0;
        for (int64_t k = 1; k <= 4000; k++) {
            const uint64_t e = kP0 + static_cast<uint64_t>(k * (kNs + y));
            while (next_tick <= e) next_tick = tick_at(next_tick);
            nk_hardpps(&c, e);
            struct nk_time t;
            nk_read(&c, e, &t);
            err = (t.sec - (kT0 + k)) * kNs + t.nsec;
            if (k == 600) {
                EXPECT_LT(std::abs(err), 10000) << "not within 10 us after 10 minutes";
            }
        }
        // -y / (1 + y) = -49997.50012 ns/s, to one unit of 2^-32 ns/s
        EXPECT_EQ(c.time_freq, rate(-y, 1)) << opt;
        EXPECT_LT(std::abs(static_cast<double>(c.time_freq) / kFrac + 5e4 / 1.00005), 1e-9);
        EXPECT_EQ(c.pps_shift, 8);
        EXPECT_LE(std::abs(err), 30) << opt;  // kern_ntptime.c: -640 ns
    }
}

// A run of spikes where the interval is due: one 50 us spike inflates
// pps_jitter, so the popcorn filter lets the next ones through (and with two
// spikes among three samples the median is a spike); the end-edge test
// (nk_pps_endpoint) compares each edge with the last clean one, so the
// interval still ends on the first clean edge after the run.
TEST_F(Pps, RunOfSpikesAtTheClosingEdgeDoesNotMovePpsFreq) {
    pll_nano(STA_PPSFREQ);
    until_calibration(0);
    until_calibration(0);
    ASSERT_EQ(c.pps_freq, 0);
    const int64_t n = c.pps_calcnt, jit = c.pps_jitcnt;
    for (int k = 0; k < 3; k++) edge(0);
    for (int k = 0; k < 3; k++) spike_edge(0, 50000 - 300 * k);
    EXPECT_EQ(c.pps_jitcnt, jit + 1);  // popcorn rejected only the first
    EXPECT_EQ(c.pps_calcnt, n);        // none of them ended the interval
    EXPECT_EQ(c.pps_fsecs, 6);
    edge(0);
    EXPECT_EQ(c.pps_calcnt, n + 1);
    EXPECT_EQ(c.pps_freq, 0);
    EXPECT_EQ(c.pps_errcnt, 0);
}

// A genuine phase step (here 100 us, with +-1 us of jitter) inside an open
// interval: the end-edge gate widens by x 1.75 per edge and the interval
// ends a few edges late, without an error; the frequency is unchanged.
TEST_F(Pps, EndEdgeGateFollowsAPhaseStep) {
    pll_nano(STA_PPSFREQ);
    for (int k = 0; k < 3; k++) until_calibration(k % 2 ? 1000 : -1000);
    int64_t k = 0;
    until_calibration(++k % 2 ? 2000 : -2000);
    const int64_t n = c.pps_calcnt, errs = c.pps_errcnt;
    edge(100000);  // the phase steps by 100 us and stays
    for (int i = 0; i < 12; i++) edge(++k % 2 ? 2000 : -2000);
    EXPECT_EQ(c.pps_calcnt, n + 1);
    EXPECT_EQ(c.pps_errcnt, errs);
    until_calibration(++k % 2 ? 2000 : -2000);
    EXPECT_EQ(c.pps_errcnt, errs);
    EXPECT_LT(std::abs(c.pps_freq), lfp(600));  // only the jitter's share
}
