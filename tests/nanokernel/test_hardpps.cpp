// hardpps: the PPS discipline (FreeBSD hardpps()).
//
// The clock is left at its nominal slope (no ticks) unless said otherwise,
// so an edge at PCC kP0 + k s + d reads kT0 + k s + d: the phase is d.
#include <array>
#include <cstdlib>
#include <vector>

#include "nk_test.hpp"

using namespace nktest;

class Pps : public Clock {
  protected:
    // Edge k of a PCC whose seconds are 1e9 + dt ns long (dt: ns per s fast).
    void edge(int64_t dt = 0) {
        epcc_ += static_cast<uint64_t>(kNs + dt);
        nk_hardpps(&c, epcc_);
    }
    // Edge in clock second k at phase @phase ns.
    void edge_at(int64_t k, int64_t phase) {
        epcc_ = kP0 + static_cast<uint64_t>(k * kNs + phase);
        nk_hardpps(&c, epcc_);
    }
    void ppstime(int extra = 0) { pll_nano(STA_PPSTIME | extra); }
    uint64_t epcc_ = kP0;
};

TEST_F(Pps, FirstEdge) {
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
    edge_at(1, 0);
    const struct nk_time tf1 = c.pps_tf[1];
    edge_at(1, 200000000);  // another edge in the same second
    EXPECT_EQ(c.pps_tf[0].sec, kT0 + 1);
    EXPECT_EQ(c.pps_tf[0].nsec, 0);
    EXPECT_EQ(c.pps_tf[1].sec, tf1.sec);
    EXPECT_EQ(c.pps_lastpcc, kP0 + kNs + 200000000);
    edge_at(1, 499999999);  // still the same second
    EXPECT_EQ(c.pps_tf[0].nsec, 0);
    edge_at(1, 500000000);  // rounds to the next second: taken
    EXPECT_EQ(c.pps_tf[0].sec, kT0 + 2);
    EXPECT_EQ(c.pps_tf[0].nsec, -500000000);
}

TEST_F(Pps, FrequencyDiscriminator) {
    pll_nano(STA_PPSFREQ);
    // PCC 10 ppm fast: each edge 1e9 + 10000 PCC ns apart.
    for (int k = 1; k <= 4; k++) edge(10000);
    EXPECT_EQ(c.pps_calcnt, 1);
    edge(10000);  // edge 5: 4 s since the first: calibrate
    EXPECT_EQ(c.pps_calcnt, 2);
    EXPECT_EQ(c.pps_errcnt, 1);
    // -(4 * 10000) ns over 4 s: -10000 ns/s
    EXPECT_EQ(c.pps_freq, lfp(-10000));
    EXPECT_EQ(c.time_freq, lfp(-10000));  // STA_PPSFREQ
    EXPECT_EQ(c.pps_intcnt, 1);
    EXPECT_EQ(c.pps_stabil, 10000 * 65 / 4);  // |delta| * SCALE_PPM, EWMA 1/4
    struct __kernel_timex tx = mktx(0);
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(tx.ppsfreq, -(10 << 16));
    EXPECT_EQ(tx.freq, -(10 << 16));
    EXPECT_EQ(tx.stabil, 162500);
    for (int k = 0; k < 4; k++) edge(10000);
    EXPECT_EQ(c.pps_calcnt, 3);
    EXPECT_EQ(c.pps_freq, lfp(-10000));
    EXPECT_EQ(c.pps_stabil, 162500 - 162500 / 4);
    EXPECT_EQ(c.pps_intcnt, 2);
}

TEST_F(Pps, FrequencyWithoutPpsFreqLeavesTimeFreq) {
    pll_nano();
    for (int k = 0; k < 5; k++) edge(-2500);
    EXPECT_EQ(c.pps_freq, lfp(2500));
    EXPECT_EQ(c.time_freq, 0);
}

TEST_F(Pps, WanderClampedToMaxwander) {
    pll_nano(STA_PPSFREQ);
    for (int k = 0; k < 5; k++) edge(500000);  // 500 ppm: at the range gate
    EXPECT_EQ(c.pps_calcnt, 2);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_EQ(c.pps_freq, lfp(-100000));  // one step of PPS_MAXWANDER
    EXPECT_TRUE(c.time_status & STA_PPSWANDER);
    EXPECT_EQ(c.pps_stbcnt, 1);
    EXPECT_EQ(c.pps_intcnt, -1);
    EXPECT_EQ(c.pps_stabil, 500000 * 65 / 4);
    EXPECT_EQ(adj(0), TIME_ERROR);  // PPSFREQ with PPSWANDER
    edge(500000);
    EXPECT_FALSE(c.time_status & STA_PPSWANDER);  // cleared at each edge
}

TEST_F(Pps, ErrorOnWrongCalibrationInterval) {
    pll_nano(STA_PPSFREQ);
    for (int k = 0; k < 5; k++) edge(10000);
    ASSERT_EQ(c.pps_calcnt, 2);
    for (int k = 0; k < 3; k++) edge(10000);
    edge(kNs + 20000);  // edge 9 is lost: edge 10 ends a 5 s interval
    EXPECT_EQ(c.pps_calcnt, 3);
    EXPECT_EQ(c.pps_errcnt, 2);
    EXPECT_TRUE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_freq, lfp(-10000));  // unchanged
    EXPECT_EQ(c.pps_lastsec, kT0 + 10);
    EXPECT_EQ(adj(0), TIME_ERROR);
    for (int k = 0; k < 4; k++) edge(10000);  // 11..14: a good interval
    EXPECT_EQ(c.pps_calcnt, 4);
    EXPECT_EQ(c.pps_errcnt, 2);
    EXPECT_FALSE(c.time_status & STA_PPSERROR);
    EXPECT_EQ(c.pps_freq, lfp(-10000));
}

TEST_F(Pps, ErrorOnFrequencyBeyondMaxfreq) {
    // |sum of (interval - 1 s)| over the interval must not exceed
    // MAXFREQ << pps_shift = 2000000 ns at pps_shift 2.
    for (uint32_t i = 0; i < 2; i++) {
        init(0);
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

TEST_F(Pps, IntervalGrowsToShiftmaxUnderStableInput) {
    pll_nano(STA_PPSFREQ);
    for (int k = 1; k <= 1300; k++) edge(10000);
    // calibrations at edges 1 (error); 5,9,13,17; 25,33,41,49; 65..113 (16 s);
    // 145..241 (32 s); 305..497 (64 s); 625..1009 (128 s); 1265 (256 s)
    EXPECT_EQ(c.pps_shift, 8);
    EXPECT_EQ(c.pps_calcnt, 26);
    EXPECT_EQ(c.pps_errcnt, 1);
    EXPECT_EQ(c.pps_intcnt, 1);  // one good interval at 256 s
    EXPECT_EQ(c.pps_stbcnt, 0);
    EXPECT_EQ(c.pps_freq, lfp(-10000));
    EXPECT_EQ(c.pps_lastsec, kT0 + 1265);
}

TEST_F(Pps, PpsMaxCapsTheInterval) {
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
    EXPECT_EQ(c.pps_freq, lfp(-110000));
    for (int k = 0; k < 8; k++) edge(10000);  // 1330..1337: delta +100000, not above
    EXPECT_FALSE(c.time_status & STA_PPSWANDER);
    EXPECT_EQ(c.pps_shift, 2);
    EXPECT_EQ(c.pps_freq, lfp(-10000));
}

TEST_F(Pps, IntervalShrinksUnderWander) {
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

// Closed loop: the module's schedule (tick at each predicted boundary, PPS
// edges in between) with a PCC y = 50 ppm fast and noiseless edges at true
// seconds. The PPS frequency is exactly -y (the PCC interval, in nominal ns,
// is 1e9 (1 + y)), so the clock runs at (1 + y)(1 - y) = 1 - y^2: 2.5 ns/s
// slow. The PPS phase loop removes 1/2^pps_shift of the phase each second,
// a type-1 loop: it settles at -2.5 ns/s * 2^8 s = -640 ns (FreeBSD's
// arithmetic has the same second-order term).
TEST_F(Pps, ClosedLoopSettlesWhereTheAlgorithmSays) {
    pll_nano(STA_PPSFREQ | STA_PPSTIME);
    const int64_t y = 50000;  // PCC ns per true second, fast
    uint64_t next_tick = static_cast<uint64_t>(c.next_second_pcc);
    int64_t err = 0;
    for (int64_t k = 1; k <= 3000; k++) {
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
    EXPECT_EQ(c.time_freq, lfp(-50000));
    EXPECT_EQ(c.pps_shift, 8);
    EXPECT_GE(err, -650);
    EXPECT_LE(err, -630);
}
