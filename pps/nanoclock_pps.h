/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nanoclock_pps.h - the PPS edge path shared by nanoclock's PPS sources.
 *
 * nanoclock-pps.ko (edge.c, sysfs.c, netlink.c) keeps the list of sources,
 * their binding to a nanoclock and their statistics. A source module (sim,
 * ...) registers a struct ncpps_source and calls ncpps_edge() from its
 * interrupt handler with the PCC (CLOCK_MONOTONIC_RAW, ns) it read as the
 * handler's first action (the simulator passes its simulated edge).
 * ncpps_edge() feeds the bound clock's hardpps under the clock's lock and
 * emits the edge to the Linux PPS subsystem (/dev/ppsN, CLOCK_REALTIME
 * assert stamps for RFC 2783 clients).
 */
#ifndef NANOCLOCK_PPS_H
#define NANOCLOCK_PPS_H

#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/pps_kernel.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include "../kmod/nc_internal.h"

#define NCPPS_NAME_LEN		32

struct ncpps_source;

/* Kind-specific netlink hooks; both optional, called under ncpps_mutex. */
struct ncpps_source_ops {
	/* add the kind's attributes to a GET_SOURCE reply or event */
	int (*nl_fill)(struct ncpps_source *src, struct sk_buff *skb);
	/* apply SET_SIM attributes (already validated by the policy) */
	int (*nl_set)(struct ncpps_source *src, struct nlattr **attrs,
		      struct netlink_ext_ack *extack);
	/* INJECT: an edge stamped by another clock (bridge sources) */
	int (*nl_inject)(struct ncpps_source *src, struct nlattr **attrs,
			 struct netlink_ext_ack *extack);
};

/* Per-source statistics, under @ncpps_source.lock. */
struct ncpps_stats {
	u64 edges;		/* edges seen */
	u64 fed;		/* edges given to a bound clock's hardpps */
	u64 rejected;		/* edges hardpps left flagged STA_PPSJITTER */
	u64 popcorn;		/* of those, popcorn spikes (core jitcnt +1) */
	u64 gaps;		/* intervals over 1.5 s (missing edges) */
	u64 last_pcc;		/* PCC of the last edge, ns */
	s64 interval;		/* PCC interval before the last edge, ns */
	s64 phase;		/* clock phase at the last fed edge, ns */
	s64 jitter;		/* EWMA (1/16) of |phase step|, ns */
	s64 wander;		/* EWMA (1/16) of |interval step|, ns */
	u64 cost_last;		/* IRQ's PCC read to hardpps return, last, ns */
	u64 cost_max;		/* ... maximum, ns */
	u64 cost_min;		/* ... minimum, ns */
	u64 cost_sum;		/* ... sum over @cost_n edges, ns */
	u64 cost_n;
};

struct ncpps_source {
	char name[NCPPS_NAME_LEN];	/* "sim0", "gpio0", ... */
	char kind[16];			/* "sim", "gpio", ... */
	int index;			/* NCPPS_A_SOURCE */
	const struct ncpps_source_ops *ops;
	void *priv;			/* the source module's */
	struct module *owner;

	struct nanoclock *clock;	/* bound clock or NULL (READ_ONCE) */
	raw_spinlock_t lock;		/* @stats, @ev_* */
	struct ncpps_stats stats;
	s32 clock_status;		/* STA_* after the last fed edge */

	struct pps_device *pps;		/* /dev/ppsN */
	struct pps_source_info pps_info;

	struct work_struct ev_work;	/* netlink edge events */
	struct kobject kobj;		/* /sys/kernel/nanoclock_pps/NAME */
	struct list_head node;		/* ncpps_sources, under ncpps_mutex */
};

/* edge.c: the API for source modules */
struct ncpps_source *ncpps_source_register(const char *kind, const char *name,
					   const struct ncpps_source_ops *ops,
					   void *priv, struct module *owner,
					   int clock);
void ncpps_source_unregister(struct ncpps_source *src);
void ncpps_edge(struct ncpps_source *src, u64 pcc_ns, u64 irq_pcc_ns);

/* edge.c: binding and lookups, for netlink.c and sysfs.c */
extern struct mutex ncpps_mutex;
extern struct list_head ncpps_sources;
struct ncpps_source *ncpps_find(int index);	/* under ncpps_mutex */
int ncpps_bind(struct ncpps_source *src, int clock);
int ncpps_clock_index(struct ncpps_source *src);
int ncpps_set_flags(struct ncpps_source *src, s32 set, s32 clear);
s32 ncpps_clock_flags(struct ncpps_source *src);
void ncpps_read_stats(struct ncpps_source *src, struct ncpps_stats *st);

/* sysfs.c */
int ncpps_sysfs_init(void);
void ncpps_sysfs_exit(void);
int ncpps_sysfs_add(struct ncpps_source *src);
void ncpps_source_release(struct kobject *kobj);
extern const struct kobj_type ncpps_ktype;

/* netlink.c */
int ncpps_netlink_init(void);
void ncpps_netlink_exit(void);
void ncpps_netlink_edge_event(struct ncpps_source *src);

#endif /* NANOCLOCK_PPS_H */
