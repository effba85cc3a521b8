// SPDX-License-Identifier: GPL-2.0
/*
 * edge.c - nanoclock-pps.ko: the edge path every PPS source shares.
 *
 *   source IRQ: pcc = ktime_get_raw_fast_ns()   (first thing, by the source)
 *     -> ncpps_edge(src, pcc)
 *          nc_hardpps(bound clock, pcc)         (under the clock's raw lock)
 *          statistics                           (under the source's raw lock)
 *          pps_event(/dev/ppsN, REALTIME of pcc)
 *          queue the netlink edge event         (sent from a workqueue)
 *
 * A source is bound to at most one nanoclock (or none: it still counts
 * edges and feeds /dev/ppsN). Binding and the clock's STA_PPSTIME /
 * STA_PPSFREQ switches are set over netlink (netlink.c) and sysfs (sysfs.c).
 *
 * Lifetimes: clocks live while nanoclock.ko is loaded, which this module's
 * symbol references guarantee. A source lives from ncpps_source_register()
 * to ncpps_source_unregister(); its owner stops calling ncpps_edge() first.
 * Netlink and sysfs find sources only through @ncpps_sources under
 * @ncpps_mutex (netlink) or through the kobject (sysfs, drained on removal).
 */
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/timex.h>

#include "nanoclock_pps.h"

/* serialises the source list, netlink requests and binding changes */
DEFINE_MUTEX(ncpps_mutex);
LIST_HEAD(ncpps_sources);
static DEFINE_IDA(ncpps_ida);

/* An interval this far beyond 1 s means edges were missed, ns. */
#define NCPPS_GAP_NS		(NSEC_PER_SEC + NSEC_PER_SEC / 2)
/* EWMA weight of the per-source jitter and wander: 1/2^4 */
#define NCPPS_EWMA_SHIFT	4

static s64 ncpps_abs(s64 v)
{
	return v < 0 ? -v : v;
}

/* CLOCK_REALTIME at PCC @pcc_ns: one snapshot, back-dated by its age. */
static void ncpps_realtime(u64 pcc_ns, struct pps_event_time *ev)
{
	struct system_time_snapshot snap;
	s64 age;	/* ns from the edge to the snapshot */

	ktime_get_snapshot(&snap);
	age = ktime_to_ns(snap.raw) - (s64)pcc_ns;
	ev->ts_real = ns_to_timespec64(ktime_to_ns(snap.real) - age);
#ifdef CONFIG_NTP_PPS
	ev->ts_raw = ns_to_timespec64(pcc_ns);
#endif
}

/*
 * One edge at PCC @pcc_ns (CLOCK_MONOTONIC_RAW, ns), handled by an IRQ
 * that read the PCC @irq_pcc_ns as its first action. A hardware source
 * passes that reading twice; the simulator passes the simulated edge and
 * its timer's reading. Any context but NMI; the sources call it from their
 * hard-IRQ handler. The cost statistic is irq_pcc_ns to hardpps' return.
 */
void ncpps_edge(struct ncpps_source *src, u64 pcc_ns, u64 irq_pcc_ns)
{
	struct nanoclock *nc = READ_ONCE(src->clock);
	struct ncpps_stats *st = &src->stats;
	struct nc_pps_result res = {};
	struct pps_event_time ev;
	unsigned long flags;
	u64 cost = 0;		/* ns */
	s64 iv;			/* ns */

	if (nc) {
		nc_hardpps(nc, pcc_ns, &res);
		cost = ktime_get_raw_fast_ns() - irq_pcc_ns;
	}

	raw_spin_lock_irqsave(&src->lock, flags);
	st->edges++;
	iv = st->last_pcc ? (s64)(pcc_ns - st->last_pcc) : 0;
	if (iv > NCPPS_GAP_NS)
		st->gaps++;
	if (iv && iv <= NCPPS_GAP_NS && st->interval) {
		s64 d = ncpps_abs(iv - st->interval);

		st->wander += (d - st->wander) >> NCPPS_EWMA_SHIFT;
	}
	st->interval = iv;
	st->last_pcc = pcc_ns;
	if (nc) {
		s64 d = ncpps_abs(res.phase_ns - st->phase);

		if (st->fed)
			st->jitter += (d - st->jitter) >> NCPPS_EWMA_SHIFT;
		st->fed++;
		st->phase = res.phase_ns;
		if (res.status & STA_PPSJITTER)
			st->rejected++;
		if (res.popcorn)
			st->popcorn++;
		src->clock_status = res.status;
		st->cost_last = cost;
		st->cost_sum += cost;
		st->cost_n++;
		if (cost > st->cost_max)
			st->cost_max = cost;
		if (cost < st->cost_min || st->cost_n == 1)
			st->cost_min = cost;
	}
	raw_spin_unlock_irqrestore(&src->lock, flags);

	ncpps_realtime(pcc_ns, &ev);
	pps_event(src->pps, &ev, PPS_CAPTUREASSERT, NULL);
	queue_work(system_wq, &src->ev_work);
}
EXPORT_SYMBOL_GPL(ncpps_edge);

void ncpps_read_stats(struct ncpps_source *src, struct ncpps_stats *st)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&src->lock, flags);
	*st = src->stats;
	raw_spin_unlock_irqrestore(&src->lock, flags);
}
EXPORT_SYMBOL_GPL(ncpps_read_stats);

/* ---- binding ---- */

/* Bind @src to /dev/nanoclock@clock, or unbind with @clock < 0. */
int ncpps_bind(struct ncpps_source *src, int clock)
{
	struct nanoclock *nc = NULL;

	if (clock >= 0) {
		nc = nc_get_clock(clock);
		if (!nc)
			return -ENODEV;
	}
	WRITE_ONCE(src->clock, nc);
	return 0;
}
EXPORT_SYMBOL_GPL(ncpps_bind);

int ncpps_clock_index(struct ncpps_source *src)
{
	struct nanoclock *nc = READ_ONCE(src->clock);

	return nc ? nc->index : -1;
}
EXPORT_SYMBOL_GPL(ncpps_clock_index);

/* The bound clock's STA_PPSTIME | STA_PPSFREQ bits, 0 when unbound. */
s32 ncpps_clock_flags(struct ncpps_source *src)
{
	struct nanoclock *nc = READ_ONCE(src->clock);
	struct nc_pub pub;

	if (!nc)
		return 0;
	nc_read_pub(nc, &pub);
	return pub.status & (STA_PPSTIME | STA_PPSFREQ);
}
EXPORT_SYMBOL_GPL(ncpps_clock_flags);

/* Switch STA_PPSTIME / STA_PPSFREQ on the bound clock. */
int ncpps_set_flags(struct ncpps_source *src, s32 set, s32 clear)
{
	struct nanoclock *nc = READ_ONCE(src->clock);
	int ret;

	if (!nc)
		return -ENOLINK;
	ret = nc_update_status(nc, set & (STA_PPSTIME | STA_PPSFREQ),
			       clear & (STA_PPSTIME | STA_PPSFREQ));
	return ret < 0 ? ret : 0;
}
EXPORT_SYMBOL_GPL(ncpps_set_flags);

/* Under ncpps_mutex. */
struct ncpps_source *ncpps_find(int index)
{
	struct ncpps_source *src;

	lockdep_assert_held(&ncpps_mutex);
	list_for_each_entry(src, &ncpps_sources, node)
		if (src->index == index)
			return src;
	return NULL;
}

/* ---- registration ---- */

static void ncpps_ev_work(struct work_struct *work)
{
	struct ncpps_source *src = container_of(work, struct ncpps_source,
						ev_work);

	ncpps_netlink_edge_event(src);
}

/*
 * Register a source of @kind. @name may be NULL: then "<kind><index>".
 * @clock: index of the nanoclock to bind at once, or -1. Returns the source
 * or an ERR_PTR. Process context.
 */
struct ncpps_source *ncpps_source_register(const char *kind, const char *name,
					   const struct ncpps_source_ops *ops,
					   void *priv, struct module *owner,
					   int clock)
{
	struct ncpps_source *src;
	int err, id;

	id = ida_alloc_max(&ncpps_ida, INT_MAX, GFP_KERNEL);
	if (id < 0)
		return ERR_PTR(id);
	src = kzalloc(sizeof(*src), GFP_KERNEL);
	if (!src) {
		ida_free(&ncpps_ida, id);
		return ERR_PTR(-ENOMEM);
	}
	src->index = id;
	strscpy(src->kind, kind, sizeof(src->kind));
	if (name)
		strscpy(src->name, name, sizeof(src->name));
	else
		snprintf(src->name, sizeof(src->name), "%s%d", kind, id);
	src->ops = ops;
	src->priv = priv;
	src->owner = owner;
	raw_spin_lock_init(&src->lock);
	INIT_WORK(&src->ev_work, ncpps_ev_work);
	INIT_LIST_HEAD(&src->node);
	kobject_init(&src->kobj, &ncpps_ktype);	/* release frees @src */

	err = ncpps_bind(src, clock);
	if (err)
		goto put;

	snprintf(src->pps_info.name, PPS_MAX_NAME_LEN, "nanoclock-%s",
		 src->name);
	snprintf(src->pps_info.path, PPS_MAX_NAME_LEN, "nanoclock_pps/%s",
		 src->name);
	src->pps_info.mode = PPS_CAPTUREASSERT | PPS_OFFSETASSERT |
			     PPS_CANWAIT | PPS_TSFMT_TSPEC;
	src->pps_info.owner = owner;
	src->pps = pps_register_source(&src->pps_info,
				       PPS_CAPTUREASSERT | PPS_OFFSETASSERT);
	if (IS_ERR(src->pps)) {
		err = PTR_ERR(src->pps);
		src->pps = NULL;
		goto put;
	}
	err = ncpps_sysfs_add(src);
	if (err)
		goto put;

	mutex_lock(&ncpps_mutex);
	list_add_tail(&src->node, &ncpps_sources);
	mutex_unlock(&ncpps_mutex);
	pr_info("nanoclock-pps: %s registered as pps%d, clock %d\n", src->name,
		src->pps->id, clock);
	return src;
put:
	kobject_put(&src->kobj);
	return ERR_PTR(err);
}
EXPORT_SYMBOL_GPL(ncpps_source_register);

/* The owner has stopped calling ncpps_edge(). Process context. */
void ncpps_source_unregister(struct ncpps_source *src)
{
	mutex_lock(&ncpps_mutex);
	list_del_init(&src->node);
	mutex_unlock(&ncpps_mutex);
	kobject_del(&src->kobj);	/* drains sysfs readers and writers */
	cancel_work_sync(&src->ev_work);
	kobject_put(&src->kobj);
}
EXPORT_SYMBOL_GPL(ncpps_source_unregister);

/* kobject release: the last reference is gone. */
void ncpps_source_release(struct kobject *kobj)
{
	struct ncpps_source *src = container_of(kobj, struct ncpps_source,
						kobj);

	if (src->pps)
		pps_unregister_source(src->pps);
	ida_free(&ncpps_ida, src->index);
	kfree(src);
}

static int __init ncpps_init(void)
{
	int err;

	err = ncpps_sysfs_init();
	if (err)
		return err;
	err = ncpps_netlink_init();
	if (err)
		ncpps_sysfs_exit();
	return err;
}

static void __exit ncpps_exit(void)
{
	/* the source modules depend on this one: no sources are left */
	ncpps_netlink_exit();
	ncpps_sysfs_exit();
	ida_destroy(&ncpps_ida);
}

module_init(ncpps_init);
module_exit(ncpps_exit);

MODULE_DESCRIPTION("nanoclock PPS edge path: sources, binding, hardpps, /dev/ppsN");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
