// hardupdate: the PLL/FLL frequency update from ADJ_OFFSET.
// PLL: df = offset * mu / 2^(2 (SHIFT_PLL + 2 + tc)) ns/s
// FLL: df = ((offset * 16 / mu) << 32) >> (SHIFT_FLL + 4)  (= offset / mu / 4)
#include "nk_test.hpp"

using namespace nktest;

class Hardupdate : public Clock {
  protected:
    // First update at kP0 (starts the interval), second @mu seconds later.
    void two_updates(int64_t mu, int64_t off, int extra_status = 0) {
        pll_nano(extra_status);
        offset(0);
        ASSERT_EQ(c.time_freq, 0);
        pcc_ = kP0 + static_cast<uint64_t>(mu) * kNs;
        offset(off);
    }
    void set_tc(int64_t tc) {
        struct __kernel_timex tx = mktx(ADJ_TIMECONST);
        tx.constant = tc;
        adj(tx);
    }
};

TEST_F(Hardupdate, FirstUpdateOnlySetsPhase) {
    pll_nano();
    offset(1000000);
    EXPECT_EQ(c.time_freq, 0);
    EXPECT_EQ(c.time_offset, lfp(1000000));
    EXPECT_EQ(c.time_reftime, 1000);  // PCC seconds
    EXPECT_FALSE(c.time_status & STA_MODE);
}

TEST_F(Hardupdate, PllFreeBSD) {
    two_updates(64, 1000000);
    // 1e6 * 64 / 4096 = 15625 ns/s exactly
    EXPECT_EQ(c.time_freq, lfp(15625));
    struct __kernel_timex tx = mktx(0);
    adj(tx);
    EXPECT_EQ(tx.freq, 1024000);  // 15.625 ppm << 16
    EXPECT_EQ(c.time_reftime, 1064);
    EXPECT_FALSE(c.time_status & STA_MODE);
}

TEST_F(Hardupdate, PllNegative) {
    two_updates(64, -1000000);
    EXPECT_EQ(c.time_freq, lfp(-15625));
}

TEST_F(Hardupdate, PllTimeConstant) {
    pll_nano();
    set_tc(2);
    offset(0);
    pcc_ = kP0 + 64 * kNs;
    offset(1000000);
    // 1e6 * 64 / 2^16 = 976.5625 ns/s = 976.5625 * 2^32 = 4194304000000
    EXPECT_EQ(c.time_freq, 4194304000000LL);
}

TEST_F(Hardupdate, PllTimeConstantMaxShiftsBy32) {
    pll_nano();
    set_tc(10);
    offset(0);
    pcc_ = kP0 + 3 * kNs;
    offset(-7);
    // shift 2 * (4 + 2 + 10) = 32: df = -7 * 3 ns/s * 2^-32 ... as l_fp: -21
    EXPECT_EQ(c.time_freq, -21);
}

TEST_F(Hardupdate, PllLinuxShift) {
    init(NK_OPT_LINUX_SHIFT_PLL);
    two_updates(64, 1000000);
    EXPECT_EQ(c.time_freq, lfp(250000));  // 1e6 * 64 / 256
}

TEST_F(Hardupdate, LinuxSecsClamp) {
    init(NK_OPT_LINUX_SECS_CLAMP);
    two_updates(64, 1000000);
    // mu clamped to 1 << (4 + 1 + 0) = 32: 1e6 * 32 / 4096 = 7812.5 ns/s
    EXPECT_EQ(c.time_freq, lfp(7812) + (int64_t{1} << 31));
}

TEST_F(Hardupdate, FllWithStaFll) {
    two_updates(300, 1000000, STA_FLL);
    // PLL: 1e6 * 300 / 4096 = 73242.1875; FLL: (16e6 / 300 = 53333) / 64 = 833.328125
    const int64_t pll = lfp(73242) + (int64_t{3} << 28);  // .1875 = 3/16
    const int64_t fll = lfp(833) + (int64_t{21} << 26);   // .328125 = 21/64
    EXPECT_EQ(c.time_freq, pll + fll);
    EXPECT_TRUE(c.time_status & STA_MODE);
}

TEST_F(Hardupdate, FllNeedsMinsec) {
    two_updates(255, 1000000, STA_FLL);
    EXPECT_FALSE(c.time_status & STA_MODE);
    // PLL only: 1e6 * 255 / 4096 = 62255.859375
    EXPECT_EQ(c.time_freq, 1000000LL * 255 * (int64_t{1} << 20));
}

TEST_F(Hardupdate, FllAtMinsecExactly) {
    two_updates(256, -4096, STA_FLL);
    // PLL: -4096 * 256 / 4096 = -256; FLL: -4096 * 16 / 256 = -256 -> /64 = -4
    EXPECT_EQ(c.time_freq, lfp(-260));
    EXPECT_TRUE(c.time_status & STA_MODE);
}

TEST_F(Hardupdate, FllForcedAboveMaxsec) {
    two_updates(2048, 0);
    EXPECT_FALSE(c.time_status & STA_MODE);  // 2048 is not above MAXSEC
    pcc_ += 2049 * static_cast<uint64_t>(kNs);
    offset(2049000);
    EXPECT_TRUE(c.time_status & STA_MODE);
    // PLL: 2049000 * 2049 / 4096 = 1025000.244140625 -> clamped anyway;
    // the sum is far above MAXFREQ
    EXPECT_EQ(c.time_freq, lfp(500000));
}

TEST_F(Hardupdate, FllForcedMidRange) {
    pll_nano();
    offset(0);
    pcc_ = kP0 + 4096 * kNs;
    offset(4096);
    // PLL: 4096 * 4096 / 4096 = 4096; FLL: 4096 * 16 / 4096 = 16 -> /64 = 0.25
    EXPECT_EQ(c.time_freq, lfp(4096) + (int64_t{1} << 30));
    EXPECT_TRUE(c.time_status & STA_MODE);
    EXPECT_EQ(c.time_reftime, 1000 + 4096);
}

TEST_F(Hardupdate, FrequencyClampsAtMaxfreq) {
    pll_nano();
    struct __kernel_timex tx = mktx(ADJ_FREQUENCY);
    tx.freq = 499 << 16;
    adj(tx);
    offset(0);
    pcc_ = kP0 + 64 * kNs;
    offset(80000);  // + 80000 * 64 / 4096 = 1250 ns/s: 500.25 ppm
    EXPECT_EQ(c.time_freq, lfp(500000));
    pcc_ += 64 * static_cast<uint64_t>(kNs);
    offset(500000000);
    EXPECT_EQ(c.time_freq, lfp(500000));
    pcc_ += 64 * static_cast<uint64_t>(kNs);
    offset(-500000000);  // -500000000 * 64 / 4096 = -7812500: below -MAXFREQ
    EXPECT_EQ(c.time_freq, lfp(-500000));
}

TEST_F(Hardupdate, HugeIntervalSaturatesWithoutOverflow) {
    // 5e8 * 2^32 >> 12 = 5.2e14; times 1e6 s would be 5.2e20 > 2^63.
    two_updates(1000000, 500000000);
    EXPECT_EQ(c.time_freq, lfp(500000));
    pcc_ += 1000000 * static_cast<uint64_t>(kNs);
    offset(-500000000);
    EXPECT_EQ(c.time_freq, lfp(-500000));
}

TEST_F(Hardupdate, FreqholdKeepsFrequency) {
    two_updates(64, 1000000, STA_FREQHOLD);
    EXPECT_EQ(c.time_freq, 0);
    EXPECT_EQ(c.time_offset, lfp(1000000));  // phase still taken
    EXPECT_EQ(c.time_reftime, 1064);
}

TEST_F(Hardupdate, PpsOwnsFrequency) {
    pll_nano(STA_PPSFREQ);
    c.time_status |= STA_PPSSIGNAL;
    offset(0);
    pcc_ = kP0 + 64 * kNs;
    offset(1000000);
    EXPECT_EQ(c.time_freq, 0);
    EXPECT_EQ(c.time_offset, lfp(1000000));
    EXPECT_EQ(c.time_reftime, 1064);
}

TEST_F(Hardupdate, PpsOwnsPhase) {
    pll_nano(STA_PPSTIME);
    c.time_status |= STA_PPSSIGNAL;
    c.time_monitor = -300;  // the last PPS phase
    c.time_offset = lfp(-300);
    offset(0);
    pcc_ = kP0 + 64 * kNs;
    offset(1000000);
    EXPECT_EQ(c.time_offset, lfp(-300));  // untouched
    // the PLL frequency term uses the PPS phase: -300 * 64 / 4096 = -4.6875
    EXPECT_EQ(c.time_freq, -300LL * 64 * (int64_t{1} << 20));
}

TEST_F(Hardupdate, ReenablingPllRestartsTheInterval) {
    pll_nano();
    offset(0);
    struct __kernel_timex tx = mktx(ADJ_STATUS);
    tx.status = STA_UNSYNC;  // PLL off
    adj(tx);
    pcc_ = kP0 + 5000 * kNs;
    pll_nano();
    offset(1000000);
    EXPECT_EQ(c.time_freq, 0);  // mu = 0, not 5000 s
}
