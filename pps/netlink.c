// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c - generic netlink family "nanoclock_pps": the wire contract first.
 *
 *   GET_SOURCE  doit (SOURCE) or dump: binding, statistics, kind's attributes
 *   SET_SOURCE  CAP_SYS_TIME; SOURCE + CLOCK / PPSTIME / PPSFREQ
 *   SET_SIM     CAP_SYS_TIME; SOURCE + SIM_* (simulated sources)
 *   EDGE        multicast on "events" after every edge (from a workqueue)
 *   INJECT      CAP_SYS_TIME; SOURCE + INJECT_* (bridge sources)
 *
 * CAP_SYS_TIME of the socket's opener and of the sender, as for SET_CLOCK
 * (nc_netlink_may_change_time): a PPS edge or binding changes a clock.
 *
 * Strict validation (resv_start_op 0): unknown and read-only attributes,
 * wrong lengths and out-of-range values are rejected with an extack
 * message; a SET applies nothing unless every part of it is valid.
 */
#include <linux/timex.h>
#include <net/genetlink.h>

#include "nanoclock_pps.h"

static const struct nla_policy ncpps_get_policy[NANOCLOCK_PPS_A_MAX + 1] = {
	[NANOCLOCK_PPS_A_SOURCE]	= { .type = NLA_U32 },
};

static const struct nla_policy ncpps_set_policy[NANOCLOCK_PPS_A_MAX + 1] = {
	[NANOCLOCK_PPS_A_SOURCE]	= { .type = NLA_U32 },
	[NANOCLOCK_PPS_A_CLOCK]		= NLA_POLICY_RANGE(NLA_S32, -1,
							   NC_MAX_INSTANCES - 1),
	[NANOCLOCK_PPS_A_PPSTIME]	= NLA_POLICY_MAX(NLA_U8, 1),
	[NANOCLOCK_PPS_A_PPSFREQ]	= NLA_POLICY_MAX(NLA_U8, 1),
};

static struct netlink_range_validation_signed ncpps_range_freq = {
	.min = -500000, .max = 500000,			/* ppb: +-500 ppm */
};

static struct netlink_range_validation_signed ncpps_range_phase = {
	.min = -(NSEC_PER_SEC / 2), .max = NSEC_PER_SEC / 2,	/* ns */
};

static struct netlink_range_validation ncpps_range_jitter = {
	.max = 100000000,				/* ns: 0.1 s */
};

static struct netlink_range_validation ncpps_range_ppm = {
	.max = 1000000,					/* ppm: always */
};

static struct netlink_range_validation ncpps_range_outage = {
	.max = 86400,					/* s */
};

static const struct nla_policy ncpps_sim_policy[NANOCLOCK_PPS_A_MAX + 1] = {
	[NANOCLOCK_PPS_A_SOURCE]	= { .type = NLA_U32 },
	[NANOCLOCK_PPS_A_SIM_FREQ]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &ncpps_range_freq),
	[NANOCLOCK_PPS_A_SIM_PHASE]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &ncpps_range_phase),
	[NANOCLOCK_PPS_A_SIM_JITTER]	= NLA_POLICY_FULL_RANGE(NLA_U32, &ncpps_range_jitter),
	[NANOCLOCK_PPS_A_SIM_SPIKE]	= NLA_POLICY_FULL_RANGE_SIGNED(NLA_S64, &ncpps_range_phase),
	[NANOCLOCK_PPS_A_SIM_SPIKE_PPM]	= NLA_POLICY_FULL_RANGE(NLA_U32, &ncpps_range_ppm),
	[NANOCLOCK_PPS_A_SIM_DROP_PPM]	= NLA_POLICY_FULL_RANGE(NLA_U32, &ncpps_range_ppm),
	[NANOCLOCK_PPS_A_SIM_OUTAGE]	= NLA_POLICY_FULL_RANGE(NLA_U32, &ncpps_range_outage),
};

static struct netlink_range_validation ncpps_range_nsec = {
	.max = NSEC_PER_SEC - 1,			/* ns */
};

static const struct nla_policy ncpps_inject_policy[NANOCLOCK_PPS_A_MAX + 1] = {
	[NANOCLOCK_PPS_A_SOURCE]	 = { .type = NLA_U32 },
	[NANOCLOCK_PPS_A_INJECT_CLOCKID] = { .type = NLA_S32 },
	[NANOCLOCK_PPS_A_INJECT_SEC]	 = NLA_POLICY_MIN(NLA_S64, 0),
	[NANOCLOCK_PPS_A_INJECT_NSEC]	 = NLA_POLICY_FULL_RANGE(NLA_U32, &ncpps_range_nsec),
};

static struct genl_family ncpps_genl_family;
static bool ncpps_genl_up;

/* ---- messages ---- */

static int ncpps_nl_fill(struct sk_buff *skb, struct ncpps_source *src,
			 u32 portid, u32 seq, int flags, u8 cmd)
{
	struct ncpps_stats st;
	s32 sta = ncpps_clock_flags(src);
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &ncpps_genl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	ncpps_read_stats(src, &st);
	if (nla_put_u32(skb, NANOCLOCK_PPS_A_SOURCE, src->index) ||
	    nla_put_string(skb, NANOCLOCK_PPS_A_NAME, src->name) ||
	    nla_put_string(skb, NANOCLOCK_PPS_A_KIND, src->kind) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_PPS_INDEX, src->pps->id) ||
	    nla_put_s32(skb, NANOCLOCK_PPS_A_CLOCK, ncpps_clock_index(src)) ||
	    nla_put_u8(skb, NANOCLOCK_PPS_A_PPSTIME, !!(sta & STA_PPSTIME)) ||
	    nla_put_u8(skb, NANOCLOCK_PPS_A_PPSFREQ, !!(sta & STA_PPSFREQ)) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_CLOCK_STATUS,
			READ_ONCE(src->clock_status)) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_EDGES, st.edges,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_FED, st.fed,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_REJECTED, st.rejected,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_POPCORN, st.popcorn,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_GAPS, st.gaps,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_LAST_PCC, st.last_pcc,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_INTERVAL, st.interval,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_PHASE, st.phase,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_JITTER, st.jitter,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_WANDER, st.wander,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_COST_LAST, st.cost_last,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_COST_MAX, st.cost_max,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_COST_MIN, st.cost_min,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_COST_MEAN,
			      st.cost_n ? div64_u64(st.cost_sum, st.cost_n) : 0,
			      NANOCLOCK_PPS_A_PAD))
		goto cancel;
	if (src->ops && src->ops->nl_fill && src->ops->nl_fill(src, skb))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* The request's source, under ncpps_mutex. */
static struct ncpps_source *ncpps_nl_source(struct genl_info *info)
{
	struct nlattr *a = info->attrs[NANOCLOCK_PPS_A_SOURCE];
	struct ncpps_source *src;

	if (!a) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "NANOCLOCK_PPS_A_SOURCE is required");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, NANOCLOCK_PPS_A_SOURCE);
		return ERR_PTR(-EINVAL);
	}
	src = ncpps_find(nla_get_u32(a));
	if (!src) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "no such PPS source");
		return ERR_PTR(-ENODEV);
	}
	return src;
}

static int ncpps_nl_reply(struct genl_info *info, struct ncpps_source *src)
{
	struct sk_buff *skb;
	int err;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	err = ncpps_nl_fill(skb, src, info->snd_portid, info->snd_seq, 0,
			    NANOCLOCK_PPS_CMD_GET_SOURCE);
	if (err) {
		nlmsg_free(skb);
		return err;
	}
	return genlmsg_reply(skb, info);
}

static int ncpps_nl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ncpps_source *src;
	int ret;

	mutex_lock(&ncpps_mutex);
	src = ncpps_nl_source(info);
	ret = IS_ERR(src) ? PTR_ERR(src) : ncpps_nl_reply(info, src);
	mutex_unlock(&ncpps_mutex);
	return ret;
}

static int ncpps_nl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ncpps_source *src;
	long done = cb->args[0];	/* list entries already sent */
	long i = 0;

	mutex_lock(&ncpps_mutex);
	list_for_each_entry(src, &ncpps_sources, node) {
		if (i++ < done)
			continue;
		if (ncpps_nl_fill(skb, src, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, NLM_F_MULTI,
				  NANOCLOCK_PPS_CMD_GET_SOURCE))
			break;
		done++;
	}
	mutex_unlock(&ncpps_mutex);
	cb->args[0] = done;
	return skb->len;
}

static int ncpps_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *a_clock = info->attrs[NANOCLOCK_PPS_A_CLOCK];
	struct nlattr *a_time = info->attrs[NANOCLOCK_PPS_A_PPSTIME];
	struct nlattr *a_freq = info->attrs[NANOCLOCK_PPS_A_PPSFREQ];
	struct ncpps_source *src;
	s32 set = 0, clear = 0;
	int clock, ret;

	ret = nc_netlink_may_change_time(skb, info->extack);
	if (ret)
		return ret;
	if (!a_clock && !a_time && !a_freq) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "nothing to set: give CLOCK, PPSTIME or PPSFREQ");
		return -EINVAL;
	}
	mutex_lock(&ncpps_mutex);
	src = ncpps_nl_source(info);
	if (IS_ERR(src)) {
		ret = PTR_ERR(src);
		goto out;
	}
	clock = a_clock ? nla_get_s32(a_clock) : ncpps_clock_index(src);
	/* check everything before changing anything */
	if (clock >= 0 && !nc_get_clock(clock)) {
		NL_SET_ERR_MSG_ATTR(info->extack, a_clock, "no such nanoclock");
		ret = -ENODEV;
		goto out;
	}
	if ((a_time || a_freq) && clock < 0) {
		NL_SET_ERR_MSG_ATTR(info->extack, a_time ? a_time : a_freq,
				    "PPSTIME/PPSFREQ need a bound clock");
		ret = -ENOLINK;
		goto out;
	}
	if (a_time)
		*(nla_get_u8(a_time) ? &set : &clear) |= STA_PPSTIME;
	if (a_freq)
		*(nla_get_u8(a_freq) ? &set : &clear) |= STA_PPSFREQ;
	ret = ncpps_bind(src, clock);
	if (!ret && (set | clear))
		ret = ncpps_set_flags(src, set, clear);
	if (ret) {
		NL_SET_ERR_MSG_MOD(info->extack, "binding rejected");
		goto out;
	}
	ret = ncpps_nl_reply(info, src);
out:
	mutex_unlock(&ncpps_mutex);
	return ret;
}

static int ncpps_nl_sim_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ncpps_source *src;
	int ret;

	ret = nc_netlink_may_change_time(skb, info->extack);
	if (ret)
		return ret;
	mutex_lock(&ncpps_mutex);
	src = ncpps_nl_source(info);
	if (IS_ERR(src)) {
		ret = PTR_ERR(src);
		goto out;
	}
	if (!src->ops || !src->ops->nl_set) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[NANOCLOCK_PPS_A_SOURCE],
				    "not a simulated source");
		ret = -EOPNOTSUPP;
		goto out;
	}
	ret = src->ops->nl_set(src, info->attrs, info->extack);
	if (!ret)
		ret = ncpps_nl_reply(info, src);
out:
	mutex_unlock(&ncpps_mutex);
	return ret;
}

static int ncpps_nl_inject_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ncpps_source *src;
	int ret;

	ret = nc_netlink_may_change_time(skb, info->extack);
	if (ret)
		return ret;
	mutex_lock(&ncpps_mutex);
	src = ncpps_nl_source(info);
	if (IS_ERR(src)) {
		ret = PTR_ERR(src);
		goto out;
	}
	if (!src->ops || !src->ops->nl_inject) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[NANOCLOCK_PPS_A_SOURCE],
				    "not a bridge source");
		ret = -EOPNOTSUPP;
		goto out;
	}
	ret = src->ops->nl_inject(src, info->attrs, info->extack);
out:
	mutex_unlock(&ncpps_mutex);
	return ret;
}

static const struct genl_ops ncpps_genl_ops[] = {
	{
		.cmd = NANOCLOCK_PPS_CMD_GET_SOURCE,
		.doit = ncpps_nl_get_doit,
		.dumpit = ncpps_nl_get_dumpit,
		.policy = ncpps_get_policy,
		.maxattr = NANOCLOCK_PPS_A_MAX,
	},
	{
		.cmd = NANOCLOCK_PPS_CMD_SET_SOURCE,
		.doit = ncpps_nl_set_doit,
		.policy = ncpps_set_policy,
		.maxattr = NANOCLOCK_PPS_A_MAX,
	},
	{
		.cmd = NANOCLOCK_PPS_CMD_SET_SIM,
		.doit = ncpps_nl_sim_doit,
		.policy = ncpps_sim_policy,
		.maxattr = NANOCLOCK_PPS_A_MAX,
	},
	{
		.cmd = NANOCLOCK_PPS_CMD_INJECT,
		.doit = ncpps_nl_inject_doit,
		.policy = ncpps_inject_policy,
		.maxattr = NANOCLOCK_PPS_A_MAX,
	},
};

static const struct genl_multicast_group ncpps_mcgrps[] = {
	{ .name = NANOCLOCK_PPS_MCGRP_EVENTS },
};

static struct genl_family ncpps_genl_family __ro_after_init = {
	.name = NANOCLOCK_PPS_GENL_NAME,
	.version = NANOCLOCK_PPS_GENL_VERSION,
	.maxattr = NANOCLOCK_PPS_A_MAX,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = ncpps_genl_ops,
	.n_ops = ARRAY_SIZE(ncpps_genl_ops),
	.mcgrps = ncpps_mcgrps,
	.n_mcgrps = ARRAY_SIZE(ncpps_mcgrps),
};

/* An EDGE event for @src (process context: the source's ev_work). */
void ncpps_netlink_edge_event(struct ncpps_source *src)
{
	struct sk_buff *skb;

	if (!READ_ONCE(ncpps_genl_up) ||
	    !genl_has_listeners(&ncpps_genl_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	mutex_lock(&ncpps_mutex);
	if (ncpps_nl_fill(skb, src, 0, 0, 0, NANOCLOCK_PPS_CMD_EDGE)) {
		mutex_unlock(&ncpps_mutex);
		nlmsg_free(skb);
		return;
	}
	mutex_unlock(&ncpps_mutex);
	nc_genl_multicast_allns(&ncpps_genl_family, skb, 0);
}

int ncpps_netlink_init(void)
{
	int err = genl_register_family(&ncpps_genl_family);

	if (!err)
		WRITE_ONCE(ncpps_genl_up, true);
	return err;
}

void ncpps_netlink_exit(void)
{
	WRITE_ONCE(ncpps_genl_up, false);
	genl_unregister_family(&ncpps_genl_family);
}
