// SPDX-License-Identifier: GPL-2.0
/*
 * nanoclock_kunit: KUnit suites for nanoclock.ko, linked against the
 * module's exported hooks (load nanoclock.ko first).
 *
 *   nanoclock_adjtime  validation and CAP_SYS_TIME rules of clock_adjtime;
 *                      invalid timespecs refused by settime (char device, PTP)
 *   nanoclock_tick     the hrtimer tick: targets, second boundaries
 *   nanoclock_latch    latch readers on one CPU, writers on another
 *   nanoclock_netlink  strict policies and SET parsing with extack
 *   nanoclock_unload   instance teardown with a reader still running
 */
#include <kunit/test.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/timex.h>
#include <net/netlink.h>

#include "../../kmod/nc_internal.h"

static struct nanoclock *clock0(struct kunit *test)
{
	struct nanoclock *nc = nc_get_clock(0);

	KUNIT_ASSERT_NOT_NULL(test, nc);
	return nc;
}

/* ---- adjtime: validation and permissions ---- */

static int adjtime_nocap(struct nanoclock *nc, struct __kernel_timex *tx)
{
	struct cred *c = prepare_creds();
	const struct cred *old;
	int ret;

	if (!c)
		return -ENOMEM;
	cap_lower(c->cap_effective, CAP_SYS_TIME);
	old = override_creds(c);
	ret = nc_adjtime_user(nc, tx);
	revert_creds(old);
	put_cred(c);
	return ret;
}

static void adjtime_permissions(struct kunit *test)
{
	struct nanoclock *nc = clock0(test);
	struct __kernel_timex tx = {};

	KUNIT_EXPECT_GE(test, adjtime_nocap(nc, &tx), 0);	/* read */
	tx.modes = ADJ_ADJTIME | ADJ_OFFSET_SINGLESHOT | ADJ_OFFSET_READONLY;
	KUNIT_EXPECT_GE(test, adjtime_nocap(nc, &tx), 0);
	tx.modes = ADJ_FREQUENCY;
	KUNIT_EXPECT_EQ(test, adjtime_nocap(nc, &tx), -EPERM);
	tx.modes = ADJ_STATUS;
	KUNIT_EXPECT_EQ(test, adjtime_nocap(nc, &tx), -EPERM);
	tx.modes = ADJ_ADJTIME | ADJ_OFFSET_SINGLESHOT;	/* adjtime() slew */
	KUNIT_EXPECT_EQ(test, adjtime_nocap(nc, &tx), -EPERM);
	KUNIT_EXPECT_TRUE(test, nc_adjtime_needs_cap(&tx));
	tx.modes = 0;
	KUNIT_EXPECT_FALSE(test, nc_adjtime_needs_cap(&tx));
}

static void adjtime_validation(struct kunit *test)
{
	struct nanoclock *nc = clock0(test);
	struct __kernel_timex tx = {};

	tx.modes = ADJ_ADJTIME;			/* without SINGLESHOT */
	KUNIT_EXPECT_EQ(test, nc_adjtime_user(nc, &tx), -EINVAL);
	tx.modes = ADJ_TICK;
	tx.tick = 1;
	KUNIT_EXPECT_EQ(test, nc_adjtime_user(nc, &tx), -EINVAL);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_SETOFFSET | ADJ_NANO;
	tx.time.tv_usec = NSEC_PER_SEC;
	KUNIT_EXPECT_EQ(test, nc_adjtime_user(nc, &tx), -EINVAL);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 12LL << 16;
	KUNIT_EXPECT_GE(test, nc_adjtime_user(nc, &tx), 0);
	memset(&tx, 0, sizeof(tx));
	KUNIT_EXPECT_GE(test, nc_adjtime_user(nc, &tx), 0);
	KUNIT_EXPECT_EQ(test, tx.freq, 12LL << 16);
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 0;
	KUNIT_EXPECT_GE(test, nc_adjtime_user(nc, &tx), 0);
}

/* ns from @a to @b */
static s64 nk_time_diff(const struct nk_time *a, const struct nk_time *b)
{
	return (b->sec - a->sec) * NSEC_PER_SEC + (b->nsec - a->nsec);
}

/*
 * clock_settime through the char device's and the PTP view's own
 * callbacks (what a kernel without the POSIX layer's check would pass on):
 * invalid timespecs are -EINVAL and the clock keeps its time.
 */
static void settime_invalid(struct kunit *test)
{
	struct nanoclock *nc = clock0(test);
	struct nk_time before, after;
	struct timespec64 ts;
	int i;

	nc_read(nc, &before, NULL);
	for (i = 0; i < 5; i++) {
		/* each far from the clock's time: a wrong set shows */
		ts.tv_sec = before.sec + 1000;
		ts.tv_nsec = 0;
		switch (i) {
		case 0:
			ts.tv_nsec = NSEC_PER_SEC;
			break;
		case 1:
			ts.tv_nsec = -1;
			break;
		case 2:
			ts.tv_sec = -1000;
			break;
		case 3:
			ts.tv_sec = KTIME_SEC_MAX + 1;
			break;
		case 4:
			ts.tv_sec = -1;
			ts.tv_nsec = NSEC_PER_SEC - 1;
			break;
		}
		KUNIT_EXPECT_EQ_MSG(test, nc->pclk.ops.clock_settime(&nc->pclk, &ts),
				    -EINVAL, "char device, case %d", i);
		if (nc->ptp)
			KUNIT_EXPECT_EQ_MSG(test,
					    nc->ptp_info.settime64(&nc->ptp_info, &ts),
					    -EINVAL, "PTP view, case %d", i);
	}
	nc_read(nc, &after, NULL);
	/* unchanged: only the run time of the calls passed (ns) */
	KUNIT_EXPECT_GE(test, nk_time_diff(&before, &after), 0);
	KUNIT_EXPECT_LT(test, nk_time_diff(&before, &after), 10 * NSEC_PER_SEC);
	KUNIT_EXPECT_NOT_NULL(test, nc->ptp);

	/* a valid time is still accepted, by both */
	nc_read(nc, &before, NULL);
	ts.tv_sec = before.sec;
	ts.tv_nsec = before.nsec;
	KUNIT_EXPECT_EQ(test, nc->pclk.ops.clock_settime(&nc->pclk, &ts), 0);
	if (nc->ptp)
		KUNIT_EXPECT_EQ(test, nc->ptp_info.settime64(&nc->ptp_info, &ts), 0);
}

static struct kunit_case adjtime_cases[] = {
	KUNIT_CASE(adjtime_permissions),
	KUNIT_CASE(adjtime_validation),
	KUNIT_CASE(settime_invalid),
	{}
};

static struct kunit_suite adjtime_suite = {
	.name = "nanoclock_adjtime",
	.test_cases = adjtime_cases,
};

/* ---- tick and second processing ---- */

static void tick_targets(struct kunit *test)
{
	struct nanoclock *nc = clock0(test);
	u64 now, target;
	int i;

	for (i = 0; i < 20; i++) {
		target = nc_tick(nc, &now);
		KUNIT_EXPECT_GT(test, target, now);
		KUNIT_EXPECT_LE(test, target, now + nc->period_ns);
		/* a target short of a full period is the next second boundary */
		if (target < now + nc->period_ns)
			KUNIT_EXPECT_EQ(test, target, (u64)nc->nk.next_second_pcc);
		usleep_range(20000, 30000);
	}
}

static void tick_seconds(struct kunit *test)
{
	struct nanoclock *nc = clock0(test);
	u64 s0 = READ_ONCE(nc->seconds), t0 = READ_ONCE(nc->ticks);
	struct nc_pub p;
	struct nk_time now;

	msleep(2100);
	KUNIT_EXPECT_GE(test, READ_ONCE(nc->seconds) - s0, 2ULL);
	KUNIT_EXPECT_GE(test, READ_ONCE(nc->ticks) - t0, 2ULL * 1);
	/* the published base is at most one tick old */
	nc_read_pub(nc, &p);
	nc_read(nc, &now, NULL);
	KUNIT_EXPECT_LE(test, now.sec - p.tb.sec, 1LL);
}

static struct kunit_case tick_cases[] = {
	KUNIT_CASE(tick_targets),
	KUNIT_CASE(tick_seconds),
	{}
};

static struct kunit_suite tick_suite = {
	.name = "nanoclock_tick",
	.test_cases = tick_cases,
};

/* ---- latch readers under concurrent writers on another CPU ---- */

struct latch_ctx {
	struct nanoclock *nc;
	bool stop;
	unsigned long writes;
};

static int latch_writer(void *arg)
{
	struct latch_ctx *ctx = arg;
	struct __kernel_timex tx;
	u64 now;
	int k = 0;

	while (!READ_ONCE(ctx->stop)) {
		memset(&tx, 0, sizeof(tx));
		k = (k + 1) % 100;
		/* esterror and tai move together: readers check the pair */
		tx.modes = ADJ_ESTERROR | ADJ_TAI | ADJ_FREQUENCY;
		tx.esterror = 1000 + k;
		tx.constant = k;
		tx.freq = (k & 1 ? 400LL : -400LL) << 16;
		nc_adjtime(ctx->nc, &tx);
		nc_tick(ctx->nc, &now);
		ctx->writes++;
		cond_resched();
	}
	return 0;
}

static void latch_concurrent(struct kunit *test)
{
	struct latch_ctx ctx = { .nc = clock0(test) };
	struct task_struct *w;
	unsigned long reads = 0, torn = 0, back = 0;
	struct nk_time t, last = {};
	unsigned long end;
	struct nc_pub p;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs 2 CPUs");
	w = kthread_create(latch_writer, &ctx, "nc-latch-writer");
	KUNIT_ASSERT_FALSE(test, IS_ERR(w));
	kthread_bind(w, 1);
	get_task_struct(w);
	wake_up_process(w);
	end = jiffies + msecs_to_jiffies(1000);
	while (time_before(jiffies, end)) {
		nc_read_pub(ctx.nc, &p);
		if (p.esterror - 1000 != p.tai && ctx.writes)
			torn++;
		nc_read(ctx.nc, &t, NULL);
		if (t.sec < last.sec || (t.sec == last.sec && t.nsec < last.nsec))
			back++;
		last = t;
		reads++;
		if (!(reads & 1023))
			cond_resched();
	}
	WRITE_ONCE(ctx.stop, true);
	kthread_stop(w);
	put_task_struct(w);
	kunit_info(test, "%lu reads, %lu writes", reads, ctx.writes);
	KUNIT_EXPECT_GT(test, ctx.writes, 100UL);
	KUNIT_EXPECT_EQ(test, torn, 0UL);
	KUNIT_EXPECT_EQ(test, back, 0UL);
	memset(&p, 0, sizeof(p));
	{
		struct __kernel_timex tx = { .modes = ADJ_FREQUENCY | ADJ_TAI };

		nc_adjtime(ctx.nc, &tx);
	}
}

static struct kunit_case latch_cases[] = {
	KUNIT_CASE(latch_concurrent),
	{}
};

static struct kunit_suite latch_suite = {
	.name = "nanoclock_latch",
	.test_cases = latch_cases,
};

/* ---- netlink: strict policies, SET parsing ---- */

static int nl_parse(struct kunit *test, struct sk_buff *skb,
		    struct nlattr **tb, struct netlink_ext_ack *ext)
{
	return nla_parse(tb, NANOCLOCK_A_MAX, (struct nlattr *)skb->data,
			 skb->len, nc_netlink_set_policy, ext);
}

static void netlink_policies(struct kunit *test)
{
	struct nlattr *tb[NANOCLOCK_A_MAX + 1];
	struct netlink_ext_ack ext = {};
	struct sk_buff *skb;

	skb = alloc_skb(1024, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);

	/* wrong length: u16 for an s64 */
	nla_put_u16(skb, NANOCLOCK_A_FREQ, 1);
	KUNIT_EXPECT_LT(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_NOT_NULL(test, ext._msg);
	skb_trim(skb, 0);

	/* out of range */
	memset(&ext, 0, sizeof(ext));
	nla_put_s64(skb, NANOCLOCK_A_FREQ, 600LL << 16, NANOCLOCK_A_PAD);
	KUNIT_EXPECT_LT(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_NOT_NULL(test, ext._msg);
	skb_trim(skb, 0);

	/* index beyond the instance limit */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_INDEX, NC_MAX_INSTANCES);
	KUNIT_EXPECT_LT(test, nl_parse(test, skb, tb, &ext), 0);
	skb_trim(skb, 0);

	/* mode bit outside the accepted mask */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_MODES, ADJ_NANO);
	KUNIT_EXPECT_LT(test, nl_parse(test, skb, tb, &ext), 0);
	skb_trim(skb, 0);

	/* read-only and unknown attributes are rejected in strict mode */
	memset(&ext, 0, sizeof(ext));
	nla_put_s64(skb, NANOCLOCK_A_TIME_SEC, 1, NANOCLOCK_A_PAD);
	KUNIT_EXPECT_LT(test, nla_parse(tb, NANOCLOCK_A_MAX, (void *)skb->data,
					skb->len, nc_netlink_set_policy, &ext), 0);
	skb_trim(skb, 0);
	nla_put_u32(skb, NANOCLOCK_A_MAX + 5, 1);
	KUNIT_EXPECT_LT(test, nl_parse(test, skb, tb, &ext), 0);
	skb_trim(skb, 0);

	/* truncated attribute header */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_INDEX, 0);
	KUNIT_EXPECT_LT(test, nla_parse(tb, NANOCLOCK_A_MAX, (void *)skb->data,
					skb->len - 6, nc_netlink_set_policy, &ext), 0);
	kfree_skb(skb);
}

static void netlink_set_parsing(struct kunit *test)
{
	struct nlattr *tb[NANOCLOCK_A_MAX + 1];
	struct netlink_ext_ack ext = {};
	struct __kernel_timex tx;
	struct sk_buff *skb;
	s64 step;

	skb = alloc_skb(1024, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);

	/* mode bit without its attribute */
	nla_put_u32(skb, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(skb, NANOCLOCK_A_MODES, ADJ_FREQUENCY);
	KUNIT_ASSERT_EQ(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_EQ(test, nc_netlink_parse_set(tb, &tx, &step, &ext), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, ext._msg);
	KUNIT_EXPECT_EQ(test, ext.miss_type, (u32)NANOCLOCK_A_FREQ);
	skb_trim(skb, 0);

	/* attribute without its mode bit */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(skb, NANOCLOCK_A_MODES, 0);
	nla_put_s64(skb, NANOCLOCK_A_OFFSET, 5, NANOCLOCK_A_PAD);
	KUNIT_ASSERT_EQ(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_EQ(test, nc_netlink_parse_set(tb, &tx, &step, &ext), -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, ext.bad_attr, (const struct nlattr *)tb[NANOCLOCK_A_OFFSET]);
	skb_trim(skb, 0);

	/* missing MODES */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_INDEX, 0);
	KUNIT_ASSERT_EQ(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_EQ(test, nc_netlink_parse_set(tb, &tx, &step, &ext), -EINVAL);
	skb_trim(skb, 0);

	/* a good one: frequency and a step */
	memset(&ext, 0, sizeof(ext));
	nla_put_u32(skb, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(skb, NANOCLOCK_A_MODES, ADJ_FREQUENCY | ADJ_SETOFFSET);
	nla_put_s64(skb, NANOCLOCK_A_FREQ, -7LL << 16, NANOCLOCK_A_PAD);
	nla_put_s64(skb, NANOCLOCK_A_SETOFFSET, -1500, NANOCLOCK_A_PAD);
	KUNIT_ASSERT_EQ(test, nl_parse(test, skb, tb, &ext), 0);
	KUNIT_EXPECT_EQ(test, nc_netlink_parse_set(tb, &tx, &step, &ext), 0);
	KUNIT_EXPECT_EQ(test, tx.modes, (unsigned int)ADJ_FREQUENCY);
	KUNIT_EXPECT_EQ(test, tx.freq, -7LL << 16);
	KUNIT_EXPECT_EQ(test, step, -1500LL);
	kfree_skb(skb);
}

static struct kunit_case netlink_cases[] = {
	KUNIT_CASE(netlink_policies),
	KUNIT_CASE(netlink_set_parsing),
	{}
};

static struct kunit_suite netlink_suite = {
	.name = "nanoclock_netlink",
	.test_cases = netlink_cases,
};

/* ---- teardown of a busy instance ---- */

struct busy_ctx {
	struct nanoclock *nc;
	bool stop;
	unsigned long reads;
};

static int busy_reader(void *arg)
{
	struct busy_ctx *ctx = arg;
	struct nk_time t;

	while (!READ_ONCE(ctx->stop)) {
		nc_read(ctx->nc, &t, NULL);
		ctx->reads++;
		cond_resched();
	}
	return 0;
}

static void unload_busy(struct kunit *test)
{
	struct busy_ctx ctx = {};
	struct task_struct *r;
	struct file *f;
	struct nanoclock *nc;
	int i;

	for (i = 0; i < 3; i++) {
		nc = nc_clock_create(NC_MAX_INSTANCES - 1, 0, 1000);
		KUNIT_ASSERT_NOT_NULL(test, nc);
		KUNIT_ASSERT_EQ(test, nc_chardev_register(nc), 0);
		nc_clock_start(nc);
		get_device(&nc->dev);		/* the reader's reference */
		ctx.nc = nc;
		ctx.stop = false;
		r = kthread_run(busy_reader, &ctx, "nc-busy-reader");
		KUNIT_ASSERT_FALSE(test, IS_ERR(r));
		get_task_struct(r);
		f = filp_open("/dev/nanoclock15", O_RDONLY, 0);
		msleep(50);
		/* module-exit order, with the reader and the open file alive */
		nc_clock_stop(nc);
		nc_clock_quiesce(nc);
		nc_chardev_unregister(nc);
		msleep(20);
		KUNIT_EXPECT_TRUE(test, READ_ONCE(nc->page->flags) & NANOCLOCK_PAGE_F_DEAD);
		if (!IS_ERR(f))
			filp_close(f, NULL);
		WRITE_ONCE(ctx.stop, true);
		kthread_stop(r);
		put_task_struct(r);
		KUNIT_EXPECT_GT(test, ctx.reads, 0UL);
		put_device(&nc->dev);		/* frees: kmemleak watches */
	}
}

static struct kunit_case unload_cases[] = {
	KUNIT_CASE(unload_busy),
	{}
};

static struct kunit_suite unload_suite = {
	.name = "nanoclock_unload",
	.test_cases = unload_cases,
};

kunit_test_suites(&adjtime_suite, &tick_suite, &latch_suite, &netlink_suite,
		  &unload_suite);

MODULE_DESCRIPTION("KUnit tests for nanoclock.ko");
MODULE_LICENSE("GPL");
