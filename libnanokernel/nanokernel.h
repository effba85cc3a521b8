/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nanokernel.h - David Mills' nanokernel clock discipline as one portable core.
 *
 * The same source compiles into nanoclock.ko and into a userspace static
 * library (tests, simulator). One struct nk_clock holds a clock's whole
 * state; every entry point takes it explicitly. No globals, no allocation,
 * no floating point. The caller serialises writers (the kernel module holds
 * a spinlock); readers use a published struct nk_timebase copy.
 *
 * Time inputs:
 *   pcc_ns - the process cycle counter: CLOCK_MONOTONIC_RAW in nanoseconds
 *            (ktime_get_raw_fast_ns() in the kernel). Never goes backwards.
 *
 * Model: FreeBSD kern_ntptime.c (default). Linux ntp.c behaviours are
 * per-clock options (NK_OPT_*), so the simulator can compare them.
 */
#ifndef NANOKERNEL_H
#define NANOKERNEL_H

#include "nk_port.h"
#include "nk_timebase.h"	/* struct nk_timebase, nk_time, nk_timebase_read */
#include "nk_ppsest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants (FreeBSD sys/timex.h unless said otherwise) ---- */
#define NK_MAXPHASE		500000000LL	/* max phase error, ns */
#define NK_MAXFREQ		500000LL	/* max frequency error, ns/s */
#define NK_MINSEC		256		/* min FLL update interval, s */
#define NK_MAXSEC		2048		/* max PLL update interval, s */
#define NK_MAXTC		10		/* max time constant, log2 s */
#define NK_SHIFT_PLL_FREEBSD	4		/* PLL loop gain, shift */
#define NK_SHIFT_PLL_LINUX	2
#define NK_SHIFT_FLL		2		/* FLL loop gain, shift */
#define NK_PPS_FAVG		2		/* min calibration interval, log2 s */
#define NK_PPS_FAVGDEF		8		/* default max interval, log2 s */
#define NK_PPS_FAVGMAX		15		/* max interval cap, log2 s */
#define NK_PPS_VALID_FREEBSD	120		/* PPS signal watchdog, s */
#define NK_PPS_VALID_LINUX	10
#define NK_PPS_MAXWANDER	100000LL	/* max PPS freq wander, ns/s */
#define NK_PPS_POPCORN_FREEBSD	2		/* popcorn gate, shift of jitter */
#define NK_PPS_POPCORN_LINUX	4
#define NK_MAX_TAI_OFFSET	100000		/* s, as Linux */
#define NK_PHASE_LIMIT_US	16000000LL	/* maxerror cap (Linux), us */
#define NK_MAX_TICKADJ_US	500		/* adjtime slew under 1 s left, us/s */
#define NK_BIG_TICKADJ_US	5000		/* adjtime slew over 1 s left, us/s */
#define NK_TOLERANCE		(500LL << 16)	/* timex.tolerance, scaled ppm */
#define NK_PPM_SCALE		65536000LL	/* scaled ppm -> ns/s << 32 */
#define NK_SCALE_PPM		65		/* ns/s -> scaled ppm, FreeBSD */
#define NK_PPS_POPCORN_FLOOR	2LL		/* popcorn floor: 2 PCC periods, ns */
#define NK_LARGE_STEP		200		/* s; beyond, second overflow runs twice */
#define NK_USER_HZ		100		/* timex.tick unit: 1/USER_HZ s */
#define NK_TICK_USEC_DEFAULT	(1000000 / NK_USER_HZ)	/* us per 1/USER_HZ s */

/*
 * The adjtime() modes, spelled the same in the kernel and in userspace
 * (the kernel's <linux/timex.h> and the uapi header disagree on the names
 * ADJ_OFFSET_SINGLESHOT / ADJ_OFFSET_SS_READ).
 */
#define NK_ADJ_ADJTIME		0x8000	/* adjtime(): slew by timex.offset (us) */
#define NK_ADJ_OFFSET_SS	0x0001	/* must be set together with ADJTIME */
#define NK_ADJ_OFFSET_READONLY	0x2000	/* with ADJTIME: only read the residue */
#define NK_ADJ_OFFSET_SINGLESHOT (NK_ADJ_ADJTIME | NK_ADJ_OFFSET_SS)
#define NK_ADJ_OFFSET_SS_READ	(NK_ADJ_OFFSET_SINGLESHOT | NK_ADJ_OFFSET_READONLY)

/*
 * MOD_PPSMAX on the bit Linux leaves free (0x0040): sets the maximum PPS
 * calibration interval (log2 s) from timex.shift.
 */
#define NK_ADJ_PPSMAX		0x0040

/* ---- per-clock options: Linux ntp.c behaviours (default FreeBSD) ---- */
#define NK_OPT_LINUX_SHIFT_PLL	0x01	/* SHIFT_PLL 2 instead of 4 */
#define NK_OPT_LINUX_PPS_VALID	0x02	/* 10 s PPS watchdog instead of 120 s */
#define NK_OPT_LINUX_PPS_NEWEST	0x04	/* newest PPS sample, no median */
#define NK_OPT_LINUX_PPS_PHASE	0x08	/* PPS phase applied at once, not >> pps_shift */
#define NK_OPT_LINUX_SECS_CLAMP	0x10	/* hardupdate secs clamped to 1 << (SHIFT_PLL + 1 + tc) */
#define NK_OPT_LINUX_ALL	0x1f

/*
 * PPS frequency calibration exactly as kern_ntptime.c (default: off). The
 * default starts and ends a calibration interval only on an edge the popcorn
 * filter accepted and whose own phase agrees with the last such edge, and
 * counts the seconds actually elapsed from the PCC, so a latency spike on
 * the closing edge or a dropped edge does not spoil or void the interval;
 * strict mode closes on the first edge 2^pps_shift labelled seconds after
 * the start, spike or not, and voids any interval that is not exactly
 * 2^pps_shift seconds. The exact units of the measured frequency apply to
 * both. See README.md, "Deviations".
 */
#define NK_OPT_FREEBSD_STRICT_CAL 0x20

/*
 * The estimator PPS discipline (not the nanokernel's): a phase/frequency
 * estimator of the edges against the PCC (nk_ppsest.h) with a robust gate
 * against spikes and frequency-step detection; each edge sets time_freq
 * to the estimated rate (STA_PPSFREQ) and time_offset to the estimated
 * phase error at the next second, all of it applied in that second
 * (STA_PPSTIME). Replaces the PPS calibration and phase filter of the
 * other options. See README.md, "The estimator PPS discipline".
 */
#define NK_OPT_PPS_ESTIMATOR	0x40
#define NK_OPT_ALL		0x7f

/* Extended ntp_gettime view (ntptimeval + PCC + status). */
struct nk_ntptime {
	struct nk_time time;
	nk_u64 pcc_ns;		/* PCC reading the time was computed from */
	nk_s64 maxerror;	/* us */
	nk_s64 esterror;	/* us */
	nk_s32 tai;		/* TAI - UTC, s */
	nk_s32 state;		/* TIME_OK .. TIME_ERROR */
	nk_s32 status;		/* STA_* */
};

/* Full clock state; fields described in nanokernel.c's order of use. */
struct nk_clock {
	nk_u32 options;		/* NK_OPT_* */
	struct nk_timebase tb;	/* current base and slope */

	/* discipline state (FreeBSD names) */
	nk_s32 time_state;	/* TIME_OK .. TIME_WAIT */
	nk_s32 time_status;	/* STA_* */
	nk_s32 time_tai;	/* TAI - UTC, s */
	nk_s64 time_monitor;	/* last clamped offset, ns */
	nk_s64 time_constant;	/* PLL time constant, log2 s */
	nk_s64 time_precision;	/* clock precision, ns */
	nk_s64 time_maxerror;	/* maximum error, us */
	nk_s64 time_esterror;	/* estimated error, us */
	nk_s64 time_reftime;	/* PCC s of last hardupdate */
	nk_s32 time_reftime_set;	/* time_reftime holds a value (bool) */
	nk_s64 time_offset;	/* residual phase to amortise, ns << 32 */
	nk_s64 time_freq;	/* frequency offset, ns/s << 32 */
	nk_s64 time_adj;	/* rate for the current second, ns/s << 32 */
	nk_s64 time_adjtime;	/* adjtime() slew residue, us */
	nk_s64 tick_usec;	/* timex.tick: us per 1/USER_HZ s (ADJ_TICK) */
	nk_s64 next_second_pcc;	/* PCC estimate of the next second boundary, ns */

	/* PPS discipline */
	struct nk_time pps_tf[3];	/* phase median register */
	nk_u64 pps_lastpcc;	/* PCC of the previous edge, ns (0 = none) */
	nk_s64 pps_freq;	/* PPS frequency offset, ns/s << 32 */
	nk_s64 pps_fcount;	/* frequency accumulator: sum of (PCC interval
				 * - whole seconds), ns; the calibration
				 * interval lasted fsecs * 1e9 + fcount PCC ns
				 */
	nk_s64 pps_fsecs;	/* true seconds (PPS periods) in the calibration
				 * interval, counted from the PCC; -1: none
				 * open (the next accepted edge starts one)
				 */
	nk_s64 pps_jitter;	/* PPS jitter, ns */
	nk_s64 pps_calref;	/* phase of the last edge fit to end a
				 * calibration interval, ns
				 */
	nk_s64 pps_caljitter;	/* EWMA of |phase - pps_calref|, clipped at
				 * the end-edge gate, ns
				 */
	nk_s64 pps_stabil;	/* PPS stability, scaled ppm (ppm << 16) */
	nk_s64 pps_lastsec;	/* start of calibration interval, clock s */
	nk_s32 pps_valid;	/* watchdog countdown, s */
	nk_s32 pps_shift;	/* calibration interval, log2 s */
	nk_s32 pps_shiftmax;	/* max calibration interval, log2 s */
	nk_s32 pps_intcnt;	/* interval adaptation counter */
	nk_s64 pps_calcnt;	/* calibration intervals */
	nk_s64 pps_jitcnt;	/* jitter limit exceeded */
	nk_s64 pps_stbcnt;	/* stability limit exceeded */
	nk_s64 pps_errcnt;	/* calibration errors */
	nk_s64 pps_dropcnt;	/* missing edges, from PCC intervals of >= 1.5 s */
	struct nk_ppsest pps_est;	/* NK_OPT_PPS_ESTIMATOR's edge estimator */
};

/* Initialise: clock reads @sec.@nsec at @pcc_ns, all state at boot values. */
void nk_init(struct nk_clock *c, nk_u32 options, nk_u64 pcc_ns,
	     nk_s64 sec, nk_s32 nsec);

/*
 * Validate a timex like Linux's timekeeping_validate_timex (no permission
 * checks: the caller does those). Returns 0 or -NK_EINVAL.
 */
int nk_adjtime_validate(const struct __kernel_timex *tx);

/*
 * ntp_adjtime on this clock: validate, apply every mode in FreeBSD order
 * (ADJ_SETOFFSET first, as Linux), fill @tx with the current state (PPS
 * fields included). Returns the TIME_* state (TIME_ERROR when the error
 * predicate holds; TIME_OOP/TIME_WAIT when a leap is pending past the last
 * tick, as Linux) or -NK_EINVAL (then nothing changed). modes == 0 is a
 * pure read. With NK_ADJ_ADJTIME (adjtime(): ADJ_OFFSET_SINGLESHOT or
 * ADJ_OFFSET_SS_READ) only the slew residue is set/read, in tx->offset (us).
 */
int nk_adjtime(struct nk_clock *c, struct __kernel_timex *tx, nk_u64 pcc_ns);

/* ntp_gettime view at @pcc_ns, TIME_OOP / tai+1 during an inserted leap. */
void nk_gettime(const struct nk_clock *c, nk_u64 pcc_ns,
		struct nk_ntptime *out);

/*
 * Change a running clock's NK_OPT_* bits (e.g. NK_OPT_PPS_ESTIMATOR). The
 * PPS discipline starts afresh from the next edge (its filters and
 * calibration are forgotten); time, time_freq and the status are kept.
 */
void nk_set_options(struct nk_clock *c, nk_u32 options);

/* Set the clock (clock_settime) at @pcc_ns. */
void nk_settime(struct nk_clock *c, nk_u64 pcc_ns, const struct nk_time *ts);

/*
 * Periodic tick at @pcc_ns: re-base the timebase (old slope up to now),
 * run second overflow for every clock second boundary crossed, install the
 * new slope. Returns the PCC ns of the next second boundary, for the
 * caller's timer; or, when @pcc_ns precedes a base moved ahead by the
 * publisher and the new slope is steeper, that base: the slope is installed
 * by the tick there.
 */
nk_u64 nk_tick(struct nk_clock *c, nk_u64 pcc_ns);

/* PPS edge captured at PCC @pcc_ns (hard-IRQ timestamp). */
void nk_hardpps(struct nk_clock *c, nk_u64 pcc_ns);

/* Clock time at @pcc_ns from the clock's current timebase. */
static inline void nk_read(const struct nk_clock *c, nk_u64 pcc_ns,
			   struct nk_time *out)
{
	nk_timebase_read(&c->tb, pcc_ns, out);
}

/* Return the TIME_ERROR predicate (ntp_is_time_error) for @status. */
int nk_is_time_error(nk_s32 status);

#ifdef __cplusplus
}
#endif

#endif /* NANOKERNEL_H */
