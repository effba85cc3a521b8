// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c - generic netlink family "nanoclock": the wire contract first.
 *
 *   GET_CLOCK  doit (INDEX) or dump: full status of each clock
 *   SET_CLOCK  CAP_SYS_TIME (of the socket's opener and the sender);
 *              MODES + one attribute per mode bit, like clock_adjtime;
 *              offsets in ns; replies with the new status
 *   EVENT      multicast on "events" (initial netns), sent from a workqueue
 *
 * Validation is strict (resv_start_op 0): unknown or read-only attributes
 * in a request, a reserved header byte, wrong lengths and out-of-range
 * values are rejected with an extack message naming the attribute.
 */
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/timex.h>
#include <net/genetlink.h>

#include "nc_internal.h"

/* Mode bits a SET_CLOCK may carry; ADJ_NANO is implied for offsets. */
#define NC_NL_MODES (ADJ_OFFSET | ADJ_FREQUENCY | ADJ_MAXERROR | \
		     ADJ_ESTERROR | ADJ_STATUS | ADJ_TIMECONST | ADJ_TAI | \
		     ADJ_SETOFFSET | ADJ_TICK)

static struct netlink_range_validation_signed nc_range_offset = {
	.min = -NK_MAXPHASE, .max = NK_MAXPHASE,		/* ns */
};

static struct netlink_range_validation_signed nc_range_freq = {
	.min = -(NK_MAXFREQ << 16) / 1000, .max = (NK_MAXFREQ << 16) / 1000,
};

static struct netlink_range_validation_signed nc_range_error = {
	.min = 0, .max = NK_PHASE_LIMIT_US,			/* us */
};

static struct netlink_range_validation_signed nc_range_constant = {
	.min = 0, .max = NK_MAXTC,
};

static struct netlink_range_validation_signed nc_range_tai = {
	.min = 0, .max = NK_MAX_TAI_OFFSET,
};

static struct netlink_range_validation_signed nc_range_step = {
	.min = -(100LL * 365 * 86400 * NSEC_PER_SEC),	/* a century, ns */
	.max = 100LL * 365 * 86400 * NSEC_PER_SEC,
};

static struct netlink_range_validation_signed nc_range_tick = {
	.min = 900000 / USER_HZ, .max = 1100000 / USER_HZ,	/* us */
};

static const struct nla_policy nc_get_policy[NANOCLOCK_A_MAX + 1] = {
	[NANOCLOCK_A_INDEX]	= NLA_POLICY_MAX(NLA_U32, NC_MAX_INSTANCES - 1),
};

static const struct nla_policy nc_set_policy[NANOCLOCK_A_MAX + 1] = {
	[NANOCLOCK_A_INDEX]	= NLA_POLICY_MAX(NLA_U32, NC_MAX_INSTANCES - 1),
	[NANOCLOCK_A_MODES]	= NLA_POLICY_MASK(NLA_U32, NC_NL_MODES),
	[NANOCLOCK_A_OFFSET]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_offset),
	[NANOCLOCK_A_FREQ]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_freq),
	[NANOCLOCK_A_MAXERROR]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_error),
	[NANOCLOCK_A_ESTERROR]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_error),
	[NANOCLOCK_A_STATUS]	= NLA_POLICY_MASK(NLA_U32, 0xffff),
	[NANOCLOCK_A_CONSTANT]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_constant),
	[NANOCLOCK_A_TAI]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S32, &nc_range_tai),
	[NANOCLOCK_A_SETOFFSET]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_step),
	[NANOCLOCK_A_TICK]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &nc_range_tick),
};

/* Which attribute carries the value of each SET_CLOCK mode bit. */
static const struct {
	u32 mode;
	int attr;
} nc_mode_attrs[] = {
	{ ADJ_OFFSET,	 NANOCLOCK_A_OFFSET },
	{ ADJ_FREQUENCY, NANOCLOCK_A_FREQ },
	{ ADJ_MAXERROR,	 NANOCLOCK_A_MAXERROR },
	{ ADJ_ESTERROR,	 NANOCLOCK_A_ESTERROR },
	{ ADJ_STATUS,	 NANOCLOCK_A_STATUS },
	{ ADJ_TIMECONST, NANOCLOCK_A_CONSTANT },
	{ ADJ_TAI,	 NANOCLOCK_A_TAI },
	{ ADJ_SETOFFSET, NANOCLOCK_A_SETOFFSET },
	{ ADJ_TICK,	 NANOCLOCK_A_TICK },
};

static struct genl_family nc_genl_family;
/*
 * Event delivery is open while nc_genl_up; nc_genl_event_lock is held
 * across the test and the multicast, so once nc_netlink_exit() has closed
 * it no event is on its way to the family it unregisters.
 */
static DEFINE_MUTEX(nc_genl_event_lock);
static bool nc_genl_up;

/* ---- SET_CLOCK: attributes to a timex ---- */

/*
 * Build @tx from validated attributes. Every mode bit needs its attribute
 * and every value attribute needs its mode bit. ADJ_SETOFFSET is returned
 * in @tx->time as ns (tv_sec = 0, tv_usec unused): the caller steps with
 * nc_step(). Returns 0 or -EINVAL with @extack set.
 */
int nc_netlink_parse_set(struct nlattr **attrs, struct __kernel_timex *tx,
			 s64 *step_ns, struct netlink_ext_ack *extack)
{
	u32 modes;
	int i;

	memset(tx, 0, sizeof(*tx));
	*step_ns = 0;
	if (!attrs[NANOCLOCK_A_INDEX]) {
		NL_SET_ERR_MSG_MOD(extack, "NANOCLOCK_A_INDEX is required");
		return -EINVAL;
	}
	if (!attrs[NANOCLOCK_A_MODES]) {
		NL_SET_ERR_MSG_MOD(extack, "NANOCLOCK_A_MODES is required");
		return -EINVAL;
	}
	modes = nla_get_u32(attrs[NANOCLOCK_A_MODES]);
	for (i = 0; i < ARRAY_SIZE(nc_mode_attrs); i++) {
		bool want = modes & nc_mode_attrs[i].mode;
		struct nlattr *a = attrs[nc_mode_attrs[i].attr];

		if (want && !a) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[NANOCLOCK_A_MODES],
					    "mode bit without its value attribute");
			NL_SET_ERR_ATTR_MISS(extack, NULL, nc_mode_attrs[i].attr);
			return -EINVAL;
		}
		if (!want && a) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "attribute without its mode bit");
			return -EINVAL;
		}
	}
	tx->modes = modes & ~ADJ_SETOFFSET;
	if (modes & ADJ_OFFSET)
		tx->offset = nla_get_s64(attrs[NANOCLOCK_A_OFFSET]);	/* ns */
	if (modes & ADJ_FREQUENCY)
		tx->freq = nla_get_s64(attrs[NANOCLOCK_A_FREQ]);
	if (modes & ADJ_MAXERROR)
		tx->maxerror = nla_get_s64(attrs[NANOCLOCK_A_MAXERROR]);
	if (modes & ADJ_ESTERROR)
		tx->esterror = nla_get_s64(attrs[NANOCLOCK_A_ESTERROR]);
	if (modes & ADJ_STATUS)
		tx->status = nla_get_u32(attrs[NANOCLOCK_A_STATUS]);
	if (modes & ADJ_TIMECONST)
		tx->constant = nla_get_s64(attrs[NANOCLOCK_A_CONSTANT]);
	if (modes & ADJ_TAI)
		tx->constant = nla_get_s32(attrs[NANOCLOCK_A_TAI]);
	if (modes & ADJ_TICK)
		tx->tick = nla_get_s64(attrs[NANOCLOCK_A_TICK]);
	if (modes & ADJ_SETOFFSET)
		*step_ns = nla_get_s64(attrs[NANOCLOCK_A_SETOFFSET]);
	if ((modes & ADJ_TAI) && (modes & ADJ_TIMECONST)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "ADJ_TAI and ADJ_TIMECONST share timex.constant");
		return -EINVAL;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(nc_netlink_parse_set);

/* ---- messages ---- */

static int nc_nl_fill(struct sk_buff *skb, struct nanoclock *nc, u32 portid,
		      u32 seq, int flags, u8 cmd, int event, int state)
{
	struct __kernel_timex tx;
	struct nk_ntptime nt;
	void *hdr;
	s64 offset, jitter;
	char name[16];
	int snap;

	hdr = genlmsg_put(skb, portid, seq, &nc_genl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	snap = nc_snapshot(nc, &tx, &nt);
	/* report offsets in ns whatever the clock's STA_NANO */
	offset = tx.offset;
	jitter = tx.jitter;
	if (!(tx.status & STA_NANO)) {
		offset *= NSEC_PER_USEC;
		jitter *= NSEC_PER_USEC;
	}
	if (state < 0)
		state = snap;
	snprintf(name, sizeof(name), NANOCLOCK_DEV_PREFIX "%d", nc->index);
	if (nla_put_u32(skb, NANOCLOCK_A_INDEX, nc->index) ||
	    nla_put_string(skb, NANOCLOCK_A_NAME, name) ||
	    nla_put_s32(skb, NANOCLOCK_A_PTP_INDEX,
			nc->ptp ? ptp_clock_index(nc->ptp) : -1) ||
	    nla_put_s64(skb, NANOCLOCK_A_TIME_SEC, nt.time.sec, NANOCLOCK_A_PAD) ||
	    nla_put_u32(skb, NANOCLOCK_A_TIME_NSEC, nt.time.nsec) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_A_PCC_NS, nt.pcc_ns, NANOCLOCK_A_PAD) ||
	    nla_put_s32(skb, NANOCLOCK_A_STATE, state) ||
	    nla_put_u32(skb, NANOCLOCK_A_STATUS, tx.status) ||
	    nla_put_s32(skb, NANOCLOCK_A_TAI, tx.tai) ||
	    nla_put_s64(skb, NANOCLOCK_A_MAXERROR, tx.maxerror, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_ESTERROR, tx.esterror, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_OFFSET, offset, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_FREQ, tx.freq, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_CONSTANT, tx.constant, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_PRECISION, tx.precision, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_TOLERANCE, tx.tolerance, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_TICK, tx.tick, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_PPSFREQ, tx.ppsfreq, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_JITTER, jitter, NANOCLOCK_A_PAD) ||
	    nla_put_s32(skb, NANOCLOCK_A_SHIFT, tx.shift) ||
	    nla_put_s64(skb, NANOCLOCK_A_STABIL, tx.stabil, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_JITCNT, tx.jitcnt, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_CALCNT, tx.calcnt, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_ERRCNT, tx.errcnt, NANOCLOCK_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_A_STBCNT, tx.stbcnt, NANOCLOCK_A_PAD))
		goto cancel;
	if (event >= 0 && nla_put_u32(skb, NANOCLOCK_A_EVENT, event))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static struct nanoclock *nc_nl_clock(struct genl_info *info)
{
	struct nlattr *a = info->attrs[NANOCLOCK_A_INDEX];
	struct nanoclock *nc;

	if (!a) {
		NL_SET_ERR_MSG_MOD(info->extack, "NANOCLOCK_A_INDEX is required");
		return ERR_PTR(-EINVAL);
	}
	nc = nc_get_clock(nla_get_u32(a));
	if (!nc) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "no such clock");
		return ERR_PTR(-ENODEV);
	}
	return nc;
}

static int nc_nl_reply(struct genl_info *info, struct nanoclock *nc, int state)
{
	struct sk_buff *skb;
	int err;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	err = nc_nl_fill(skb, nc, info->snd_portid, info->snd_seq, 0,
			 NANOCLOCK_CMD_GET_CLOCK, -1, state);
	if (err) {
		nlmsg_free(skb);
		return err;
	}
	return genlmsg_reply(skb, info);
}

static int nc_nl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nanoclock *nc = nc_nl_clock(info);

	if (IS_ERR(nc))
		return PTR_ERR(nc);
	return nc_nl_reply(info, nc, -1);
}

static int nc_nl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	int i = cb->args[0];
	struct nanoclock *nc;

	for (; i < nc_clock_count(); i++) {
		nc = nc_get_clock(i);
		if (!nc)
			continue;
		if (nc_nl_fill(skb, nc, NETLINK_CB(cb->skb).portid,
			       cb->nlh->nlmsg_seq, NLM_F_MULTI,
			       NANOCLOCK_CMD_GET_CLOCK, -1, -1))
			break;
	}
	cb->args[0] = i;
	return skb->len;
}

static int nc_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct __kernel_timex tx;
	struct nanoclock *nc;
	s64 step;
	int ret;

	ret = nc_netlink_may_change_time(skb, info->extack);
	if (ret)
		return ret;
	ret = nc_netlink_parse_set(info->attrs, &tx, &step, info->extack);
	if (ret)
		return ret;
	nc = nc_nl_clock(info);
	if (IS_ERR(nc))
		return PTR_ERR(nc);
	/* ns offsets into the clock's current unit, STA_NANO untouched */
	if ((tx.modes & ADJ_OFFSET) && !(READ_ONCE(nc->nk.time_status) & STA_NANO))
		tx.offset = div_s64(tx.offset, NSEC_PER_USEC);
	if (nk_adjtime_validate(&tx)) {
		NL_SET_ERR_MSG_MOD(info->extack, "adjustment rejected by the clock");
		return -EINVAL;
	}
	if (step)
		nc_step(nc, step);
	ret = nc_adjtime(nc, &tx);
	if (ret < 0) {
		NL_SET_ERR_MSG_MOD(info->extack, "adjustment rejected by the clock");
		return ret;
	}
	return nc_nl_reply(info, nc, ret);
}

static const struct genl_ops nc_genl_ops[] = {
	{
		.cmd = NANOCLOCK_CMD_GET_CLOCK,
		.doit = nc_nl_get_doit,
		.dumpit = nc_nl_get_dumpit,
		.policy = nc_get_policy,
		.maxattr = NANOCLOCK_A_MAX,
	},
	{
		.cmd = NANOCLOCK_CMD_SET_CLOCK,
		.doit = nc_nl_set_doit,
		.policy = nc_set_policy,
		.maxattr = NANOCLOCK_A_MAX,
		/* CAP_SYS_TIME, checked in the doit: not CAP_NET_ADMIN */
	},
};

static const struct genl_multicast_group nc_mcgrps[] = {
	{ .name = NANOCLOCK_GENL_MCGRP_EVENTS },
};

static struct genl_family nc_genl_family __ro_after_init = {
	.name = NANOCLOCK_GENL_NAME,
	.version = NANOCLOCK_GENL_VERSION,
	.maxattr = NANOCLOCK_A_MAX,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = nc_genl_ops,
	.n_ops = ARRAY_SIZE(nc_genl_ops),
	.mcgrps = nc_mcgrps,
	.n_mcgrps = ARRAY_SIZE(nc_mcgrps),
};

/* ---- events (process context: the clock's event_work) ---- */

void nc_netlink_event(struct nanoclock *nc, enum nanoclock_event ev)
{
	struct sk_buff *skb;

	might_sleep();
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (nc_nl_fill(skb, nc, 0, 0, 0, NANOCLOCK_CMD_EVENT, ev, -1)) {
		nlmsg_free(skb);
		return;
	}
	mutex_lock(&nc_genl_event_lock);
	if (nc_genl_up)
		nc_genl_multicast_allns(&nc_genl_family, skb, 0);
	else
		nlmsg_free(skb);
	mutex_unlock(&nc_genl_event_lock);
}

int nc_netlink_init(void)
{
	int err = genl_register_family(&nc_genl_family);

	if (!err) {
		mutex_lock(&nc_genl_event_lock);
		nc_genl_up = true;
		mutex_unlock(&nc_genl_event_lock);
	}
	return err;
}

/*
 * Close event delivery, then unregister the family (which waits for running
 * requests). Events queued meanwhile are dropped; the caller flushes each
 * clock's event work afterwards.
 */
void nc_netlink_exit(void)
{
	mutex_lock(&nc_genl_event_lock);
	nc_genl_up = false;
	mutex_unlock(&nc_genl_event_lock);
	genl_unregister_family(&nc_genl_family);
}

#if IS_ENABLED(CONFIG_KUNIT)
const struct nla_policy *nc_netlink_set_policy = nc_set_policy;
EXPORT_SYMBOL_GPL(nc_netlink_set_policy);
#endif
