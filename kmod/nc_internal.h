/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nc_internal.h - internal interfaces of nanoclock.ko.
 *
 * One struct nanoclock per /dev/nanoclockN. Its nanokernel core
 * (struct nk_clock) is written only under @lock; readers see the published
 * struct nc_pub through the mmap page, a seqcount latch, and never block.
 */
#ifndef NC_INTERNAL_H
#define NC_INTERNAL_H

#include <linux/device.h>
#include <linux/hrtimer.h>
#include <linux/posix-clock.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "../libnanokernel/nanokernel.h"
#include "../uapi/linux/nanoclock.h"

#define NC_MAX_INSTANCES	16

/* What readers need, published as one unit (both halves of the page). */
struct nc_pub {
	struct nk_timebase tb;
	s64 maxerror;		/* us */
	s64 esterror;		/* us */
	s32 state;		/* TIME_* */
	s32 status;		/* STA_* */
	s32 tai;		/* s */
};

struct nanoclock {
	struct posix_clock pclk;	/* /dev/nanoclockN; embeds the cdev */
	struct device dev;		/* lifetime of this struct */
	int index;

	raw_spinlock_t lock;		/* serialises every writer of @nk */
	struct nk_clock nk;		/* the nanokernel core */
	struct nc_pub published;	/* last published, under @lock */
	struct nanoclock_page *page;	/* the publication: a latch, see uapi */
	struct page *page_pg;

	struct hrtimer timer;		/* the tick */
	u64 period_ns;			/* tick period, ns */
	u64 ticks;			/* tick count, for sysfs */
	u64 seconds;			/* second boundaries processed */

	/* event detection (under @lock), delivery in @event_work */
	s32 ev_status;			/* status at the last check */
	s32 ev_state;			/* state at the last check */
	s64 ev_sec;			/* clock second at the last check */
	atomic_long_t ev_pending;	/* BIT(enum nanoclock_event) */
	struct work_struct event_work;

	struct ptp_clock *ptp;		/* PTP view, or NULL */
	struct ptp_clock_info ptp_info;
};

/* What one PPS edge did (nc_hardpps), for the sources' statistics. */
struct nc_pps_result {
	s64 phase_ns;		/* clock time at the edge - nearest second, ns */
	s32 status;		/* STA_* right after the edge */
	s64 popcorn;		/* 1: the core rejected it as a popcorn spike */
	s64 jitcnt;		/* the core's PPS counters right after it */
	s64 errcnt;
	s64 stbcnt;
	s64 calcnt;
};

static inline struct nanoclock *nc_from_posix(struct posix_clock *pc)
{
	return container_of(pc, struct nanoclock, pclk);
}

/* main.c */
struct nanoclock *nc_get_clock(int index);	/* no ref: valid while loaded */
int nc_clock_count(void);

/* clock.c: instance, latch, tick */
struct nanoclock *nc_clock_create(int index, u32 options, unsigned int hz);
void nc_clock_free(struct nanoclock *nc);
void nc_clock_start(struct nanoclock *nc);
void nc_clock_stop(struct nanoclock *nc);
void nc_clock_quiesce(struct nanoclock *nc);
u64 nc_tick(struct nanoclock *nc, u64 *now);
void nc_read(struct nanoclock *nc, struct nk_time *t, u64 *pcc);
void nc_read_pub(struct nanoclock *nc, struct nc_pub *pub);
int nc_adjtime(struct nanoclock *nc, struct __kernel_timex *tx);
int nc_adjtime_user(struct nanoclock *nc, struct __kernel_timex *tx);
int nc_settime(struct nanoclock *nc, const struct timespec64 *ts);
void nc_step(struct nanoclock *nc, s64 delta_ns);
void nc_ntptime(struct nanoclock *nc, struct nk_ntptime *nt);
void nc_hardpps(struct nanoclock *nc, u64 pcc_ns, struct nc_pps_result *res);
int nc_update_status(struct nanoclock *nc, s32 set, s32 clear);
int nc_snapshot(struct nanoclock *nc, struct __kernel_timex *tx,
		struct nk_ntptime *nt);
void nc_event(struct nanoclock *nc, enum nanoclock_event ev);
bool nc_adjtime_needs_cap(const struct __kernel_timex *tx);

/* chardev.c: posix clock, ioctl, mmap */
int nc_chardev_init(void);
void nc_chardev_exit(void);
int nc_chardev_register(struct nanoclock *nc);
void nc_chardev_unregister(struct nanoclock *nc);
extern const struct attribute_group *nc_attr_groups[];

/* ptp.c */
int nc_ptp_register(struct nanoclock *nc);
void nc_ptp_unregister(struct nanoclock *nc);

/* netlink.c */
int nc_netlink_init(void);
void nc_netlink_exit(void);
void nc_netlink_event(struct nanoclock *nc, enum nanoclock_event ev);
int nc_netlink_parse_set(struct nlattr **attrs, struct __kernel_timex *tx,
			 s64 *step_ns, struct netlink_ext_ack *extack);
extern const struct nla_policy *nc_netlink_set_policy;

/*
 * One permission model for every interface: a request that changes a clock
 * or its PPS needs CAP_SYS_TIME, as clock_adjtime() and clock_settime() do;
 * reads need nothing. Over netlink it is netlink_capable(): the sender must
 * hold it (a socket handed to a process without it is of no use), and so
 * must the socket's opener when the message names no destination.
 * CAP_NET_ADMIN neither grants nor is needed for anything. Returns 0, or
 * -EPERM with @extack set.
 */
static inline int nc_netlink_may_change_time(const struct sk_buff *skb,
					     struct netlink_ext_ack *extack)
{
	if (netlink_capable(skb, CAP_SYS_TIME))
		return 0;
	NL_SET_ERR_MSG_MOD(extack, "changing a clock or its PPS needs CAP_SYS_TIME");
	return -EPERM;
}

/*
 * Events go to subscribers in every network namespace: the clock is one per
 * host, and a daemon in a container must see its changes. The walk over
 * namespaces runs under RCU, hence GFP_ATOMIC where the kernel still asks.
 * Consumes @skb.
 */
static inline int nc_genl_multicast_allns(const struct genl_family *family,
					  struct sk_buff *skb,
					  unsigned int group)
{
#ifdef NC_GENL_ALLNS_GFP
	return genlmsg_multicast_allns(family, skb, 0, group, GFP_ATOMIC);
#else
	return genlmsg_multicast_allns(family, skb, 0, group);
#endif
}

#endif /* NC_INTERNAL_H */
