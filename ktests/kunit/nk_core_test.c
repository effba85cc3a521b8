// SPDX-License-Identifier: GPL-2.0
/*
 * nk_core: KUnit suite for the libnanokernel core as built in the kernel.
 * The userspace GoogleTest suite covers the algorithm in depth; these cases
 * prove that the kernel build (64-bit division helpers, 128-bit multiply,
 * round-toward-zero shifts) gives the same answers.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include "../../libnanokernel/nanokernel.h"

#define NS_PER_S 1000000000ULL
#define PCC0 (1000ULL * NS_PER_S) /* PCC at init: 1000 s of uptime, ns */

/* Nominal slope: 1.5 s of PCC is 1.5 s of clock, carried into seconds. */
static void nk_read_nominal(struct kunit *test)
{
	struct nk_timebase tb = {
		.pcc_base = PCC0, .sec = 100, .frac = 0, .mult = 1ULL << 32,
	};
	struct nk_time t;

	nk_timebase_read(&tb, PCC0 + 1500000000ULL, &t);
	KUNIT_EXPECT_EQ(test, t.sec, 101LL);
	KUNIT_EXPECT_EQ(test, t.nsec, 500000000);
}

/* A slope of 1 - 1000 ppm: one PCC second is 999 000 000 clock ns. */
static void nk_read_slow_slope(struct kunit *test)
{
	struct nk_timebase tb = {
		.pcc_base = PCC0, .sec = 7, .frac = 0,
		.mult = (1ULL << 32) - div_u64(1ULL << 32, 1000),
	};
	struct nk_time t;

	nk_timebase_read(&tb, PCC0 + NS_PER_S, &t);
	KUNIT_EXPECT_EQ(test, t.sec, 7LL);
	/* 2^32 / 1000 truncates, so the slope is a hair above 0.999 */
	KUNIT_EXPECT_GE(test, t.nsec, 999000000);
	KUNIT_EXPECT_LE(test, t.nsec, 999000001);
}

/* Linux's validation: ADJ_TICK outside 900000/USER_HZ..1100000/USER_HZ. */
static void nk_validate_tick(struct kunit *test)
{
	struct __kernel_timex tx = { .modes = ADJ_TICK, .tick = 20000 };

	KUNIT_EXPECT_EQ(test, nk_adjtime_validate(&tx), -EINVAL);
	tx.tick = 10000;
	KUNIT_EXPECT_EQ(test, nk_adjtime_validate(&tx), 0);
}

/* ADJ_SETOFFSET needs a normalised, non-negative fraction. */
static void nk_validate_setoffset(struct kunit *test)
{
	struct __kernel_timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };

	tx.time.tv_usec = -1;
	KUNIT_EXPECT_EQ(test, nk_adjtime_validate(&tx), -EINVAL);
	tx.time.tv_usec = NS_PER_S;
	KUNIT_EXPECT_EQ(test, nk_adjtime_validate(&tx), -EINVAL);
	tx.time.tv_usec = NS_PER_S - 1;
	KUNIT_EXPECT_EQ(test, nk_adjtime_validate(&tx), 0);
}

/* Frequency in scaled ppm (ppm << 16) survives the ns/s << 32 round trip. */
static void nk_frequency_round_trip(struct kunit *test)
{
	struct nk_clock *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct __kernel_timex tx = { .modes = ADJ_FREQUENCY };

	KUNIT_ASSERT_NOT_NULL(test, c);
	nk_init(c, 0, PCC0, 1700000000, 0);
	tx.freq = -499LL << 16;
	KUNIT_EXPECT_GE(test, nk_adjtime(c, &tx, PCC0), 0);
	memset(&tx, 0, sizeof(tx));
	KUNIT_EXPECT_GE(test, nk_adjtime(c, &tx, PCC0), 0);
	KUNIT_EXPECT_EQ(test, tx.freq, -499LL << 16);
}

/* A tick re-bases with the old slope: the time at the tick is unchanged. */
static void nk_tick_is_continuous(struct kunit *test)
{
	struct nk_clock *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct __kernel_timex tx = { .modes = ADJ_FREQUENCY };
	struct nk_time before, after;
	u64 pcc = PCC0;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, c);
	nk_init(c, 0, PCC0, 1700000000, 999999000);
	tx.freq = 250LL << 16;
	nk_adjtime(c, &tx, PCC0);
	for (i = 0; i < 50; i++) {
		pcc += 123456789ULL;
		nk_read(c, pcc, &before);
		nk_tick(c, pcc);
		nk_read(c, pcc, &after);
		KUNIT_EXPECT_EQ(test, before.sec, after.sec);
		KUNIT_EXPECT_EQ(test, before.nsec, after.nsec);
	}
}

/* Feed PPS edges 1 s + 10 us of PCC apart until the next calibration. */
static void nk_pps_until_cal(struct kunit *test, struct nk_clock *c, u64 *pcc)
{
	s64 n = c->pps_calcnt;
	int i;

	for (i = 0; i < 40 && c->pps_calcnt == n; i++) {
		*pcc += NS_PER_S + 10000;
		nk_hardpps(c, *pcc);
	}
	KUNIT_ASSERT_NE(test, c->pps_calcnt, n);
}

/*
 * PPS frequency with a PCC 10 ppm fast, across a lost edge: exact units
 * (-10000 / 1.00001 ns/s, the 64-bit long division of nk_pps_rate()) and no
 * calibration error by default; kern_ntptime.c's strict calibration voids
 * the interval with the lost edge.
 */
static void nk_pps_rate_and_lost_edge(struct kunit *test)
{
	struct nk_clock *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct __kernel_timex tx = { .modes = ADJ_STATUS | ADJ_NANO };
	const s64 rate = -42949243467565LL;	/* ns/s << 32 */
	u32 opt;
	u64 pcc;

	KUNIT_ASSERT_NOT_NULL(test, c);
	for (opt = 0; opt <= NK_OPT_FREEBSD_STRICT_CAL;
	     opt += NK_OPT_FREEBSD_STRICT_CAL) {
		nk_init(c, opt, PCC0, 1700000000, 0);
		tx.status = STA_PLL | STA_PPSFREQ;
		nk_adjtime(c, &tx, PCC0);
		pcc = PCC0;
		nk_pps_until_cal(test, c, &pcc);
		nk_pps_until_cal(test, c, &pcc);
		KUNIT_EXPECT_EQ(test, c->pps_freq, rate);
		KUNIT_EXPECT_EQ(test, c->time_freq, rate);
		pcc += NS_PER_S + 10000;	/* this edge is lost */
		nk_pps_until_cal(test, c, &pcc);
		KUNIT_EXPECT_EQ(test, c->pps_freq, rate);
		if (opt) {
			KUNIT_EXPECT_TRUE(test, c->time_status & STA_PPSERROR);
		} else {
			KUNIT_EXPECT_EQ(test, c->pps_errcnt, 0LL);
			KUNIT_EXPECT_EQ(test, c->pps_dropcnt, 1LL);
		}
	}
}

/*
 * The estimator's fixed point as the kernel builds it: least-squares gains
 * (Q32, div64_u64), the signed Q32 product (mul_u64_u64_shr, toward zero)
 * and the exact two-edge start.
 */
static void nk_pe_gains_and_start(struct kunit *test)
{
	struct nk_ppsest *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	u64 a, b;

	KUNIT_ASSERT_NOT_NULL(test, e);
	nk_pe_gains(2, &a, &b);
	KUNIT_EXPECT_EQ(test, a, 1ULL << 32);
	KUNIT_EXPECT_EQ(test, b, 1ULL << 32);
	nk_pe_gains(10, &a, &b);
	KUNIT_EXPECT_EQ(test, a, div64_u64(38ULL << 32, 110));
	KUNIT_EXPECT_EQ(test, b, div64_u64(6ULL << 32, 110));
	KUNIT_EXPECT_EQ(test, nk_pe_mul_q32(-3, 1ULL << 31), -1LL);

	nk_pe_reset(e);
	KUNIT_EXPECT_EQ(test, nk_pe_edge(e, PCC0, 0), NK_PE_FIRST);
	KUNIT_EXPECT_EQ(test, nk_pe_edge(e, PCC0 + NS_PER_S + 10000, 0),
			NK_PE_ACCEPTED);
	KUNIT_EXPECT_EQ(test, e->theta, PCC0 + NS_PER_S + 10000);
	KUNIT_EXPECT_EQ(test, e->phi, 10000LL << 32);
}

/*
 * The estimator discipline on a PCC 10 ppm fast: time_freq within 2^-12
 * ns/s of the exact -10000 / 1.00001 ns/s and the clock on the true second
 * at the 30th edge.
 */
static void nk_pe_clock_locks(struct kunit *test)
{
	struct nk_clock *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct __kernel_timex tx = { .modes = ADJ_STATUS | ADJ_NANO };
	const s64 rate = -42949243467565LL;	/* ns/s << 32 */
	struct nk_time t;
	s64 d;
	u64 edge = PCC0;
	int k;

	KUNIT_ASSERT_NOT_NULL(test, c);
	nk_init(c, NK_OPT_PPS_ESTIMATOR, PCC0, 1700000000, 200000);
	tx.status = STA_PLL | STA_PPSFREQ | STA_PPSTIME;
	nk_adjtime(c, &tx, PCC0);
	nk_tick(c, PCC0);
	for (k = 1; k <= 30; k++) {
		edge = PCC0 + k * (NS_PER_S + 10000);
		while ((u64)c->next_second_pcc <= edge)
			nk_tick(c, c->next_second_pcc);
		nk_hardpps(c, edge);
	}
	d = c->time_freq - rate;
	KUNIT_EXPECT_LE(test, d < 0 ? -d : d, 1LL << 20);
	edge += NS_PER_S + 10000;
	while ((u64)c->next_second_pcc <= edge)
		nk_tick(c, c->next_second_pcc);
	nk_read(c, edge, &t);
	d = (t.sec - 1700000031LL) * NS_PER_S + t.nsec;	/* ns */
	KUNIT_EXPECT_LE(test, d < 0 ? -d : d, 2LL);
}

static struct kunit_case nk_core_cases[] = {
	KUNIT_CASE(nk_read_nominal),
	KUNIT_CASE(nk_read_slow_slope),
	KUNIT_CASE(nk_validate_tick),
	KUNIT_CASE(nk_validate_setoffset),
	KUNIT_CASE(nk_frequency_round_trip),
	KUNIT_CASE(nk_tick_is_continuous),
	KUNIT_CASE(nk_pps_rate_and_lost_edge),
	KUNIT_CASE(nk_pe_gains_and_start),
	KUNIT_CASE(nk_pe_clock_locks),
	{}
};

static struct kunit_suite nk_core_suite = {
	.name = "nk_core",
	.test_cases = nk_core_cases,
};

kunit_test_suite(nk_core_suite);

MODULE_DESCRIPTION("KUnit tests for the libnanokernel core in the kernel");
MODULE_LICENSE("GPL");
