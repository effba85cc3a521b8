// SPDX-License-Identifier: GPL-2.0
/*
 * pps_kunit: KUnit suites for the shared PPS edge path (nanoclock-pps.ko)
 * and the serial DCD line discipline (nanoclock-pps-ldisc.ko), linked
 * against their exported API (load nanoclock.ko, nanoclock-pps.ko,
 * nanoclock-pps-ldisc.ko first).
 *
 *   nanoclock_pps_edge  a test source bound to nanoclock0: edges reach
 *                       hardpps (STA_PPSSIGNAL, PPS counters) and /dev/ppsN,
 *                       a spike is rejected and counted, the range gate,
 *                       unbound edges, binding errors, the flags switches,
 *                       the edge path's cost (printed).
 *   nanoclock_pps_ldisc the ldisc's dcd_change as a UART's modem-status IRQ
 *                       calls it (QEMU raises none): asserted DCD reaches
 *                       hardpps through the same edge path, cleared DCD
 *                       and unattached ttys are ignored.
 *
 * Edges are synthetic PCC stamps on one grid of PCC seconds, in the near
 * future and on the clock's whole seconds (its frequency is set to 0, so
 * the phase stays 0); each case continues 10 s after the previous one, so
 * the core's PPS state carries over. hardpps reads the clock at each stamp
 * from its current timebase (linear, exact within 1 ns).
 */
#include <kunit/test.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/timekeeping.h>
#include <linux/timex.h>

#include "../../pps/ldisc.h"

static u64 pps_grid;		/* PCC of the next case's edge 0, ns */

struct pps_ctx {
	struct nanoclock *nc;
	struct ncpps_source *src;
	u64 pcc0;		/* PCC of edge 0, ns */
};

static int pps_init(struct kunit *test)
{
	struct __kernel_timex tx = { .modes = ADJ_STATUS | ADJ_FREQUENCY |
					      ADJ_NANO };
	struct pps_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->nc = nc_get_clock(0);
	KUNIT_ASSERT_NOT_NULL(test, c->nc);
	/* a fresh PPS state: STA_PLL off resets the core, frequency 0 */
	tx.status = 0;
	tx.freq = 0;
	KUNIT_ASSERT_GE(test, nc_adjtime(c->nc, &tx), 0);
	tx.modes = ADJ_STATUS;
	tx.status = STA_PLL;
	KUNIT_ASSERT_GE(test, nc_adjtime(c->nc, &tx), 0);
	c->src = ncpps_source_register("kunit", NULL, NULL, NULL, THIS_MODULE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->src));
	if (!pps_grid) {
		struct nk_time t;
		u64 pcc;

		/* on the clock's whole seconds: phase 0, no jitter at all */
		nc_read(c->nc, &t, &pcc);
		pps_grid = pcc + 2 * NSEC_PER_SEC - t.nsec;
	} else {
		pps_grid += 10 * NSEC_PER_SEC;
	}
	c->pcc0 = pps_grid;
	test->priv = c;
	return 0;
}

static void pps_exit(struct kunit *test)
{
	struct pps_ctx *c = test->priv;
	struct __kernel_timex tx = { .modes = ADJ_STATUS, .status = 0 };

	ncpps_source_unregister(c->src);
	nc_adjtime(c->nc, &tx);
}

/* Edge @k, @off_ns off the PCC-second grid. */
static void edge(struct pps_ctx *c, int k, s64 off_ns)
{
	u64 pcc = c->pcc0 + (u64)k * NSEC_PER_SEC + off_ns;

	ncpps_edge(c->src, pcc, pcc);
}

static s32 status(struct pps_ctx *c)
{
	struct nc_pub pub;

	nc_read_pub(c->nc, &pub);
	return pub.status;
}

static void pps_edges_reach_hardpps(struct kunit *test)
{
	struct pps_ctx *c = test->priv;
	u32 seq0 = c->src->pps->assert_sequence;
	struct ncpps_stats st;
	int k;

	KUNIT_EXPECT_FALSE(test, status(c) & STA_PPSSIGNAL);
	for (k = 0; k < 6; k++)
		edge(c, k, 0);
	ncpps_read_stats(c->src, &st);
	KUNIT_EXPECT_EQ(test, st.edges, 6ULL);
	KUNIT_EXPECT_EQ(test, st.fed, 6ULL);
	KUNIT_EXPECT_EQ(test, st.gaps, 0ULL);
	KUNIT_EXPECT_EQ(test, st.interval, (s64)NSEC_PER_SEC);
	KUNIT_EXPECT_TRUE(test, status(c) & STA_PPSSIGNAL);
	KUNIT_EXPECT_FALSE(test, status(c) & STA_PPSJITTER);
	/* edges on the PCC grid: the phase never moves */
	KUNIT_EXPECT_EQ(test, st.jitter, 0LL);
	KUNIT_EXPECT_GT(test, st.cost_n, 0ULL);
	/* /dev/ppsN got every edge */
	KUNIT_EXPECT_EQ(test, c->src->pps->assert_sequence - seq0, 6U);
}

static void pps_spike_rejected(struct kunit *test)
{
	struct pps_ctx *c = test->priv;
	struct ncpps_stats st;
	s64 jitcnt0;
	int k;

	for (k = 0; k < 5; k++)
		edge(c, k, 0);
	jitcnt0 = READ_ONCE(c->nc->nk.pps_jitcnt);
	edge(c, 5, 100 * NSEC_PER_USEC);	/* 100 us popcorn spike */
	ncpps_read_stats(c->src, &st);
	KUNIT_EXPECT_EQ(test, st.popcorn, 1ULL);
	KUNIT_EXPECT_EQ(test, st.rejected, 1ULL);
	KUNIT_EXPECT_EQ(test, READ_ONCE(c->nc->nk.pps_jitcnt), jitcnt0 + 1);
	KUNIT_EXPECT_TRUE(test, c->src->clock_status & STA_PPSJITTER);

	/* beyond the 500 us range gate: rejected, not a popcorn spike */
	edge(c, 6, 0);
	edge(c, 7, 2 * NSEC_PER_MSEC);
	ncpps_read_stats(c->src, &st);
	KUNIT_EXPECT_EQ(test, st.popcorn, 1ULL);
	KUNIT_EXPECT_EQ(test, st.rejected, 2ULL);
	KUNIT_EXPECT_TRUE(test, status(c) & STA_PPSJITTER);
}

static void pps_unbound_and_binding(struct kunit *test)
{
	struct pps_ctx *c = test->priv;
	struct ncpps_stats st;

	KUNIT_EXPECT_EQ(test, ncpps_clock_index(c->src), 0);
	KUNIT_EXPECT_EQ(test, ncpps_bind(c->src, NC_MAX_INSTANCES), -ENODEV);
	KUNIT_EXPECT_EQ(test, ncpps_clock_index(c->src), 0);

	/* the flags switch the bound clock's STA_PPSTIME / STA_PPSFREQ */
	KUNIT_EXPECT_EQ(test, ncpps_set_flags(c->src, STA_PPSTIME | STA_PPSFREQ, 0), 0);
	KUNIT_EXPECT_EQ(test, ncpps_clock_flags(c->src), STA_PPSTIME | STA_PPSFREQ);
	KUNIT_EXPECT_TRUE(test, status(c) & STA_PLL);
	KUNIT_EXPECT_EQ(test, ncpps_set_flags(c->src, 0, STA_PPSFREQ), 0);
	KUNIT_EXPECT_EQ(test, ncpps_clock_flags(c->src), STA_PPSTIME);
	/* other bits are not the binding's business */
	KUNIT_EXPECT_EQ(test, ncpps_set_flags(c->src, STA_INS, STA_PLL), 0);
	KUNIT_EXPECT_TRUE(test, status(c) & STA_PLL);
	KUNIT_EXPECT_FALSE(test, status(c) & STA_INS);

	KUNIT_EXPECT_EQ(test, ncpps_bind(c->src, -1), 0);
	KUNIT_EXPECT_EQ(test, ncpps_clock_index(c->src), -1);
	KUNIT_EXPECT_EQ(test, ncpps_set_flags(c->src, STA_PPSTIME, 0), -ENOLINK);
	KUNIT_EXPECT_EQ(test, ncpps_clock_flags(c->src), 0);
	edge(c, 0, 0);
	edge(c, 3, 0);		/* two edges missing */
	ncpps_read_stats(c->src, &st);
	KUNIT_EXPECT_EQ(test, st.edges, 2ULL);
	KUNIT_EXPECT_EQ(test, st.fed, 0ULL);
	KUNIT_EXPECT_EQ(test, st.gaps, 1ULL);
}

/*
 * The edge path's cost (the statistic the sources report): 200 edges with
 * interrupts off, each from a fresh PCC read to hardpps' return, ns.
 */
static void pps_edge_cost(struct kunit *test)
{
	struct pps_ctx *c = test->priv;
	struct ncpps_stats st;
	unsigned long flags;
	int k;

	for (k = 0; k < 200; k++) {
		u64 pcc = c->pcc0 + (u64)k * NSEC_PER_SEC;

		local_irq_save(flags);
		ncpps_edge(c->src, pcc, ktime_get_raw_fast_ns());
		local_irq_restore(flags);
	}
	ncpps_read_stats(c->src, &st);
	KUNIT_EXPECT_EQ(test, st.fed, 200ULL);
	KUNIT_EXPECT_GT(test, st.cost_min, 0ULL);
	kunit_info(test, "edge path: %llu edges, cost min %llu mean %llu max %llu ns\n",
		   st.cost_n, st.cost_min, div64_u64(st.cost_sum, st.cost_n),
		   st.cost_max);
	pps_grid += 200 * NSEC_PER_SEC;
}

static struct kunit_case pps_edge_cases[] = {
	KUNIT_CASE(pps_edges_reach_hardpps),
	KUNIT_CASE(pps_spike_rejected),
	KUNIT_CASE(pps_unbound_and_binding),
	KUNIT_CASE(pps_edge_cost),
	{}
};

static struct kunit_suite pps_edge_suite = {
	.name = "nanoclock_pps_edge",
	.init = pps_init,
	.exit = pps_exit,
	.test_cases = pps_edge_cases,
};

/* ---- the DCD line discipline ---- */

static void pps_ldisc_dcd_change(struct kunit *test)
{
	const struct tty_ldisc_ops *ops = ncpps_ldisc_get_ops();
	struct tty_struct *tty = kunit_kzalloc(test, sizeof(*tty), GFP_KERNEL);
	struct tty_struct *other = kunit_kzalloc(test, sizeof(*other), GFP_KERNEL);
	struct nanoclock *nc = nc_get_clock(0);
	struct ncpps_source *src;
	struct ncpps_stats st;
	unsigned long flags;
	u32 seq0;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, tty);
	KUNIT_ASSERT_NOT_NULL(test, other);
	KUNIT_ASSERT_NOT_NULL(test, nc);
	KUNIT_EXPECT_EQ(test, ops->num, N_DEVELOPMENT);
	KUNIT_ASSERT_NOT_NULL(test, ops->dcd_change);
	strscpy(tty->name, "ttyKUNIT0", sizeof(tty->name));
	KUNIT_ASSERT_EQ(test, ncpps_ldisc_attach(tty), 0);
	src = ncpps_ldisc_source(tty);
	KUNIT_ASSERT_NOT_NULL(test, src);
	KUNIT_EXPECT_STREQ(test, src->name, "ttyKUNIT0");
	KUNIT_EXPECT_STREQ(test, src->kind, "serial");
	KUNIT_EXPECT_EQ(test, ncpps_clock_index(src), 0);
	seq0 = src->pps->assert_sequence;

	/* as uart_handle_dcd_change() does: hard-IRQ-like, port lock held */
	for (i = 0; i < 3; i++) {
		local_irq_save(flags);
		ops->dcd_change(tty, true);
		ops->dcd_change(tty, false);
		ops->dcd_change(other, true);	/* not attached */
		local_irq_restore(flags);
	}
	ncpps_read_stats(src, &st);
	KUNIT_EXPECT_EQ(test, st.edges, 3ULL);
	KUNIT_EXPECT_EQ(test, st.fed, 3ULL);
	KUNIT_EXPECT_EQ(test, src->pps->assert_sequence - seq0, 3U);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(nc->nk.time_status) & STA_PPSSIGNAL);

	ncpps_ldisc_detach(tty);
	KUNIT_EXPECT_NULL(test, ncpps_ldisc_source(tty));
	local_irq_save(flags);
	ops->dcd_change(tty, true);		/* detached: ignored */
	local_irq_restore(flags);
}

static struct kunit_case pps_ldisc_cases[] = {
	KUNIT_CASE(pps_ldisc_dcd_change),
	{}
};

static struct kunit_suite pps_ldisc_suite = {
	.name = "nanoclock_pps_ldisc",
	.test_cases = pps_ldisc_cases,
};

kunit_test_suites(&pps_edge_suite, &pps_ldisc_suite);

MODULE_DESCRIPTION("KUnit: nanoclock PPS edge path");
MODULE_LICENSE("GPL");
