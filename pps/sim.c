// SPDX-License-Identifier: GPL-2.0
/*
 * sim.c - nanoclock-pps-sim.ko: a simulated PPS source for tests and demos.
 *
 * The reference ("true time") is derived from the PCC itself, so emulation
 * noise (a VM's clock, timer latency) is never mistaken for discipline
 * error: one reference second lasts 1e9 + freq_ppb PCC ns, i.e. the PCC
 * runs freq_ppb fast against the reference. Edge n of the current anchor
 * happens at PCC
 *
 *	pcc_a + n * (1e9 + freq_ppb) + jitter_n + spike_n	(ns)
 *
 * and is handed to the shared edge path with exactly that stamp; an
 * ABS_HARD hrtimer fires at (or after) it, and the timer's lateness is only
 * reported (SIM_LATENCY_MAX). Jitter is Gaussian (Irwin-Hall: twelve
 * uniform draws, integer only), spikes and dropouts happen with a
 * per-edge probability, an outage drops every edge for N s. Everything is
 * deterministic from @seed.
 *
 * At load the reference is placed phase_ns behind the bound clock (or
 * CLOCK_REALTIME when unbound): clock - reference = phase_ns, the initial
 * error the discipline must remove.
 */
#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "nanoclock_pps.h"

static int clock;
module_param(clock, int, 0444);
MODULE_PARM_DESC(clock, "bind to /dev/nanoclockN at load (-1: unbound; default 0)");

static long freq_ppb;
module_param(freq_ppb, long, 0444);
MODULE_PARM_DESC(freq_ppb, "PCC rate error against the reference, ppb (+-500000; default 0)");

static long phase_ns;
module_param(phase_ns, long, 0444);
MODULE_PARM_DESC(phase_ns, "initial clock - reference, ns (+-0.5 s; default 0)");

static uint jitter_ns;
module_param(jitter_ns, uint, 0444);
MODULE_PARM_DESC(jitter_ns, "Gaussian edge jitter sigma, ns (default 0)");

static long spike_ns;
module_param(spike_ns, long, 0444);
MODULE_PARM_DESC(spike_ns, "spike added to an edge, ns (default 0)");

static uint spike_ppm;
module_param(spike_ppm, uint, 0444);
MODULE_PARM_DESC(spike_ppm, "spike probability per edge, ppm (default 0)");

static uint drop_ppm;
module_param(drop_ppm, uint, 0444);
MODULE_PARM_DESC(drop_ppm, "dropout probability per edge, ppm (default 0)");

static ulong seed = 1;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "random seed (default 1)");

#define SIM_MAX_FREQ_PPB	500000		/* ppb */
#define SIM_MAX_PHASE_NS	(NSEC_PER_SEC / 2)
#define SIM_MAX_JITTER_NS	100000000	/* ns */
#define SIM_PPM			1000000

struct ncpps_sim {
	struct ncpps_source *src;
	struct hrtimer timer;
	raw_spinlock_t lock;		/* everything below */
	struct rnd_state rnd;

	/* parameters */
	s64 freq;		/* ppb */
	s64 phase;		/* last phase set, ns */
	u32 jitter;		/* sigma, ns */
	s64 spike;		/* ns */
	u32 spike_ppm;		/* ppm */
	u32 drop_ppm;		/* ppm */

	/* reference: edge n at pcc_a + n * (1e9 + freq) PCC ns */
	u64 pcc_a;		/* PCC of reference second @sec_a, ns */
	s64 sec_a;		/* reference seconds at @pcc_a */
	s64 n;			/* next edge number */
	s64 outage_end;		/* edges before this number are dropped */
	u64 next_stamp;		/* PCC of the next edge incl. noise, ns */
	bool next_drop;		/* the next edge is dropped */
	bool stopping;		/* unloading: the timer stops */

	/* counters */
	u64 spikes;
	u64 dropped;
	u64 latency_max;	/* timer expiry after the edge, ns */
};

static struct ncpps_sim *sim;

/* PCC ns per reference second. */
static s64 sim_period(const struct ncpps_sim *s)
{
	return NSEC_PER_SEC + s->freq;
}

/* Reference ns elapsed over @d PCC ns (d >= 0): d * 1e9 / period. */
static u64 sim_ref_ns(const struct ncpps_sim *s, u64 d)
{
	u64 p = sim_period(s), rem;
	u64 q = div64_u64_rem(d, p, &rem);

	/* rem < 1.0005e9, so rem * 1e9 < 2^63 */
	return q * NSEC_PER_SEC + div64_u64(rem * NSEC_PER_SEC, p);
}

/* PCC ns elapsed over @d reference ns (d >= 0). */
static u64 sim_pcc_ns(const struct ncpps_sim *s, u64 d)
{
	u64 rem;
	u64 q = div64_u64_rem(d, NSEC_PER_SEC, &rem);
	s64 p = sim_period(s);

	return q * p + div64_u64(rem * p, NSEC_PER_SEC);
}

/* Reference time at PCC @pcc, ns since the reference's epoch. */
static s64 sim_ref_at(const struct ncpps_sim *s, u64 pcc)
{
	s64 base = s->sec_a * NSEC_PER_SEC;

	if (pcc >= s->pcc_a)
		return base + sim_ref_ns(s, pcc - s->pcc_a);
	return base - sim_ref_ns(s, s->pcc_a - pcc);
}

/* N(0, 1) * @sigma ns: Irwin-Hall, twelve uniform 32-bit draws. */
static s64 sim_gauss(struct ncpps_sim *s, u32 sigma)
{
	s64 sum = 0;	/* 2^-32 units, mean 6 * 2^32 */
	int i;

	if (!sigma)
		return 0;
	for (i = 0; i < 12; i++)
		sum += prandom_u32_state(&s->rnd);
	sum -= 6LL << 32;
	/* |sum| < 6 * 2^32 and sigma <= 1e8 < 2^27: fits in s64 */
	return (sum * sigma) >> 32;
}

static bool sim_chance(struct ncpps_sim *s, u32 ppm)
{
	return ppm && prandom_u32_state(&s->rnd) % SIM_PPM < ppm;
}

/* Draw edge @s->n: its stamp and whether it is lost. Under @s->lock. */
static void sim_draw(struct ncpps_sim *s)
{
	s64 t = s->pcc_a + s->n * sim_period(s);

	t += sim_gauss(s, s->jitter);
	if (s->spike && sim_chance(s, s->spike_ppm)) {
		t += s->spike;
		s->spikes++;
	}
	s->next_drop = s->n < s->outage_end || sim_chance(s, s->drop_ppm);
	s->next_stamp = t;
}

/* Re-anchor at the next edge, so new parameters apply from there on. */
static void sim_reanchor(struct ncpps_sim *s)
{
	s->pcc_a += s->n * sim_period(s);
	s->sec_a += s->n;
	s->outage_end -= s->n;
	s->n = 0;
}

/* CLOCK_MONOTONIC time of PCC @pcc_target (drift <= 500 ppm: see kmod). */
static ktime_t sim_mono(u64 pcc_target)
{
	s64 mono_minus_raw = ktime_get_mono_fast_ns() - ktime_get_raw_fast_ns();

	return ns_to_ktime((s64)pcc_target + mono_minus_raw);
}

/* From the timer callback only (the timer is not queued there). */
static void sim_arm(struct ncpps_sim *s, u64 pcc_target)
{
	hrtimer_set_expires(&s->timer, sim_mono(pcc_target));
}

static enum hrtimer_restart sim_timer_fn(struct hrtimer *timer)
{
	u64 now = ktime_get_raw_fast_ns();	/* first: the IRQ's PCC */
	struct ncpps_sim *s = container_of(timer, struct ncpps_sim, timer);
	unsigned long flags;
	bool drop;
	u64 stamp;

	raw_spin_lock_irqsave(&s->lock, flags);
	if (s->stopping) {
		raw_spin_unlock_irqrestore(&s->lock, flags);
		return HRTIMER_NORESTART;
	}
	stamp = s->next_stamp;
	if (now < stamp) {		/* MONOTONIC ran ahead of RAW */
		sim_arm(s, stamp);
		raw_spin_unlock_irqrestore(&s->lock, flags);
		return HRTIMER_RESTART;
	}
	drop = s->next_drop;
	if (now - stamp > s->latency_max)
		s->latency_max = now - stamp;
	if (drop)
		s->dropped++;
	s->n++;
	sim_draw(s);
	/* a stall longer than a second: skip edges that are long gone */
	while (s->next_stamp + NSEC_PER_SEC / 2 < now) {
		s->dropped++;
		s->n++;
		sim_draw(s);
	}
	sim_arm(s, s->next_stamp);
	raw_spin_unlock_irqrestore(&s->lock, flags);

	/*
	 * The simulated edge; the cost statistic starts here, not at @now,
	 * so it measures the shared edge path without this bookkeeping.
	 */
	if (!drop)
		ncpps_edge(s->src, stamp, ktime_get_raw_fast_ns());
	return HRTIMER_RESTART;
}

/* ---- netlink ---- */

static int sim_nl_fill(struct ncpps_source *src, struct sk_buff *skb)
{
	struct ncpps_sim *s = src->priv;
	struct nanoclock *nc = READ_ONCE(src->clock);
	struct ncpps_sim_copy {
		s64 freq, phase, spike, outage;
		u32 jitter, spike_ppm, drop_ppm;
		u64 spikes, dropped, latency_max;
	} c;			/* no netlink work under a raw lock */
	unsigned long flags;
	struct nk_time t;
	s64 ref, err = 0;	/* ns */
	u64 pcc;
	s32 rem;	/* ns, negative when ref is */

	raw_spin_lock_irqsave(&s->lock, flags);
	if (nc) {
		nc_read(nc, &t, &pcc);
		ref = sim_ref_at(s, pcc);
		err = (t.sec - s->sec_a) * NSEC_PER_SEC + t.nsec -
		      (ref - s->sec_a * NSEC_PER_SEC);
	} else {
		pcc = ktime_get_raw_fast_ns();
		ref = sim_ref_at(s, pcc);
	}
	c.freq = s->freq;
	c.phase = s->phase;
	c.spike = s->spike;
	c.outage = s->outage_end > s->n ? s->outage_end - s->n : 0;
	c.jitter = s->jitter;
	c.spike_ppm = s->spike_ppm;
	c.drop_ppm = s->drop_ppm;
	c.spikes = s->spikes;
	c.dropped = s->dropped;
	c.latency_max = s->latency_max;
	raw_spin_unlock_irqrestore(&s->lock, flags);

	if (nla_put_s64(skb, NANOCLOCK_PPS_A_SIM_FREQ, c.freq,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_SIM_PHASE, c.phase,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_SIM_JITTER, c.jitter) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_SIM_SPIKE, c.spike,
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_SIM_SPIKE_PPM, c.spike_ppm) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_SIM_DROP_PPM, c.drop_ppm) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_SIM_OUTAGE, c.outage) ||
	    nla_put_s64(skb, NANOCLOCK_PPS_A_SIM_REF_SEC,
			div_s64_rem(ref, NSEC_PER_SEC, &rem) - (ref < 0 && rem),
			NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u32(skb, NANOCLOCK_PPS_A_SIM_REF_NSEC,
			ref < 0 && rem ? rem + NSEC_PER_SEC : rem) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_SIM_PCC, pcc,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_SIM_SPIKES, c.spikes,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_SIM_DROPPED, c.dropped,
			      NANOCLOCK_PPS_A_PAD) ||
	    nla_put_u64_64bit(skb, NANOCLOCK_PPS_A_SIM_LATENCY_MAX,
			      c.latency_max, NANOCLOCK_PPS_A_PAD))
		return -EMSGSIZE;
	if (nc && nla_put_s64(skb, NANOCLOCK_PPS_A_SIM_ERROR, err,
			      NANOCLOCK_PPS_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * SET_SIM: the policy checked every range. Takes effect from the next
 * edge: the anchor moves there, so the reference stays continuous; a
 * SIM_PHASE of N ns moves all later edges N ns later (the reference steps
 * back N ns, clock - reference grows by N ns).
 */
static int sim_nl_set(struct ncpps_source *src, struct nlattr **a,
		      struct netlink_ext_ack *extack)
{
	struct ncpps_sim *s = src->priv;
	unsigned long flags;

	raw_spin_lock_irqsave(&s->lock, flags);
	sim_reanchor(s);
	if (a[NANOCLOCK_PPS_A_SIM_FREQ])
		s->freq = nla_get_s64(a[NANOCLOCK_PPS_A_SIM_FREQ]);
	if (a[NANOCLOCK_PPS_A_SIM_PHASE]) {
		s->phase = nla_get_s64(a[NANOCLOCK_PPS_A_SIM_PHASE]);
		s->pcc_a += s->phase;
	}
	if (a[NANOCLOCK_PPS_A_SIM_JITTER])
		s->jitter = nla_get_u32(a[NANOCLOCK_PPS_A_SIM_JITTER]);
	if (a[NANOCLOCK_PPS_A_SIM_SPIKE])
		s->spike = nla_get_s64(a[NANOCLOCK_PPS_A_SIM_SPIKE]);
	if (a[NANOCLOCK_PPS_A_SIM_SPIKE_PPM])
		s->spike_ppm = nla_get_u32(a[NANOCLOCK_PPS_A_SIM_SPIKE_PPM]);
	if (a[NANOCLOCK_PPS_A_SIM_DROP_PPM])
		s->drop_ppm = nla_get_u32(a[NANOCLOCK_PPS_A_SIM_DROP_PPM]);
	if (a[NANOCLOCK_PPS_A_SIM_OUTAGE])
		s->outage_end = nla_get_u32(a[NANOCLOCK_PPS_A_SIM_OUTAGE]);
	/*
	 * Redraw the pending edge (n = 0) with the new parameters. The timer
	 * stays armed for the old one: if that is early the callback re-arms,
	 * if late (at most 0.5 s + 500 ppm) the edge keeps its exact stamp.
	 */
	sim_draw(s);
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return 0;
}

static const struct ncpps_source_ops sim_ops = {
	.nl_fill = sim_nl_fill,
	.nl_set = sim_nl_set,
};

/* ---- load ---- */

/* Place reference second sec_a at least a second ahead, phase_ns behind. */
static void sim_anchor(struct ncpps_sim *s, struct nanoclock *nc)
{
	struct timespec64 real;
	struct nk_time t;
	s64 r, ahead;	/* reference now, ns; to its second after next, ns */
	u64 pcc;

	if (nc) {
		nc_read(nc, &t, &pcc);
	} else {
		ktime_get_real_ts64(&real);
		pcc = ktime_get_raw_fast_ns();
		t.sec = real.tv_sec;
		t.nsec = real.tv_nsec;
	}
	r = t.sec * NSEC_PER_SEC + t.nsec - s->phase;
	s->sec_a = div_s64(r, NSEC_PER_SEC) + 2;
	ahead = s->sec_a * NSEC_PER_SEC - r;
	s->pcc_a = pcc + sim_pcc_ns(s, ahead);
	s->n = 0;
}

static int __init sim_init(void)
{
	struct nanoclock *nc = NULL;
	int err;

	if (freq_ppb < -SIM_MAX_FREQ_PPB || freq_ppb > SIM_MAX_FREQ_PPB ||
	    phase_ns < -SIM_MAX_PHASE_NS || phase_ns > SIM_MAX_PHASE_NS ||
	    spike_ns < -SIM_MAX_PHASE_NS || spike_ns > SIM_MAX_PHASE_NS ||
	    jitter_ns > SIM_MAX_JITTER_NS || spike_ppm > SIM_PPM ||
	    drop_ppm > SIM_PPM || clock < -1) {
		pr_err("nanoclock-pps-sim: parameter out of range\n");
		return -EINVAL;
	}
	if (clock >= 0) {
		nc = nc_get_clock(clock);
		if (!nc) {
			pr_err("nanoclock-pps-sim: no nanoclock%d\n", clock);
			return -ENODEV;
		}
	}
	sim = kzalloc(sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return -ENOMEM;
	raw_spin_lock_init(&sim->lock);
	prandom_seed_state(&sim->rnd, seed);
	sim->freq = freq_ppb;
	sim->phase = phase_ns;
	sim->jitter = jitter_ns;
	sim->spike = spike_ns;
	sim->spike_ppm = spike_ppm;
	sim->drop_ppm = drop_ppm;
	hrtimer_init(&sim->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	sim->timer.function = sim_timer_fn;

	sim->src = ncpps_source_register("sim", NULL, &sim_ops, sim,
					 THIS_MODULE, clock);
	if (IS_ERR(sim->src)) {
		err = PTR_ERR(sim->src);
		kfree(sim);
		return err;
	}
	raw_spin_lock_irq(&sim->lock);
	sim_anchor(sim, nc);
	sim_draw(sim);
	raw_spin_unlock_irq(&sim->lock);
	hrtimer_start(&sim->timer, sim_mono(sim->next_stamp),
		      HRTIMER_MODE_ABS_HARD);
	return 0;
}

static void __exit sim_exit(void)
{
	raw_spin_lock_irq(&sim->lock);
	sim->stopping = true;
	raw_spin_unlock_irq(&sim->lock);
	hrtimer_cancel(&sim->timer);	/* no edges after this */
	ncpps_source_unregister(sim->src);	/* no netlink after this */
	kfree(sim);
}

module_init(sim_init);
module_exit(sim_exit);

MODULE_DESCRIPTION("nanoclock simulated PPS source (hrtimer edges on a PCC-derived reference)");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
