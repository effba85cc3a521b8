// SPDX-License-Identifier: GPL-2.0
/*
 * clock.c - one nanoclock instance: the nanokernel core under a raw
 * spinlock, the seqcount latch (the mmap page) that publishes its timebase
 * to readers, and the hrtimer tick that runs second overflow at the clock's
 * second boundaries.
 *
 * Locking: @nc->lock (raw, irqsave) serialises every call into the core:
 * the tick (hard-IRQ hrtimer), adjtime/settime (process context) and
 * hardpps (hard IRQ, from the PPS sources). Each writer ends with
 * nc_publish(), which copies the core's timebase into both halves of the
 * mmap page, a seqcount latch. Every reader, in the kernel (any context,
 * NMI included) and in userspace, picks the stable half of that one page
 * and never waits for a writer.
 *
 * One publication for all readers, because two cannot flip at the same
 * instant: with a kernel copy flipped before the page, a syscall read of
 * the new timebase followed by an mmap read of the old one goes backwards
 * whenever the slope rises (the new line, based at the tick, lies above the
 * old one by the slope step times the time since the tick; seen: 1637 ns
 * with a vCPU stalled between the two flips).
 */
#include <linux/capability.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/timex.h>

#include "nc_internal.h"

/*
 * Monotonicity guard, PCC ns. A reader that picked the previous page half
 * may have read its PCC up to the moment that half flips.
 * When a writer lowers the slope, the new timebase is re-based this far in
 * the future (continuous with the old one there) so that no later read can
 * be smaller than an earlier read with the old slope; see nc_publish(). A
 * publication that would flip too close to that base (a virtual CPU
 * descheduled by its host while it holds the lock) is re-based with a guard
 * NC_PUBLISH_GUARD_GROWTH times longer, up to NC_PUBLISH_TRIES times. The
 * phase cost of a guard is the slope step times its length (2 ps for a
 * 1 ppm step and 2 us).
 */
#define NC_PUBLISH_GUARD_NS	2000
#define NC_PUBLISH_GUARD_GROWTH	4
#define NC_PUBLISH_TRIES	8

static void nc_fill_pub(const struct nanoclock *nc, struct nc_pub *p)
{
	p->tb = nc->nk.tb;
	p->maxerror = nc->nk.time_maxerror;
	p->esterror = nc->nk.time_esterror;
	p->state = nk_is_time_error(nc->nk.time_status) ? TIME_ERROR :
		   nc->nk.time_state;
	p->status = nc->nk.time_status;
	p->tai = nc->nk.time_tai;
}

static void nc_page_fill(struct nanoclock_page_data *d, const struct nc_pub *p)
{
	d->tb.pcc_base = p->tb.pcc_base;
	d->tb.sec = p->tb.sec;
	d->tb.frac = p->tb.frac;
	d->tb.mult = p->tb.mult;
	d->maxerror = p->maxerror;
	d->esterror = p->esterror;
	d->state = p->state;
	d->status = p->status;
	d->tai = p->tai;
}

/*
 * Keep reads monotonic across a slope decrease: move the base of the new
 * timebase to a PCC instant after the page flips, continuous there with
 * @old, the timebase readers used until then. Readers between the
 * core's base and the new one extrapolate the new slope backwards, which
 * lies above the old line when the slope drops. The core adopts the moved
 * base, so its next tick continues from exactly what readers saw. Returns
 * the base the flip must precede (PCC ns): the new one, or one already far
 * enough ahead; 0 when no guard is needed.
 */
static u64 nc_guard_slope(struct nanoclock *nc, const struct nk_timebase *old,
			  bool step, u64 guard_ns)
{
	struct nk_timebase *tb = &nc->nk.tb;
	struct nk_time t;
	u64 base;

	if (step || tb->mult >= old->mult)
		return 0;
	base = ktime_get_raw_fast_ns() + guard_ns;
	if (tb->pcc_base >= base)
		return tb->pcc_base;
	nk_timebase_read(old, base, &t);
	tb->pcc_base = base;
	tb->sec = t.sec;
	tb->frac = (u64)t.nsec << 32;
	return base;
}

/*
 * Publish the core's state to readers. Caller holds @nc->lock.
 *
 * The page is a seqcount latch (see uapi): the first sequence bump sends
 * readers to data[1], the state they had; data[0] is rewritten; the second
 * bump (the flip) sends them to data[0]; then data[1] is rewritten. A
 * reader that used the old state read its PCC before the flip, one that
 * uses the new state after it. The barriers order each bump against the
 * data stores around it, as in raw_write_seqcount_latch(); they pair with
 * the readers' smp_rmb() (nc_page_begin/nc_page_retry) and with the
 * userspace reader's load-acquire of seq and acquire fence.
 *
 * When the slope drops, the new timebase is based ahead of now (see
 * nc_guard_slope()) and the flip must land before that base, or a reader of
 * the old line past the base would read above later readers of the new
 * one. So the PCC is checked right before the flip, while no reader can see
 * data[0] yet: with less than half the guard left, data[0] is re-based
 * with a guard NC_PUBLISH_GUARD_GROWTH times longer (a vCPU descheduled by
 * its host while it holds the lock). Checking after the flip instead, as
 * this did before, repairs nothing: readers have already seen both lines.
 */
static void nc_publish(struct nanoclock *nc, bool step)
{
	const struct nk_timebase old = nc->published.tb;
	struct nanoclock_page *pg = nc->page;
	u64 guard_ns = NC_PUBLISH_GUARD_NS;
	struct nc_pub p;
	int tries;

	smp_wmb();	/* previous data[1] before seq odd */
	WRITE_ONCE(pg->seq, pg->seq + 1);
	smp_wmb();	/* seq odd before data[0] */
	for (tries = 1;; tries++) {
		u64 base = nc_guard_slope(nc, &old, step, guard_ns);

		nc_fill_pub(nc, &p);
		nc_page_fill(&pg->data[0], &p);
		if (!base || tries == NC_PUBLISH_TRIES ||
		    ktime_get_raw_fast_ns() + guard_ns / 2 < base)
			break;
		guard_ns *= NC_PUBLISH_GUARD_GROWTH;
	}
	smp_wmb();	/* data[0] before seq even: the flip */
	WRITE_ONCE(pg->seq, pg->seq + 1);
	smp_wmb();	/* seq even before data[1] */
	nc_page_fill(&pg->data[1], &p);
	WRITE_ONCE(pg->update_count, pg->update_count + 1);
	nc->published = p;
}

/* Latch reader of the page: the sequence, then the half it selects. */
static unsigned int nc_page_begin(const struct nanoclock_page *pg)
{
	unsigned int seq = READ_ONCE(pg->seq);

	smp_rmb();	/* the sequence before the half it selects */
	return seq;
}

/* True when a writer flipped the page since nc_page_begin(): read again. */
static bool nc_page_retry(const struct nanoclock_page *pg, unsigned int seq)
{
	smp_rmb();	/* the half's data before the re-check */
	return unlikely(READ_ONCE(pg->seq) != seq);
}

static void nc_page_timebase(const struct nanoclock_page_data *d,
			     struct nk_timebase *tb)
{
	tb->pcc_base = d->tb.pcc_base;
	tb->sec = d->tb.sec;
	tb->frac = d->tb.frac;
	tb->mult = d->tb.mult;
}

/* A consistent copy of the published state; any context, never blocks. */
void nc_read_pub(struct nanoclock *nc, struct nc_pub *pub)
{
	const struct nanoclock_page *pg = nc->page;
	const struct nanoclock_page_data *d;
	unsigned int seq;

	do {
		seq = nc_page_begin(pg);
		d = &pg->data[seq & 1];
		nc_page_timebase(d, &pub->tb);
		pub->maxerror = d->maxerror;
		pub->esterror = d->esterror;
		pub->state = d->state;
		pub->status = d->status;
		pub->tai = d->tai;
	} while (nc_page_retry(pg, seq));
}
EXPORT_SYMBOL_GPL(nc_read_pub);

/*
 * The clock now, and the PCC it was computed from. Any context. The PCC is
 * read inside the sequence window, so a flip after it makes the read retry.
 */
void nc_read(struct nanoclock *nc, struct nk_time *t, u64 *pcc)
{
	const struct nanoclock_page *pg = nc->page;
	struct nk_timebase tb;
	unsigned int seq;
	u64 now;

	do {
		seq = nc_page_begin(pg);
		now = ktime_get_raw_fast_ns();
		nc_page_timebase(&pg->data[seq & 1], &tb);
	} while (nc_page_retry(pg, seq));
	nk_timebase_read(&tb, now, t);
	if (pcc)
		*pcc = now;
}
EXPORT_SYMBOL_GPL(nc_read);

/* ---- events: detected under the lock, delivered from a workqueue ---- */

static unsigned long nc_detect_events(struct nanoclock *nc)
{
	s32 st = nc->nk.time_status;
	s32 old = nc->ev_status;
	s32 state = nc->published.state;
	s64 sec = nc->published.tb.sec;
	unsigned long ev = 0;

	if (st != old || state != nc->ev_state)
		ev |= BIT(NANOCLOCK_EV_STATUS);
	if (st & ~old & (STA_INS | STA_DEL))
		ev |= BIT(NANOCLOCK_EV_LEAP_ARMED);
	if ((state == TIME_OOP && nc->ev_state != TIME_OOP) ||
	    (nc->ev_state == TIME_DEL && state == TIME_WAIT))
		ev |= BIT(NANOCLOCK_EV_LEAP_APPLIED);
	if (st & ~old & STA_PPSSIGNAL)
		ev |= BIT(NANOCLOCK_EV_PPS_GAINED);
	if (old & ~st & STA_PPSSIGNAL)
		ev |= BIT(NANOCLOCK_EV_PPS_LOST);
	if ((st & STA_PPSSIGNAL) && sec != nc->ev_sec)
		ev |= BIT(NANOCLOCK_EV_PPS_STATS);
	if (sec != nc->ev_sec)
		nc->seconds++;
	nc->ev_status = st;
	nc->ev_state = state;
	nc->ev_sec = sec;
	return ev;
}

/* Queue events for delivery; safe in any context but NMI. */
static void nc_queue_events(struct nanoclock *nc, unsigned long ev)
{
	if (!ev)
		return;
	atomic_long_or(ev, &nc->ev_pending);
	queue_work(system_wq, &nc->event_work);
}

void nc_event(struct nanoclock *nc, enum nanoclock_event ev)
{
	nc_queue_events(nc, BIT(ev));
}

static void nc_event_work(struct work_struct *work)
{
	struct nanoclock *nc = container_of(work, struct nanoclock, event_work);
	unsigned long ev = atomic_long_xchg(&nc->ev_pending, 0);
	int i;

	for (i = 0; i < __NANOCLOCK_EV_MAX; i++)
		if (ev & BIT(i))
			nc_netlink_event(nc, i);
}

/* ---- writers ---- */

/*
 * Permission rule of Linux's adjtimex: any change needs CAP_SYS_TIME; a
 * read (modes == 0, or the adjtime() read-back ADJ_OFFSET_SS_READ) does not.
 */
bool nc_adjtime_needs_cap(const struct __kernel_timex *tx)
{
	if (tx->modes & ADJ_ADJTIME)
		return !(tx->modes & ADJ_OFFSET_READONLY);
	return tx->modes != 0;
}
EXPORT_SYMBOL_GPL(nc_adjtime_needs_cap);

/*
 * ntp_adjtime on this clock without permission checks (PTP and netlink have
 * their own). Returns TIME_* or -EINVAL.
 */
int nc_adjtime(struct nanoclock *nc, struct __kernel_timex *tx)
{
	unsigned long flags, ev;
	bool step = tx->modes & ADJ_SETOFFSET;
	int ret;

	raw_spin_lock_irqsave(&nc->lock, flags);
	ret = nk_adjtime(&nc->nk, tx, ktime_get_raw_fast_ns());
	if (ret >= 0 && tx->modes)
		nc_publish(nc, step);
	ev = nc_detect_events(nc);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	if (ret >= 0 && step)
		ev |= BIT(NANOCLOCK_EV_CLOCK_SET);
	nc_queue_events(nc, ev);
	return ret;
}
EXPORT_SYMBOL_GPL(nc_adjtime);

/* clock_adjtime() from userspace: Linux's checks, then the core. */
int nc_adjtime_user(struct nanoclock *nc, struct __kernel_timex *tx)
{
	if ((tx->modes & ADJ_ADJTIME) && !(tx->modes & ADJ_OFFSET_SINGLESHOT))
		return -EINVAL;
	if (nc_adjtime_needs_cap(tx) && !capable(CAP_SYS_TIME))
		return -EPERM;
	return nc_adjtime(nc, tx);
}
EXPORT_SYMBOL_GPL(nc_adjtime_user);

/*
 * clock_settime() on this clock (char device or PTP view). The POSIX clock
 * layer of newer kernels validates too; this clock does not rely on it: a
 * negative or out-of-range time, or tv_nsec outside 0..999999999, is
 * -EINVAL and changes nothing.
 */
int nc_settime(struct nanoclock *nc, const struct timespec64 *ts)
{
	struct nk_time t = { .sec = ts->tv_sec, .nsec = ts->tv_nsec };
	unsigned long flags, ev;

	if (!timespec64_valid_strict(ts))
		return -EINVAL;
	raw_spin_lock_irqsave(&nc->lock, flags);
	nk_settime(&nc->nk, ktime_get_raw_fast_ns(), &t);
	nc_publish(nc, true);
	ev = nc_detect_events(nc);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	nc_queue_events(nc, ev | BIT(NANOCLOCK_EV_CLOCK_SET));
	return 0;
}
EXPORT_SYMBOL_GPL(nc_settime);

/* Step the clock by @delta_ns (ADJ_SETOFFSET in ns, STA_NANO untouched). */
void nc_step(struct nanoclock *nc, s64 delta_ns)
{
	unsigned long flags, ev;
	struct nk_time t;
	s64 ns;
	s32 rem;
	u64 pcc;

	raw_spin_lock_irqsave(&nc->lock, flags);
	pcc = ktime_get_raw_fast_ns();
	nk_read(&nc->nk, pcc, &t);
	ns = t.nsec + delta_ns;
	t.sec += div_s64_rem(ns, NSEC_PER_SEC, &rem);
	if (rem < 0) {
		t.sec--;
		rem += NSEC_PER_SEC;
	}
	t.nsec = rem;
	nk_settime(&nc->nk, pcc, &t);
	nc_publish(nc, true);
	ev = nc_detect_events(nc);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	nc_queue_events(nc, ev | BIT(NANOCLOCK_EV_CLOCK_SET));
}
EXPORT_SYMBOL_GPL(nc_step);

/*
 * PPS edge at PCC @pcc_ns; hard-IRQ safe (the PPS sources' edge path).
 * @res (may be NULL) receives what the core saw and did: the clock's phase
 * at the edge and the PPS state right after it, from the same lock hold.
 */
void nc_hardpps(struct nanoclock *nc, u64 pcc_ns, struct nc_pps_result *res)
{
	unsigned long flags, ev;
	struct nk_time t;

	raw_spin_lock_irqsave(&nc->lock, flags);
	if (res) {
		nk_read(&nc->nk, pcc_ns, &t);
		res->phase_ns = t.nsec >= NSEC_PER_SEC / 2 ?
				(s64)t.nsec - NSEC_PER_SEC : t.nsec;
		res->popcorn = nc->nk.pps_jitcnt;
	}
	nk_hardpps(&nc->nk, pcc_ns);
	nc_publish(nc, false);
	if (res) {
		res->popcorn = nc->nk.pps_jitcnt != res->popcorn;
		res->status = nc->nk.time_status;
		res->jitcnt = nc->nk.pps_jitcnt;
		res->errcnt = nc->nk.pps_errcnt;
		res->stbcnt = nc->nk.pps_stbcnt;
		res->calcnt = nc->nk.pps_calcnt;
	}
	ev = nc_detect_events(nc);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	nc_queue_events(nc, ev);
}
EXPORT_SYMBOL_GPL(nc_hardpps);

/*
 * Set and clear STA_* bits as one ADJ_STATUS under the lock (read-modify-
 * write without a window for other writers): the PPS binding's switches.
 * Returns TIME_* or -EINVAL.
 */
int nc_update_status(struct nanoclock *nc, s32 set, s32 clear)
{
	struct __kernel_timex tx = { .modes = ADJ_STATUS };
	unsigned long flags, ev;
	int ret;

	raw_spin_lock_irqsave(&nc->lock, flags);
	tx.status = (nc->nk.time_status & ~clear) | set;
	ret = nk_adjtime(&nc->nk, &tx, ktime_get_raw_fast_ns());
	if (ret >= 0)
		nc_publish(nc, false);
	ev = nc_detect_events(nc);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	nc_queue_events(nc, ev);
	return ret;
}
EXPORT_SYMBOL_GPL(nc_update_status);

/*
 * Extended ntp_gettime and the full timex (either may be NULL) from one
 * snapshot; returns the TIME_* state ntp_adjtime would return.
 */
int nc_snapshot(struct nanoclock *nc, struct __kernel_timex *tx,
		struct nk_ntptime *nt)
{
	struct __kernel_timex tmp;
	unsigned long flags;
	int state;
	u64 pcc;

	if (!tx)
		tx = &tmp;
	memset(tx, 0, sizeof(*tx));
	raw_spin_lock_irqsave(&nc->lock, flags);
	pcc = ktime_get_raw_fast_ns();
	state = nk_adjtime(&nc->nk, tx, pcc);
	if (nt)
		nk_gettime(&nc->nk, pcc, nt);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	return state;
}
EXPORT_SYMBOL_GPL(nc_snapshot);

void nc_ntptime(struct nanoclock *nc, struct nk_ntptime *nt)
{
	nc_snapshot(nc, NULL, nt);
}

/* ---- the tick ---- */

/*
 * Run the core at PCC now; returns the PCC ns at which to run next: the
 * clock's next second boundary when it comes before the next periodic tick.
 */
u64 nc_tick(struct nanoclock *nc, u64 *now)
{
	unsigned long flags, ev;
	u64 pcc, next, target;

	raw_spin_lock_irqsave(&nc->lock, flags);
	pcc = ktime_get_raw_fast_ns();
	next = nk_tick(&nc->nk, pcc);
	nc_publish(nc, false);
	ev = nc_detect_events(nc);
	nc->ticks++;
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	nc_queue_events(nc, ev);

	target = pcc + nc->period_ns;
	if (next > pcc && next < target)
		target = next;
	*now = pcc;
	return target;
}
EXPORT_SYMBOL_GPL(nc_tick);

/*
 * hrtimers run on CLOCK_MONOTONIC; the core speaks PCC (MONOTONIC_RAW).
 * Convert with the current MONOTONIC - RAW difference. The two drift apart
 * by at most the system's NTP frequency (<= 500 ppm), so a timer aimed at a
 * second boundary lands within period * 500e-6 of it; if early, the core
 * returns the same boundary again and the next, tiny, interval hits it.
 */
static enum hrtimer_restart nc_timer_fn(struct hrtimer *timer)
{
	struct nanoclock *nc = container_of(timer, struct nanoclock, timer);
	u64 now, target;
	s64 mono_minus_raw;

	target = nc_tick(nc, &now);
	mono_minus_raw = (s64)(ktime_get_mono_fast_ns() - ktime_get_raw_fast_ns());
	hrtimer_set_expires(timer, ns_to_ktime((s64)target + mono_minus_raw));
	return HRTIMER_RESTART;
}

void nc_clock_start(struct nanoclock *nc)
{
	hrtimer_start(&nc->timer, ns_to_ktime(ktime_get_ns() + nc->period_ns),
		      HRTIMER_MODE_ABS_HARD);
}
EXPORT_SYMBOL_GPL(nc_clock_start);

void nc_clock_stop(struct nanoclock *nc)
{
	hrtimer_cancel(&nc->timer);
}
EXPORT_SYMBOL_GPL(nc_clock_stop);

/* ---- instance lifetime ---- */

struct nanoclock *nc_clock_create(int index, u32 options, unsigned int hz)
{
	struct nanoclock *nc;
	struct timespec64 real;
	u64 pcc;

	nc = kzalloc(sizeof(*nc), GFP_KERNEL);
	if (!nc)
		return NULL;
	nc->page_pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!nc->page_pg) {
		kfree(nc);
		return NULL;
	}
	nc->page = page_address(nc->page_pg);
	nc->page->magic = NANOCLOCK_PAGE_MAGIC;
	nc->page->version = NANOCLOCK_PAGE_VERSION;
	nc->page->size = sizeof(*nc->page);

	nc->index = index;
	nc->period_ns = div_u64(NSEC_PER_SEC, hz);
	raw_spin_lock_init(&nc->lock);
	INIT_WORK(&nc->event_work, nc_event_work);
	hrtimer_init(&nc->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	nc->timer.function = nc_timer_fn;

	/* Start at the system's idea of UTC, unsynchronised. */
	ktime_get_real_ts64(&real);
	pcc = ktime_get_raw_fast_ns();
	nk_init(&nc->nk, options, pcc, real.tv_sec, real.tv_nsec);
	nc_fill_pub(nc, &nc->published);
	nc_publish(nc, true);
	nc->ev_status = nc->nk.time_status;
	nc->ev_state = nc->published.state;
	nc->ev_sec = nc->published.tb.sec;
	return nc;
}
EXPORT_SYMBOL_GPL(nc_clock_create);

/* Free what nc_clock_create() allocated (from the device release). */
void nc_clock_free(struct nanoclock *nc)
{
	/* A reader that still maps the page holds its own page reference. */
	__free_page(nc->page_pg);
	kfree(nc);
}

/* Stop everything that could still run on @nc; no new events after this. */
void nc_clock_quiesce(struct nanoclock *nc)
{
	hrtimer_cancel(&nc->timer);
	cancel_work_sync(&nc->event_work);
	WRITE_ONCE(nc->page->flags, nc->page->flags | NANOCLOCK_PAGE_F_DEAD);
}
EXPORT_SYMBOL_GPL(nc_clock_quiesce);
