// SPDX-License-Identifier: GPL-2.0
/*
 * bridge.c - nanoclock-pps-bridge.ko: edges of any other /dev/ppsN.
 *
 * Existing Linux PPS clients (pps-ldisc, pps-gpio, a PHC's PPS) stamp their
 * edges with CLOCK_REALTIME only. The daemon reads them through RFC 2783
 * (time_pps_fetch) and injects each assert stamp with NANOCLOCK_PPS_CMD_INJECT
 * (CAP_SYS_TIME). The stamp is mapped onto the PCC with one timekeeping
 * snapshot taken on arrival:
 *
 *	pcc = snap.raw - (snap.real - stamp)		(ns)
 *
 * which is exact up to the system clock's slew over the age of the stamp
 * (<= 500 ppm of at most 2 s; ntpd/chrony keep it near 0). The edge then
 * takes the shared path (hardpps of the bound clock, its own /dev/ppsN).
 *
 *   insmod nanoclock-pps-bridge.ko [sources=1] [clock=0]
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "nanoclock_pps.h"

static uint sources = 1;
module_param(sources, uint, 0444);
MODULE_PARM_DESC(sources, "bridge sources bridge0..N-1 (1..16, default 1)");

static int clock;
module_param(clock, int, 0444);
MODULE_PARM_DESC(clock, "bind the sources to /dev/nanoclockN (-1: unbound; default 0)");

#define BRIDGE_MAX		16
#define BRIDGE_MAX_AGE_NS	(2 * NSEC_PER_SEC)	/* oldest stamp accepted */

struct bridge {
	struct ncpps_source *src;
	u64 last_pcc;		/* PCC of the last injected edge, ns */
};

static struct bridge bridges[BRIDGE_MAX];

/* Under ncpps_mutex (netlink.c), so injections into one source are serial. */
static int bridge_inject(struct ncpps_source *src, struct nlattr **a,
			 struct netlink_ext_ack *extack)
{
	static const int need[] = { NANOCLOCK_PPS_A_INJECT_CLOCKID,
				    NANOCLOCK_PPS_A_INJECT_SEC,
				    NANOCLOCK_PPS_A_INJECT_NSEC };
	struct system_time_snapshot snap;
	struct bridge *b = src->priv;
	s64 sec, stamp, age;	/* s, ns, ns */
	u64 pcc;
	int i;

	for (i = 0; i < ARRAY_SIZE(need); i++) {
		if (!a[need[i]]) {
			NL_SET_ERR_MSG_MOD(extack,
					   "INJECT needs INJECT_CLOCKID, INJECT_SEC and INJECT_NSEC");
			NL_SET_ERR_ATTR_MISS(extack, NULL, need[i]);
			return -EINVAL;
		}
	}
	if (nla_get_s32(a[NANOCLOCK_PPS_A_INJECT_CLOCKID]) != CLOCK_REALTIME) {
		NL_SET_ERR_MSG_ATTR(extack, a[NANOCLOCK_PPS_A_INJECT_CLOCKID],
				    "only CLOCK_REALTIME stamps can be mapped");
		return -EINVAL;
	}
	sec = nla_get_s64(a[NANOCLOCK_PPS_A_INJECT_SEC]);
	if (sec >= KTIME_SEC_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, a[NANOCLOCK_PPS_A_INJECT_SEC],
				    "timestamp out of range");
		return -ERANGE;
	}
	stamp = sec * NSEC_PER_SEC + nla_get_u32(a[NANOCLOCK_PPS_A_INJECT_NSEC]);

	ktime_get_snapshot(&snap);
	age = ktime_to_ns(snap.real) - stamp;
	if (age < 0) {
		NL_SET_ERR_MSG_ATTR(extack, a[NANOCLOCK_PPS_A_INJECT_SEC],
				    "timestamp is in the future");
		return -ERANGE;
	}
	if (age > BRIDGE_MAX_AGE_NS || age > ktime_to_ns(snap.raw)) {
		NL_SET_ERR_MSG_ATTR(extack, a[NANOCLOCK_PPS_A_INJECT_SEC],
				    "timestamp older than 2 s");
		return -ERANGE;
	}
	pcc = ktime_to_ns(snap.raw) - age;
	if (pcc <= b->last_pcc) {
		NL_SET_ERR_MSG_ATTR(extack, a[NANOCLOCK_PPS_A_INJECT_SEC],
				    "timestamp not after the previous one");
		return -EINVAL;
	}
	b->last_pcc = pcc;
	ncpps_edge(src, pcc, ktime_get_raw_fast_ns());
	return 0;
}

static int bridge_fill(struct ncpps_source *src, struct sk_buff *skb)
{
	struct bridge *b = src->priv;

	return nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_INJECT_PCC, b->last_pcc,
				 NANOCLOCK_PPS_A_PAD);
}

static const struct ncpps_source_ops bridge_ops = {
	.nl_fill = bridge_fill,
	.nl_inject = bridge_inject,
};

static void bridge_remove(void)
{
	int i;

	for (i = 0; i < BRIDGE_MAX; i++) {
		if (bridges[i].src)
			ncpps_source_unregister(bridges[i].src);
		bridges[i].src = NULL;
	}
}

static int __init bridge_init(void)
{
	char name[NCPPS_NAME_LEN];
	int i;

	if (sources < 1 || sources > BRIDGE_MAX || clock < -1) {
		pr_err("nanoclock-pps-bridge: parameter out of range\n");
		return -EINVAL;
	}
	for (i = 0; i < sources; i++) {
		struct ncpps_source *src;

		snprintf(name, sizeof(name), "bridge%d", i);
		src = ncpps_source_register("bridge", name, &bridge_ops,
					    &bridges[i], THIS_MODULE, clock);
		if (IS_ERR(src)) {
			bridge_remove();
			return PTR_ERR(src);
		}
		bridges[i].src = src;
	}
	return 0;
}

static void __exit bridge_exit(void)
{
	bridge_remove();
}

module_init(bridge_init);
module_exit(bridge_exit);

MODULE_DESCRIPTION("nanoclock PPS source: CLOCK_REALTIME stamps of another /dev/ppsN, over netlink");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
