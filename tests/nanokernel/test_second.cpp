// The tick and second overflow: maxerror, phase amortisation, adjtime slew,
// ADJ_TICK, the PPS watchdog, the leap second state machine.
#include "nk_test.hpp"

using namespace nktest;

using Second = Clock;

TEST_F(Second, MaxerrorGrowsByTolerance) {
    tick_at(kP0 + kNs / 2);  // no boundary crossed
    EXPECT_EQ(c.time_maxerror, 500000);
    tick_at(kP0 + kNs);
    EXPECT_EQ(c.time_maxerror, 500500);
    tick_at(kP0 + 5 * kNs + kNs / 2);  // 4 more boundaries in one tick
    EXPECT_EQ(c.time_maxerror, 502500);
}

TEST_F(Second, PhaseLimitSetsUnsync) {
    pll_nano();
    struct __kernel_timex tx = mktx(ADJ_MAXERROR);
    tx.maxerror = 15999000;
    adj(tx);
    tick_seconds(1);
    EXPECT_EQ(c.time_maxerror, 15999500);
    EXPECT_EQ(adj(0), TIME_OK);
    tick_seconds(1);
    EXPECT_EQ(c.time_maxerror, 16000000);
    EXPECT_EQ(adj(0), TIME_OK);  // at the limit, not past it
    tick_seconds(1);
    EXPECT_EQ(c.time_maxerror, 16000000);
    EXPECT_TRUE(c.time_status & STA_UNSYNC);
    EXPECT_EQ(adj(0), TIME_ERROR);
}

TEST_F(Second, LargeStepAgesEverySecond) {
    tick_at(kP0 + 1000 * kNs);
    EXPECT_EQ(c.time_maxerror, 500000 + 1000 * 500);
    EXPECT_EQ(now().sec, kT0 + 1000);
    tick_at(kP0 + 100000 * kNs);  // 99000 s more: past the phase limit
    EXPECT_EQ(c.time_maxerror, 16000000);
    EXPECT_EQ(now().sec, kT0 + 100000);
}

TEST_F(Second, PllPhaseAmortisedBy2PowShiftPllPlusTc) {
    pll_nano();
    offset(1600000);
    tick_seconds(1);
    // 1.6 ms >> SHIFT_PLL (4): 100 us in the next second
    EXPECT_EQ(c.time_adj, lfp(100000));
    EXPECT_EQ(c.time_offset, lfp(1500000));
    // slope 2^32 + round(1e5 * 2^32 / 1e9) = 2^32 + 429497
    EXPECT_EQ(c.tb.mult, (uint64_t{1} << 32) + 429497);
    struct nk_time t;
    nk_read(&c, pcc_ + kNs, &t);  // 1e9 * 429497 / 2^32 = 100000.06 ns gained
    EXPECT_EQ(t.sec, kT0 + 2);
    EXPECT_EQ(t.nsec, 100000);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(93750));  // 1.5 ms / 16
    EXPECT_EQ(c.time_offset, lfp(1406250));
    struct __kernel_timex tx = mktx(0);
    adj(tx);
    EXPECT_EQ(tx.offset, 1406250);
}

TEST_F(Second, TimeConstantSlowsAmortisation) {
    pll_nano();
    struct __kernel_timex tx = mktx(ADJ_TIMECONST);
    tx.constant = 3;
    adj(tx);
    offset(1600000);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(12500));  // 1.6 ms >> 7
}

TEST_F(Second, LinuxShiftPll) {
    init(NK_OPT_LINUX_SHIFT_PLL);
    pll_nano();
    offset(1600000);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(400000));  // 1.6 ms >> 2
}

TEST_F(Second, PhaseChunkRoundsTowardZero) {
    pll_nano();
    c.time_offset = -17;  // l_fp units (2^-32 ns)
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, -1);  // -(17 >> 4), not -17 >> 4 = -2
    EXPECT_EQ(c.time_offset, -16);
    c.time_offset = 17;
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, 1);
    EXPECT_EQ(c.time_offset, 16);
}

TEST_F(Second, FrequencyEntersTheSlope) {
    struct __kernel_timex tx = mktx(ADJ_FREQUENCY);
    tx.freq = -(250 << 16);  // -250 ppm
    adj(tx);
    EXPECT_EQ(c.tb.mult, uint64_t{1} << 32);  // from the next second on
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-250000));
    // 2^32 - 0.00025 * 2^32 = 2^32 - 1073741.824 -> - 1073742
    EXPECT_EQ(c.tb.mult, (uint64_t{1} << 32) - 1073742);
}

TEST_F(Second, PpsPhaseAmortisedByPpsShift) {
    pll_nano(STA_PPSTIME);
    c.time_status |= STA_PPSSIGNAL;
    c.pps_valid = 100;
    c.pps_shift = 3;
    c.time_offset = lfp(-800);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-100));
    EXPECT_EQ(c.time_offset, lfp(-700));
    // without the signal the PLL shift applies
    c.time_status &= ~STA_PPSSIGNAL;
    c.time_offset = lfp(-800);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-50));
}

TEST_F(Second, LinuxPpsPhaseAppliedAtOnce) {
    init(NK_OPT_LINUX_PPS_PHASE);
    pll_nano(STA_PPSTIME);
    c.time_status |= STA_PPSSIGNAL;
    c.pps_valid = 100;
    c.pps_shift = 3;
    c.time_offset = lfp(-800);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-800));
    EXPECT_EQ(c.time_offset, 0);
}

TEST_F(Second, AdjtimeSlewRates) {
    struct __kernel_timex tx = mktx(NK_ADJ_OFFSET_SINGLESHOT);
    tx.offset = 1002300;  // us
    adj(tx);
    tick_seconds(1);  // over 1 s left: 5000 us/s
    EXPECT_EQ(c.time_adj, lfp(5000000));
    EXPECT_EQ(c.time_adjtime, 997300);
    // 2^32 + round(0.005 * 2^32) = 2^32 + 21474836; a PCC second gains
    // 1e9 * 21474836 / 2^32 = 4999999.89 ns
    struct nk_time t;
    nk_read(&c, pcc_ + kNs, &t);
    EXPECT_EQ(t.nsec, 4999999);
    tick_seconds(1);  // 500 us/s
    EXPECT_EQ(c.time_adj, lfp(500000));
    EXPECT_EQ(c.time_adjtime, 996800);
    c.time_adjtime = 300;  // the final remainder
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(300000));
    EXPECT_EQ(c.time_adjtime, 0);
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, 0);
    c.time_adjtime = -1000001;
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-5000000));
    EXPECT_EQ(c.time_adjtime, -995001);
    c.time_adjtime = -200;
    tick_seconds(1);
    EXPECT_EQ(c.time_adj, lfp(-200000));
    EXPECT_EQ(c.time_adjtime, 0);
}

TEST_F(Second, WatchdogFreeBSD) {
    nk_hardpps(&c, kP0);
    const int status = c.time_status;
    ASSERT_TRUE(status & STA_PPSSIGNAL);
    EXPECT_EQ(c.pps_valid, 120);
    tick_seconds(120);
    EXPECT_EQ(c.pps_valid, 0);
    EXPECT_EQ(c.time_status, status);
    tick_seconds(1);
    EXPECT_EQ(c.time_status, status & ~STA_PPSSIGNAL);  // only that bit
}

TEST_F(Second, WatchdogLinux) {
    init(NK_OPT_LINUX_PPS_VALID);
    nk_hardpps(&c, kP0);
    c.pps_freq = lfp(12);
    c.pps_shift = 5;
    c.time_status |= STA_PPSWANDER | STA_PPSERROR;
    EXPECT_EQ(c.pps_valid, 10);
    tick_seconds(10);
    EXPECT_TRUE(c.time_status & STA_PPSSIGNAL);
    tick_seconds(1);
    EXPECT_EQ(c.time_status & (STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR), 0);
    EXPECT_EQ(c.pps_freq, 0);
    EXPECT_EQ(c.pps_shift, NK_PPS_FAVG);
    EXPECT_EQ(c.pps_lastpcc, 0u);
}

TEST_F(Second, WatchdogAcrossLateTicks) {
    nk_hardpps(&c, kP0);
    tick_at(kP0 + 120 * kNs + 5);
    EXPECT_TRUE(c.time_status & STA_PPSSIGNAL);
    tick_at(kP0 + 121 * kNs + 5);
    EXPECT_FALSE(c.time_status & STA_PPSSIGNAL);
    nk_hardpps(&c, pcc_);
    tick_at(pcc_ + 5000 * kNs);  // beyond NK_LARGE_STEP
    EXPECT_FALSE(c.time_status & STA_PPSSIGNAL);
}

// ---- leap seconds ----

// 2017-01-01 00:00:00 UTC, a real leap second: 17167 * 86400.
constexpr int64_t kMidnight = 1483228800;

class Leap : public Clock {
  protected:
    void start(int sta, int64_t midnight = kMidnight) {
        init(0, midnight - 3);  // 23:59:57.0
        pll_nano(sta);
        struct __kernel_timex tx = mktx(ADJ_TAI);
        tx.constant = 37;
        adj(tx);
    }
    struct nk_ntptime gettime(uint64_t pcc) {
        struct nk_ntptime nt;
        nk_gettime(&c, pcc, &nt);
        return nt;
    }
    void status(int sta) {
        struct __kernel_timex tx = mktx(ADJ_STATUS);
        tx.status = sta;
        adj(tx);
    }
};

TEST_F(Leap, InsertAcrossMidnight) {
    start(STA_INS);
    EXPECT_EQ(adj(0), TIME_OK);
    tick_at(kP0 + kNs / 2);
    EXPECT_EQ(adj(0), TIME_OK);
    tick_at(kP0 + kNs);  // 23:59:58: armed
    EXPECT_EQ(adj(0), TIME_INS);
    tick_at(kP0 + 2 * kNs);  // 23:59:59: not yet
    EXPECT_EQ(adj(0), TIME_INS);
    EXPECT_EQ(now().sec, kMidnight - 1);
    tick_at(kP0 + 3 * kNs);  // midnight: 23:59:59 again, as 23:59:60
    EXPECT_EQ(now().sec, kMidnight - 1);
    EXPECT_EQ(now().nsec, 0);
    EXPECT_EQ(c.time_tai, 38);
    struct nk_ntptime nt = gettime(kP0 + 3 * kNs + kNs / 2);
    EXPECT_EQ(nt.state, TIME_OOP);
    EXPECT_EQ(nt.time.sec, kMidnight - 1);
    EXPECT_EQ(nt.time.nsec, 500000000);
    EXPECT_EQ(nt.tai, 38);
    EXPECT_EQ(adj(0), TIME_OOP);
    tick_at(kP0 + 4 * kNs);  // the leap second is over
    EXPECT_EQ(now().sec, kMidnight);
    nt = gettime(pcc_);
    EXPECT_EQ(nt.state, TIME_WAIT);
    EXPECT_EQ(nt.tai, 38);
    tick_at(kP0 + 5 * kNs);
    EXPECT_EQ(adj(0), TIME_WAIT);  // until the daemon clears STA_INS
    status(STA_PLL);
    EXPECT_EQ(adj(0), TIME_WAIT);
    tick_at(kP0 + 6 * kNs);
    EXPECT_EQ(adj(0), TIME_OK);
    EXPECT_EQ(now().sec, kMidnight + 2);  // 6 PCC seconds from 23:59:57, one repeated
}

TEST_F(Leap, InsertViewBeforeTheTick) {
    start(STA_INS);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    ASSERT_EQ(c.time_state, TIME_INS);
    // Past midnight but no tick yet: raw read 00:00:00.2, the ntp view 23:59:60.2
    struct nk_time raw;
    nk_read(&c, kP0 + 3 * kNs + 200000000, &raw);
    EXPECT_EQ(raw.sec, kMidnight);
    struct nk_ntptime nt = gettime(kP0 + 3 * kNs + 200000000);
    EXPECT_EQ(nt.state, TIME_OOP);
    EXPECT_EQ(nt.time.sec, kMidnight - 1);
    EXPECT_EQ(nt.time.nsec, 200000000);
    EXPECT_EQ(nt.tai, 38);
    pcc_ = kP0 + 3 * kNs + 200000000;
    struct __kernel_timex tx = mktx(ADJ_NANO);
    EXPECT_EQ(adj(tx), TIME_OOP);
    EXPECT_EQ(tx.time.tv_sec, kMidnight - 1);
    EXPECT_EQ(tx.time.tv_usec, 200000000);
    EXPECT_EQ(tx.tai, 38);
    EXPECT_EQ(c.time_tai, 37);  // nothing changed yet
    // A second later, still no tick: after the leap
    nt = gettime(kP0 + 4 * kNs + 200000000);
    EXPECT_EQ(nt.state, TIME_WAIT);
    EXPECT_EQ(nt.time.sec, kMidnight);
    EXPECT_EQ(nt.tai, 38);
    // The late tick does what the view showed.
    tick_at(kP0 + 4 * kNs + 200000000);
    EXPECT_EQ(c.time_state, TIME_WAIT);
    EXPECT_EQ(c.time_tai, 38);
    EXPECT_EQ(now().sec, kMidnight);
    EXPECT_EQ(now().nsec, 200000000);
}

TEST_F(Leap, DeleteAcrossMidnight) {
    start(STA_DEL);
    tick_at(kP0 + kNs);  // 23:59:58: armed
    EXPECT_EQ(adj(0), TIME_DEL);
    // before the tick at 23:59:59 the view already skips it
    struct nk_ntptime nt = gettime(kP0 + 2 * kNs + 300000000);
    EXPECT_EQ(nt.state, TIME_WAIT);
    EXPECT_EQ(nt.time.sec, kMidnight);
    EXPECT_EQ(nt.tai, 36);
    tick_at(kP0 + 2 * kNs);  // 23:59:59 is deleted: 00:00:00
    EXPECT_EQ(now().sec, kMidnight);
    EXPECT_EQ(now().nsec, 0);
    EXPECT_EQ(c.time_tai, 36);
    EXPECT_EQ(adj(0), TIME_WAIT);
    status(STA_PLL);
    tick_at(kP0 + 3 * kNs);
    EXPECT_EQ(adj(0), TIME_OK);
    EXPECT_EQ(now().sec, kMidnight + 1);
}

TEST_F(Leap, InsertCancelledBeforeMidnight) {
    start(STA_INS);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    ASSERT_EQ(c.time_state, TIME_INS);
    status(STA_PLL);                                        // withdrawn in the last second
    EXPECT_EQ(gettime(kP0 + 3 * kNs + 1).state, TIME_INS);  // view: no leap pending
    EXPECT_EQ(gettime(kP0 + 3 * kNs + 1).time.sec, kMidnight);
    tick_at(kP0 + 3 * kNs);
    EXPECT_EQ(c.time_state, TIME_OK);
    EXPECT_EQ(now().sec, kMidnight);
    EXPECT_EQ(c.time_tai, 37);
}

TEST_F(Leap, DeleteCancelled) {
    start(STA_DEL);
    tick_at(kP0 + kNs);
    ASSERT_EQ(c.time_state, TIME_DEL);
    status(STA_PLL);
    tick_at(kP0 + 2 * kNs);
    EXPECT_EQ(c.time_state, TIME_OK);
    EXPECT_EQ(now().sec, kMidnight - 1);
    EXPECT_EQ(c.time_tai, 37);
}

TEST_F(Leap, OopEndsEvenIfInsWithdrawn) {
    start(STA_INS);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    tick_at(kP0 + 3 * kNs);
    ASSERT_EQ(c.time_state, TIME_OOP);
    status(STA_PLL);
    EXPECT_EQ(adj(0), TIME_OOP);
    tick_at(kP0 + 4 * kNs);
    EXPECT_EQ(c.time_state, TIME_WAIT);
    tick_at(kP0 + 5 * kNs);
    EXPECT_EQ(c.time_state, TIME_OK);
}

TEST_F(Leap, WaitHoldsWhileDelSet) {
    start(STA_DEL);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    ASSERT_EQ(c.time_state, TIME_WAIT);
    status(STA_PLL | STA_INS);  // INS alone also holds WAIT
    tick_at(kP0 + 3 * kNs);
    EXPECT_EQ(c.time_state, TIME_WAIT);
    status(STA_PLL);
    tick_at(kP0 + 4 * kNs);
    EXPECT_EQ(c.time_state, TIME_OK);
}

TEST_F(Leap, NoLeapAwayFromMidnight) {
    init(0, kMidnight + 3600 - 3);  // 00:59:57
    pll_nano(STA_INS | STA_DEL);    // INS wins
    tick_seconds(10);
    EXPECT_EQ(c.time_state, TIME_INS);
    EXPECT_EQ(now().sec, kMidnight + 3600 + 7);
}

TEST_F(Leap, InsertBeyond2106) {
    const int64_t m = 4295030400LL;  // 49711 * 86400 > 2^32
    start(STA_INS, m);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    tick_at(kP0 + 3 * kNs);
    EXPECT_EQ(c.time_state, TIME_OOP);
    EXPECT_EQ(now().sec, m - 1);
    tick_at(kP0 + 4 * kNs);
    EXPECT_EQ(now().sec, m);
    EXPECT_EQ(c.time_tai, 38);
}

TEST_F(Leap, InsertBeforeEpochMidnight) {
    // negative seconds: -86400 is a UTC midnight too
    start(STA_INS, -86400);
    tick_at(kP0 + kNs);
    tick_at(kP0 + 2 * kNs);
    tick_at(kP0 + 3 * kNs);
    EXPECT_EQ(c.time_state, TIME_OOP);
    EXPECT_EQ(now().sec, -86401);
}
