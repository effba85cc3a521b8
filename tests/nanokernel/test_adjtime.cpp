// ntp_adjtime: every mode, validation, clamps, the reply, TIME_* states.
#include <initializer_list>
#include <utility>

#include "nk_test.hpp"

using namespace nktest;

using Adjtime = Clock;

TEST_F(Adjtime, ReadAtBootReportsBootValues) {
    pcc_ = kP0 + 1500000;  // 1.5 ms later
    struct __kernel_timex tx = mktx(0);
    EXPECT_EQ(adj(tx), TIME_ERROR);  // STA_UNSYNC at boot
    EXPECT_EQ(tx.offset, 0);
    EXPECT_EQ(tx.freq, 0);
    EXPECT_EQ(tx.maxerror, 500000);
    EXPECT_EQ(tx.esterror, 500000);
    EXPECT_EQ(tx.status, STA_UNSYNC);
    EXPECT_EQ(tx.constant, 0);
    EXPECT_EQ(tx.precision, 0);  // 1 ns in us
    EXPECT_EQ(tx.tolerance, 500 << 16);
    EXPECT_EQ(tx.tick, 10000);
    EXPECT_EQ(tx.ppsfreq, 0);
    EXPECT_EQ(tx.jitter, 0);
    EXPECT_EQ(tx.shift, NK_PPS_FAVG);
    EXPECT_EQ(tx.stabil, 0);
    EXPECT_EQ(tx.jitcnt, 0);
    EXPECT_EQ(tx.calcnt, 0);
    EXPECT_EQ(tx.errcnt, 0);
    EXPECT_EQ(tx.stbcnt, 0);
    EXPECT_EQ(tx.tai, 0);
    EXPECT_EQ(tx.time.tv_sec, kT0);
    EXPECT_EQ(tx.time.tv_usec, 1500);  // us without STA_NANO
    EXPECT_EQ(c.pps_shiftmax, NK_PPS_FAVGDEF);
}

TEST_F(Adjtime, TimeInNanoseconds) {
    pcc_ = kP0 + 1500123;
    struct __kernel_timex tx = mktx(ADJ_NANO);
    adj(tx);
    EXPECT_EQ(tx.time.tv_usec, 1500123);
    EXPECT_EQ(tx.precision, 1);
}

// ---- validation (Linux timekeeping_validate_timex) ----

TEST(Validate, AdjtimeNeedsSingleshotBit) {
    struct __kernel_timex tx = mktx(NK_ADJ_ADJTIME);
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.modes = NK_ADJ_OFFSET_SINGLESHOT;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.modes = NK_ADJ_OFFSET_SS_READ;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    EXPECT_EQ(NK_ADJ_OFFSET_SINGLESHOT, 0x8001);
    EXPECT_EQ(NK_ADJ_OFFSET_SS_READ, 0xa001);
}

TEST(Validate, TickRange) {
    struct __kernel_timex tx = mktx(ADJ_TICK);
    for (long long t : {8999LL, 11001LL, 0LL, -10000LL}) {
        tx.tick = t;
        EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL) << t;
    }
    for (long long t : {9000LL, 10000LL, 11000LL}) {
        tx.tick = t;
        EXPECT_EQ(nk_adjtime_validate(&tx), 0) << t;
    }
}

TEST(Validate, SetoffsetFraction) {
    struct __kernel_timex tx = mktx(ADJ_SETOFFSET);
    tx.time.tv_usec = -1;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.time.tv_usec = 999999;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.time.tv_usec = 1000000;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.modes |= ADJ_NANO;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.time.tv_usec = 999999999;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.time.tv_usec = 1000000000;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
}

TEST(Validate, FrequencyMustNotOverflowWhenScaled) {
    // LLONG_MAX / 65536000 = 2^47 / 1000 - 1 / 65536000 -> 140737488355
    struct __kernel_timex tx = mktx(ADJ_FREQUENCY);
    tx.freq = 140737488355LL;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.freq = 140737488356LL;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.freq = -140737488355LL;
    EXPECT_EQ(nk_adjtime_validate(&tx), 0);
    tx.freq = -140737488356LL;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.freq = INT64_MAX;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
    tx.freq = INT64_MIN;
    EXPECT_EQ(nk_adjtime_validate(&tx), -NK_EINVAL);
}

TEST_F(Adjtime, InvalidChangesNothing) {
    struct __kernel_timex tx = mktx(ADJ_STATUS | ADJ_MAXERROR | ADJ_FREQUENCY);
    tx.status = STA_PLL;
    tx.maxerror = 7;
    tx.freq = INT64_MAX;
    EXPECT_EQ(adj(tx), -NK_EINVAL);
    EXPECT_EQ(c.time_status, STA_UNSYNC);
    EXPECT_EQ(c.time_maxerror, 500000);
    EXPECT_EQ(c.time_freq, 0);
}

// ---- FREQUENCY ----

TEST_F(Adjtime, FrequencyScaledPpmToNsPerSecond) {
    struct __kernel_timex tx = mktx(ADJ_FREQUENCY);
    tx.freq = 100 << 16;  // 100 ppm
    adj(tx);
    EXPECT_EQ(c.time_freq, lfp(100000));  // 100000 ns/s << 32
    EXPECT_EQ(c.pps_freq, lfp(100000));
    EXPECT_EQ(tx.freq, 100 << 16);
    EXPECT_EQ(tx.ppsfreq, 100 << 16);

    tx = mktx(ADJ_FREQUENCY);
    tx.freq = 1;  // 2^-16 ppm = 0.0152587890625 ns/s = 65536000 / 2^32
    adj(tx);
    EXPECT_EQ(c.time_freq, 65536000);
    EXPECT_EQ(tx.freq, 1);
    tx = mktx(ADJ_FREQUENCY);
    tx.freq = -1;
    adj(tx);
    EXPECT_EQ(c.time_freq, -65536000);
    EXPECT_EQ(tx.freq, -1);
}

TEST_F(Adjtime, FrequencyClampsAtMaxfreq) {
    struct __kernel_timex tx;
    for (long long ppm : {499LL, -499LL}) {
        tx = mktx(ADJ_FREQUENCY);
        tx.freq = ppm << 16;
        adj(tx);
        EXPECT_EQ(tx.freq, ppm << 16);
        EXPECT_EQ(c.time_freq, lfp(ppm * 1000));
    }
    for (long long ppm : {550LL, 1000LL, -550LL, -1000LL}) {
        tx = mktx(ADJ_FREQUENCY);
        tx.freq = ppm * 65536;
        adj(tx);
        EXPECT_EQ(tx.freq, (ppm > 0 ? 500 : -500) * 65536) << ppm;
        EXPECT_EQ(c.time_freq, lfp(ppm > 0 ? 500000 : -500000));
    }
    // Largest valid input: 140737488355 * 65536000 = 9223372036833280000,
    // 2^63 - 21495808: clamps, no overflow.
    tx = mktx(ADJ_FREQUENCY);
    tx.freq = 140737488355LL;
    adj(tx);
    EXPECT_EQ(c.time_freq, lfp(500000));
    tx = mktx(ADJ_FREQUENCY);
    tx.freq = -140737488355LL;
    adj(tx);
    EXPECT_EQ(c.time_freq, lfp(-500000));
}

// ---- MAXERROR / ESTERROR ----

TEST_F(Adjtime, ErrorsClampToPhaseLimit) {
    struct __kernel_timex tx = mktx(ADJ_MAXERROR | ADJ_ESTERROR);
    tx.maxerror = 1234;
    tx.esterror = 56;
    adj(tx);
    EXPECT_EQ(tx.maxerror, 1234);
    EXPECT_EQ(tx.esterror, 56);
    tx = mktx(ADJ_MAXERROR | ADJ_ESTERROR);
    tx.maxerror = -5;
    tx.esterror = 20000000;
    adj(tx);
    EXPECT_EQ(tx.maxerror, 0);
    EXPECT_EQ(tx.esterror, 16000000);
    tx = mktx(ADJ_MAXERROR);
    tx.maxerror = INT64_MAX;
    adj(tx);
    EXPECT_EQ(tx.maxerror, 16000000);
}

// ---- STATUS ----

TEST_F(Adjtime, StatusWritesOnlyReadWriteBits) {
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_PLL | STA_INS | STA_PPSSIGNAL | STA_NANO | STA_CLOCKERR | STA_MODE | STA_CLK;
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(tx.status, STA_PLL | STA_INS);  // UNSYNC cleared, ro bits refused
    // every rw bit can be set
    tx = mktx(ADJ_STATUS);
    tx.status = STA_PLL | STA_PPSFREQ | STA_PPSTIME | STA_FLL | STA_INS | STA_DEL | STA_UNSYNC |
                STA_FREQHOLD;
    adj(tx);
    EXPECT_EQ(tx.status, 0xff);
}

TEST_F(Adjtime, StatusKeepsReadOnlyBits) {
    pll_nano();
    c.time_status |= STA_PPSSIGNAL | STA_PPSJITTER | STA_CLOCKERR;  // as hardpps would
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_PLL | STA_FLL;
    adj(tx);
    EXPECT_EQ(tx.status,
              STA_PLL | STA_FLL | STA_NANO | STA_PPSSIGNAL | STA_PPSJITTER | STA_CLOCKERR);
}

TEST_F(Adjtime, ClearingPllResetsStateAndStatus) {
    pll_nano(STA_INS | STA_PPSTIME);
    c.time_status |= STA_PPSSIGNAL;
    tick_seconds(1);  // TIME_OK -> TIME_INS
    ASSERT_EQ(c.time_state, TIME_INS);
    c.pps_shift = 7;
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_UNSYNC;
    EXPECT_EQ(adj(tx), TIME_ERROR);
    EXPECT_EQ(c.time_state, TIME_OK);
    // FreeBSD: boot status, then the rw bits written; ro bits (PPSSIGNAL,
    // NANO) are gone with the reset.
    EXPECT_EQ(tx.status, STA_UNSYNC);
    EXPECT_EQ(c.pps_shift, NK_PPS_FAVG);
    // Written without UNSYNC, the status is just what was written.
    pll_nano();
    tx = mktx(ADJ_STATUS);
    tx.status = STA_FLL;
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(tx.status, STA_FLL);
}

// ---- TIMECONST / TAI / PPSMAX ----

TEST_F(Adjtime, TimeConstantClamps) {
    struct __kernel_timex tx = mktx(ADJ_TIMECONST);
    const std::initializer_list<std::pair<long long, long long>> cases = {
        {6, 6}, {-1, 0}, {11, 10}, {10, 10}, {INT64_MIN, 0}, {INT64_MAX, 10}};
    for (auto [in, out] : cases) {
        tx = mktx(ADJ_TIMECONST);
        tx.constant = in;
        adj(tx);
        EXPECT_EQ(tx.constant, out) << in;
    }
    // no Linux "+4 in us mode"
    tx = mktx(ADJ_TIMECONST);
    tx.constant = 3;
    adj(tx);
    EXPECT_EQ(c.time_constant, 3);
}

TEST_F(Adjtime, TaiOffset) {
    struct __kernel_timex tx = mktx(ADJ_TAI);
    tx.constant = 37;
    adj(tx);
    EXPECT_EQ(tx.tai, 37);
    EXPECT_EQ(c.time_constant, 0);  // constant is not a time constant here
    for (long long bad : {-1LL, 100001LL}) {
        tx = mktx(ADJ_TAI);
        tx.constant = bad;
        adj(tx);
        EXPECT_EQ(tx.tai, 37) << bad;
    }
    tx = mktx(ADJ_TAI);
    tx.constant = 100000;
    adj(tx);
    EXPECT_EQ(tx.tai, 100000);
    tx = mktx(ADJ_TAI);
    tx.constant = 0;
    adj(tx);
    EXPECT_EQ(tx.tai, 0);
    struct nk_ntptime nt;
    tx = mktx(ADJ_TAI);
    tx.constant = 37;
    adj(tx);
    nk_gettime(&c, pcc_, &nt);
    EXPECT_EQ(nt.tai, 37);
}

TEST_F(Adjtime, PpsMaxFromShift) {
    struct __kernel_timex tx = mktx(NK_ADJ_PPSMAX);
    tx.shift = 1;
    adj(tx);
    EXPECT_EQ(c.pps_shiftmax, 2);
    tx.modes = NK_ADJ_PPSMAX;
    tx.shift = 16;
    adj(tx);
    EXPECT_EQ(c.pps_shiftmax, 15);
    tx.modes = NK_ADJ_PPSMAX;
    tx.shift = 10;
    adj(tx);
    EXPECT_EQ(c.pps_shiftmax, 10);
    EXPECT_EQ(tx.shift, NK_PPS_FAVG);  // the reply is pps_shift
    EXPECT_EQ(NK_ADJ_PPSMAX, 0x0040);
}

// ---- NANO / MICRO ----

TEST_F(Adjtime, NanoAndMicro) {
    adj(ADJ_NANO);
    EXPECT_TRUE(c.time_status & STA_NANO);
    adj(ADJ_MICRO);
    EXPECT_FALSE(c.time_status & STA_NANO);
    adj(ADJ_NANO | ADJ_MICRO);  // MICRO is applied last
    EXPECT_FALSE(c.time_status & STA_NANO);
}

// ---- TICK ----

TEST_F(Adjtime, TickChangesTheRate) {
    struct __kernel_timex tx = mktx(ADJ_TICK);
    tx.tick = 10100;  // 10100 us per 10 ms: +1 %
    adj(tx);
    EXPECT_EQ(tx.tick, 10100);
    EXPECT_FALSE(tx.status & STA_CLK);  // 0x4000 is ADJ_TICK here, not MOD_CLKB
    // next second: 10100 * 100 * 1000 - 1e9 = 1e7 ns/s
    EXPECT_EQ(tick_at(kP0 + kNs), kP0 + kNs + 990099010ULL);  // ceil(1e9 / 1.0100000000745)
    EXPECT_EQ(c.time_adj, lfp(10000000));
    EXPECT_EQ(c.tb.mult, (uint64_t{1} << 32) + 42949673);  // 2^32 + round(0.01 * 2^32)
    struct nk_time t;
    nk_read(&c, kP0 + 2 * kNs, &t);  // one PCC second later: 1.01 s
    EXPECT_EQ(t.sec, kT0 + 2);
    EXPECT_EQ(t.nsec, 10000000);
}

// ---- OFFSET: us and ns, clamps, PLL off ----

TEST_F(Adjtime, OffsetIgnoredWithoutPll) {
    EXPECT_EQ(offset(1000), TIME_ERROR);
    EXPECT_EQ(c.time_offset, 0);
}

TEST_F(Adjtime, OffsetMicroseconds) {
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_PLL;
    adj(tx);
    tx = mktx(ADJ_OFFSET);
    tx.offset = 1000;  // us
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(c.time_offset, lfp(1000000));
    EXPECT_EQ(c.time_monitor, 1000000);
    EXPECT_EQ(tx.offset, 1000);
    tx = mktx(ADJ_OFFSET);
    tx.offset = -1999;
    adj(tx);
    EXPECT_EQ(c.time_offset, lfp(-1999000));
    EXPECT_EQ(tx.offset, -1999);
    // us input clamps to +-1 s, then to MAXPHASE (Linux)
    tx = mktx(ADJ_OFFSET);
    tx.offset = 2000000;
    adj(tx);
    EXPECT_EQ(c.time_monitor, 500000000);
    EXPECT_EQ(tx.offset, 500000);
    tx = mktx(ADJ_OFFSET);
    tx.offset = INT64_MIN;
    adj(tx);
    EXPECT_EQ(c.time_monitor, -500000000);
    EXPECT_EQ(tx.offset, -500000);
    // the reply truncates toward zero: 1.5 us residue reads 1 us
    c.time_offset = lfp(1500);
    tx = mktx(0);
    adj(tx);
    EXPECT_EQ(tx.offset, 1);
    c.time_offset = lfp(-1500);
    tx = mktx(0);
    adj(tx);
    EXPECT_EQ(tx.offset, -1);
}

TEST_F(Adjtime, OffsetNanosecondsAndMaxphase) {
    pll_nano();
    EXPECT_EQ(offset(123456), TIME_OK);
    EXPECT_EQ(c.time_offset, lfp(123456));
    struct __kernel_timex tx = mktx(0);
    adj(tx);
    EXPECT_EQ(tx.offset, 123456);
    offset(500000000);
    EXPECT_EQ(c.time_monitor, 500000000);
    offset(500000001);
    EXPECT_EQ(c.time_monitor, 500000000);
    offset(-500000000);
    EXPECT_EQ(c.time_monitor, -500000000);
    offset(INT64_MIN);
    EXPECT_EQ(c.time_monitor, -500000000);
    EXPECT_EQ(c.time_offset, lfp(-500000000));
    offset(INT64_MAX);
    EXPECT_EQ(c.time_offset, lfp(500000000));
}

// ---- SETOFFSET ----

TEST_F(Adjtime, SetoffsetSteps) {
    pcc_ = kP0 + 250000000;  // clock at kT0.25
    struct __kernel_timex tx = mktx(ADJ_SETOFFSET);
    tx.time.tv_sec = 1;
    tx.time.tv_usec = 900000;  // +1.9 s
    adj(tx);
    struct nk_time t = now();
    EXPECT_EQ(t.sec, kT0 + 2);
    EXPECT_EQ(t.nsec, 150000000);
    EXPECT_EQ(tx.time.tv_sec, kT0 + 2);
    tx = mktx(ADJ_SETOFFSET | ADJ_NANO);
    tx.time.tv_sec = -1;
    tx.time.tv_usec = 999999999;  // -1 ns
    adj(tx);
    t = now();
    EXPECT_EQ(t.sec, kT0 + 2);
    EXPECT_EQ(t.nsec, 149999999);
    // the step keeps the slope and moves the base to now
    EXPECT_EQ(c.tb.pcc_base, pcc_);
}

TEST_F(Adjtime, SetoffsetToNegativeTimeIsInvalid) {
    init(0, 0, 500000000);
    struct __kernel_timex tx = mktx(ADJ_SETOFFSET | ADJ_STATUS);
    tx.status = STA_PLL;
    tx.time.tv_sec = -1;
    tx.time.tv_usec = 0;
    EXPECT_EQ(adj(tx), -NK_EINVAL);
    EXPECT_EQ(now().sec, 0);
    EXPECT_EQ(c.time_status, STA_UNSYNC);  // nothing else applied
    tx.time.tv_sec = INT64_MAX;
    EXPECT_EQ(adj(tx), -NK_EINVAL);
    tx.time.tv_sec = -1;
    tx.time.tv_usec = 500000;  // -0.5 s: exactly 0.0
    EXPECT_EQ(adj(tx), TIME_OK);
    EXPECT_EQ(now().sec, 0);
    EXPECT_EQ(now().nsec, 0);
}

// ---- adjtime(): ADJ_OFFSET_SINGLESHOT / ADJ_OFFSET_SS_READ ----

TEST_F(Adjtime, SingleshotSetsSlewAndReturnsOld) {
    struct __kernel_timex tx = mktx(NK_ADJ_OFFSET_SINGLESHOT | ADJ_FREQUENCY);
    tx.offset = 1500000;  // us
    tx.freq = 100 << 16;  // ignored in adjtime() mode
    adj(tx);
    EXPECT_EQ(tx.offset, 0);
    EXPECT_EQ(c.time_adjtime, 1500000);
    EXPECT_EQ(c.time_freq, 0);
    tx = mktx(NK_ADJ_OFFSET_SS_READ);
    tx.offset = 42;
    adj(tx);
    EXPECT_EQ(tx.offset, 1500000);
    EXPECT_EQ(c.time_adjtime, 1500000);
    tx = mktx(NK_ADJ_OFFSET_SINGLESHOT);
    tx.offset = -7;
    adj(tx);
    EXPECT_EQ(tx.offset, 1500000);
    EXPECT_EQ(c.time_adjtime, -7);
}

// ---- return states and the TIME_ERROR predicate ----

TEST(TimeError, Predicate) {
    EXPECT_FALSE(nk_is_time_error(0));
    EXPECT_FALSE(nk_is_time_error(STA_PLL | STA_NANO));
    EXPECT_TRUE(nk_is_time_error(STA_UNSYNC));
    EXPECT_TRUE(nk_is_time_error(STA_CLOCKERR));
    EXPECT_TRUE(nk_is_time_error(STA_PPSFREQ));
    EXPECT_TRUE(nk_is_time_error(STA_PPSTIME));
    EXPECT_FALSE(nk_is_time_error(STA_PPSFREQ | STA_PPSTIME | STA_PPSSIGNAL));
    EXPECT_TRUE(nk_is_time_error(STA_PPSTIME | STA_PPSSIGNAL | STA_PPSJITTER));
    EXPECT_FALSE(nk_is_time_error(STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSJITTER));
    EXPECT_TRUE(nk_is_time_error(STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSWANDER));
    EXPECT_TRUE(nk_is_time_error(STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSERROR));
    EXPECT_FALSE(nk_is_time_error(STA_PPSTIME | STA_PPSSIGNAL | STA_PPSWANDER | STA_PPSERROR));
    EXPECT_FALSE(nk_is_time_error(STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR));
}

TEST_F(Adjtime, ReturnsTimeErrorOverState) {
    pll_nano(STA_INS);
    tick_seconds(1);
    EXPECT_EQ(adj(0), TIME_INS);
    c.time_status |= STA_CLOCKERR;
    EXPECT_EQ(adj(0), TIME_ERROR);
    struct nk_ntptime nt;
    nk_gettime(&c, pcc_, &nt);
    EXPECT_EQ(nt.state, TIME_ERROR);
    c.time_status &= ~STA_CLOCKERR;
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_PLL | STA_INS | STA_PPSFREQ;  // PPS freq requested, no signal
    EXPECT_EQ(adj(tx), TIME_ERROR);
}

TEST_F(Adjtime, GettimeView) {
    pll_nano();
    struct __kernel_timex tx = mktx(ADJ_MAXERROR | ADJ_ESTERROR | ADJ_TAI);
    tx.maxerror = 100;
    tx.esterror = 10;
    tx.constant = 37;
    adj(tx);
    struct nk_ntptime nt;
    nk_gettime(&c, kP0 + 42, &nt);
    EXPECT_EQ(nt.time.sec, kT0);
    EXPECT_EQ(nt.time.nsec, 42);
    EXPECT_EQ(nt.pcc_ns, kP0 + 42);
    EXPECT_EQ(nt.maxerror, 100);
    EXPECT_EQ(nt.esterror, 10);
    EXPECT_EQ(nt.tai, 37);
    EXPECT_EQ(nt.state, TIME_OK);
    EXPECT_EQ(nt.status, STA_PLL | STA_NANO);
}
