// read(pcc): interpolation from the timebase, continuity at every update,
// monotonicity under random slopes, far-future seconds.
#include <random>

#include "nk_test.hpp"

using namespace nktest;

namespace {

struct nk_time rd(const struct nk_timebase& tb, uint64_t pcc) {
    struct nk_time t;
    nk_timebase_read(&tb, pcc, &t);
    return t;
}

// (sec, nsec) as one comparable number of ns (fits for |sec| < 9.2e9).
__int128 ns_of(const struct nk_time& t) {
    return (__int128)t.sec * kNs + t.nsec;
}

}  // namespace

TEST(Read, NominalSlopeIsThePcc) {
    struct nk_clock c;
    nk_init(&c, 0, 1000, 1700000000, 5);
    EXPECT_EQ(c.tb.mult, uint64_t{1} << 32);
    struct nk_time t = rd(c.tb, 1000);
    EXPECT_EQ(t.sec, 1700000000);
    EXPECT_EQ(t.nsec, 5);
    t = rd(c.tb, 1000 + 999999995);
    EXPECT_EQ(t.sec, 1700000001);
    EXPECT_EQ(t.nsec, 0);
    t = rd(c.tb, 1000 + 999999994);
    EXPECT_EQ(t.sec, 1700000000);
    EXPECT_EQ(t.nsec, 999999999);
}

TEST(Read, InitNormalisesNsec) {
    struct nk_clock c;
    nk_init(&c, 0, 0, 10, 1500000000);
    struct nk_time t = rd(c.tb, 0);
    EXPECT_EQ(t.sec, 11);
    EXPECT_EQ(t.nsec, 500000000);
}

TEST(Read, SlopeAndFraction) {
    // frac = 5.5 ns, slope 1.5 ns per PCC ns.
    struct nk_timebase tb {};
    tb.pcc_base = 3000000000ULL;
    tb.sec = 100;
    tb.frac = (uint64_t{5} << 32) + 0x80000000u;
    tb.mult = (uint64_t{1} << 32) + 0x80000000u;
    EXPECT_EQ(rd(tb, 3000000001ULL).nsec, 7);  // 5.5 + 1.5
    EXPECT_EQ(rd(tb, 3000000002ULL).nsec, 8);  // 5.5 + 3.0 = 8.5
    EXPECT_EQ(rd(tb, 2999999999ULL).nsec, 4);  // 5.5 - 1.5
    EXPECT_EQ(rd(tb, 2999999997ULL).nsec, 1);  // 5.5 - 4.5
    struct nk_time t = rd(tb, 2999999996ULL);  // 5.5 - 6.0 = -0.5 -> floor -1
    EXPECT_EQ(t.sec, 99);
    EXPECT_EQ(t.nsec, 999999999);
    t = rd(tb, 1000000000ULL);  // 5.5 - 3e9 = -2999999994.5
    EXPECT_EQ(t.sec, 97);
    EXPECT_EQ(t.nsec, 5);  // floor(-2999999994.5) = -2999999995
}

TEST(Read, PccBeforeBaseIsSigned) {
    // slope 1 + 2^-10: 1024 PCC ns are 1025 clock ns.
    struct nk_timebase tb {};
    tb.pcc_base = 5000;
    tb.sec = 7;
    tb.frac = 0;
    tb.mult = (uint64_t{1} << 32) + (uint64_t{1} << 22);
    EXPECT_EQ(rd(tb, 5000 + 1024).nsec, 1025);
    struct nk_time t = rd(tb, 5000 - 1024);
    EXPECT_EQ(t.sec, 6);
    EXPECT_EQ(t.nsec, 1000000000 - 1025);
}

TEST(Read, LongIntervalsUse128BitProducts) {
    struct nk_timebase tb {};
    tb.pcc_base = 0;
    tb.sec = 0;
    tb.frac = 0;
    tb.mult = (uint64_t{1} << 32) + 1;  // + 2^-32 ns per ns
    // 2^40 PCC ns -> 2^40 + 2^40 / 2^32 = 2^40 + 256 ns
    struct nk_time t = rd(tb, uint64_t{1} << 40);
    const int64_t want = (int64_t{1} << 40) + 256;
    EXPECT_EQ(t.sec, want / kNs);
    EXPECT_EQ(t.nsec, want % kNs);
    // 2^62 ns (near 2^63 after the << 32 scaling of the product):
    // 4611686018427387904 ns = 4611686018 s + 427387904 ns.
    tb.mult = uint64_t{1} << 32;
    t = rd(tb, uint64_t{1} << 62);
    EXPECT_EQ(t.sec, 4611686018LL);
    EXPECT_EQ(t.nsec, 427387904);
}

TEST(Read, SecondsBeyond2038And2106) {
    struct nk_clock c;
    nk_init(&c, 0, 0, 2147483647LL, 999999999);  // 2038-01-19 03:14:07.999999999
    struct nk_time t = rd(c.tb, 1);
    EXPECT_EQ(t.sec, 2147483648LL);
    EXPECT_EQ(t.nsec, 0);
    nk_init(&c, 0, 0, 4294967295LL, 999999999);  // 2106-02-07 06:28:15.999999999
    nk_tick(&c, 1);
    t = rd(c.tb, 1);
    EXPECT_EQ(t.sec, 4294967296LL);
    EXPECT_EQ(t.nsec, 0);
    EXPECT_EQ(c.tb.sec, 4294967296LL);
    nk_init(&c, 0, 0, 253402300799LL, 0);  // 9999-12-31 23:59:59
    t = rd(c.tb, 2 * kNs);
    EXPECT_EQ(t.sec, 253402300801LL);
}

TEST(Read, SettimeRebasesAtThePcc) {
    struct nk_clock c;
    nk_init(&c, 0, 0, 100, 0);
    struct nk_time ts = {5000000000LL, 250};
    nk_settime(&c, 7 * kNs, &ts);
    struct nk_time t = rd(c.tb, 7 * kNs + 10);
    EXPECT_EQ(t.sec, 5000000000LL);
    EXPECT_EQ(t.nsec, 260);
    EXPECT_EQ(c.next_second_pcc, 7 * kNs + kNs - 250);
}

TEST(Read, EdgeBeforeRebaseReadsAsBefore) {
    // With an unchanged slope, a PCC before the new base reads exactly as it
    // did from the old base.
    struct nk_clock c;
    nk_init(&c, 0, 0, 100, 123456789);
    const uint64_t edge = 3 * kNs + 17;
    struct nk_time before = rd(c.tb, edge);
    nk_tick(&c, edge + 5000);
    struct nk_time after = rd(c.tb, edge);
    EXPECT_EQ(c.tb.pcc_base, edge + 5000);
    EXPECT_EQ(after.sec, before.sec);
    EXPECT_EQ(after.nsec, before.nsec);
}

// nanoclock.ko moves the base of a lowered slope a little into the future
// (its monotonicity guard, re-anchored on the line readers used). A tick
// that comes before that base with a steeper slope due must not install it
// there: drawn back from the base, the steeper line would read lower than
// readers already saw. It keeps the slope and asks to run again at the base.
TEST(Read, TickBeforeAGuardedBaseDefersASteeperSlope) {
    struct nk_clock c;
    nk_init(&c, 0, kP0, kT0, 0);
    const uint64_t tick = kP0 + kNs / 10;  // a periodic tick, mid-second
    const uint64_t base = tick + 2000;     // the guard: 2 us ahead
    struct nk_time at_base = rd(c.tb, base);
    c.tb.pcc_base = base;
    c.tb.sec = at_base.sec;
    c.tb.frac = (uint64_t)at_base.nsec << 32;
    c.time_adj = int64_t{25000000} << 32;  // 25 ms/s: a PLL slewing 400 ms
    const uint64_t guarded_mult = c.tb.mult;

    struct nk_time seen[2001];
    for (uint64_t d = 0; d <= 2000; d++) seen[d] = rd(c.tb, tick + d);
    EXPECT_EQ(nk_tick(&c, tick), base);
    EXPECT_EQ(c.tb.mult, guarded_mult);
    for (uint64_t d = 0; d <= 2000; d++)
        ASSERT_TRUE(ns_of(rd(c.tb, tick + d)) >= ns_of(seen[d])) << "lower at +" << d << " ns";

    // At the base the slope goes in, continuous there.
    nk_tick(&c, base);
    EXPECT_GT(c.tb.mult, guarded_mult);
    EXPECT_EQ(ns_of(rd(c.tb, base)), ns_of(at_base));

    // A shallower slope needs no deferral: below the base it reads higher.
    c.tb.pcc_base = base + 2000;
    c.time_adj = -(int64_t{25000000} << 32);
    const uint64_t next = nk_tick(&c, base + 1000);
    EXPECT_EQ(next, (uint64_t)c.next_second_pcc);
    EXPECT_LT(c.tb.mult, uint64_t{1} << 32);
}

TEST(Read, TickReturnsNextBoundary) {
    struct nk_clock c;
    nk_init(&c, 0, kP0, kT0, 0);
    EXPECT_EQ(c.next_second_pcc, (int64_t)(kP0 + kNs));
    EXPECT_EQ(nk_tick(&c, kP0 + kNs), kP0 + 2 * kNs);
    EXPECT_EQ(nk_tick(&c, kP0 + 2 * kNs + 300), kP0 + 3 * kNs);
    EXPECT_EQ(c.tb.frac, uint64_t{300} << 32);
}

// The property: for random slopes (any positive mult, far beyond what the
// discipline produces) and random update instants, the time is continuous
// at every update (the reading at the update PCC does not change) and never
// goes backwards. Millions of reads.
TEST(ReadProperty, ContinuousAndMonotonicUnderRandomSlopes) {
    std::mt19937_64 rng(20240521);
    struct nk_clock c;
    nk_init(&c, 0, 5 * kNs, 4294967290LL, 999999000);  // crosses 2106 on the way
    std::uniform_int_distribution<uint64_t> slope(1, uint64_t{1} << 33);
    std::uniform_int_distribution<uint64_t> near1(0, uint64_t{1} << 24);
    std::uniform_int_distribution<uint64_t> step(0, 3000000);
    std::uniform_int_distribution<int> reads_per_update(1, 400);
    std::uniform_int_distribution<int> coin(0, 3);

    uint64_t pcc = 5 * kNs;
    struct nk_time last = rd(c.tb, pcc);
    long nreads = 0, nupdates = 0;
    while (nreads < 3000000) {
        // The reader's slope: random; half the time near nominal.
        c.tb.mult =
            coin(rng) < 2 ? slope(rng) : (uint64_t{1} << 32) - (uint64_t{1} << 23) + near1(rng);
        const int n = reads_per_update(rng);
        for (int i = 0; i < n; i++) {
            pcc += step(rng);
            struct nk_time t = rd(c.tb, pcc);
            ASSERT_TRUE(ns_of(t) >= ns_of(last)) << "backwards at read " << nreads;
            ASSERT_GE(t.nsec, 0);
            ASSERT_LT(t.nsec, kNs);
            last = t;
            nreads++;
        }
        // Update at a random instant, with the old (random) slope.
        pcc += step(rng);
        struct nk_time before = rd(c.tb, pcc);
        ASSERT_TRUE(ns_of(before) >= ns_of(last));
        nk_tick(&c, pcc);
        struct nk_time after = rd(c.tb, pcc);
        ASSERT_EQ(after.sec, before.sec) << "update " << nupdates;
        ASSERT_EQ(after.nsec, before.nsec) << "update " << nupdates;
        // A reading one PCC ns before the new base is not later.
        struct nk_time prev = rd(c.tb, pcc - 1);
        ASSERT_TRUE(ns_of(prev) <= ns_of(after));
        last = after;
        nupdates++;
    }
    EXPECT_GT(last.sec, 4294967296LL);
}

// The same property with the discipline's own slopes: PLL offsets up to
// +-MAXPHASE, frequencies up to +-MAXFREQ, adjtime slews, ticks at random
// instants (late, early, several seconds apart).
TEST(ReadProperty, ContinuousAndMonotonicUnderDiscipline) {
    std::mt19937_64 rng(7);
    struct nk_clock c;
    nk_init(&c, 0, kP0, kT0, 0);
    struct __kernel_timex tx = mktx(ADJ_STATUS | ADJ_NANO);
    tx.status = STA_PLL;
    ASSERT_EQ(nk_adjtime(&c, &tx, kP0), TIME_OK);
    std::uniform_int_distribution<int64_t> off(-600000000, 600000000);
    std::uniform_int_distribution<int64_t> freq(-40000000, 40000000);
    std::uniform_int_distribution<int64_t> slew(-3000000, 3000000);
    std::uniform_int_distribution<uint64_t> tick_gap(1, 3 * kNs);
    std::uniform_int_distribution<uint64_t> read_gap(0, 20000000);
    std::uniform_int_distribution<int> what(0, 9);

    uint64_t pcc = kP0;
    struct nk_time last = rd(c.tb, pcc);
    long nreads = 0;
    while (nreads < 1000000) {
        const uint64_t next_tick = pcc + tick_gap(rng);
        for (;;) {
            const uint64_t p = pcc + read_gap(rng);
            if (p >= next_tick) break;
            pcc = p;
            struct nk_time t = rd(c.tb, pcc);
            ASSERT_TRUE(ns_of(t) >= ns_of(last));
            last = t;
            nreads++;
        }
        pcc = next_tick;
        struct nk_time before = rd(c.tb, pcc);
        ASSERT_TRUE(ns_of(before) >= ns_of(last));
        nk_tick(&c, pcc);
        ASSERT_GT(c.tb.mult, uint64_t{1} << 31);  // the slope stays positive
        struct nk_time after = rd(c.tb, pcc);
        ASSERT_EQ(after.sec, before.sec);
        ASSERT_EQ(after.nsec, before.nsec);
        last = after;
        switch (what(rng)) {
            case 0:
                tx = mktx(ADJ_OFFSET);
                tx.offset = off(rng);
                break;
            case 1:
                tx = mktx(ADJ_FREQUENCY);
                tx.freq = freq(rng);
                break;
            case 2:
                tx = mktx(NK_ADJ_OFFSET_SINGLESHOT);
                tx.offset = slew(rng);
                break;
            default:
                tx = mktx(0);
        }
        ASSERT_GE(nk_adjtime(&c, &tx, pcc), 0);
    }
}
