/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nanoclock.h - the user/kernel contract of nanoclock.ko.
 *
 * Stands alone: needs only <linux/types.h> and <linux/ioctl.h>. Describes
 *   1. the clock devices /dev/nanoclockN (dynamic POSIX clocks; use
 *      FD_TO_CLOCKID(fd) with clock_gettime/settime/getres/adjtime),
 *   2. their ioctls,
 *   3. the read-only mmap page and its sequence protocol,
 *   4. the generic netlink family "nanoclock".
 */
#ifndef _UAPI_LINUX_NANOCLOCK_H
#define _UAPI_LINUX_NANOCLOCK_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define NANOCLOCK_DEV_PREFIX	"nanoclock"	/* /dev/nanoclockN */

/* clockid of an open clock fd (as in the kernel's posix-timers.h) */
#define NANOCLOCK_CLOCKFD	3
#define NANOCLOCK_FD_TO_CLOCKID(fd) \
	((int)((~(unsigned int)(fd) << 3) | NANOCLOCK_CLOCKFD))

/* ---- 1. ioctls on /dev/nanoclockN ---- */

struct nanoclock_timespec {
	__s64 tv_sec;
	__s64 tv_nsec;
};

/*
 * Extended ntp_gettime: the ntptimeval of ntp_gettime(3) plus the PCC
 * (CLOCK_MONOTONIC_RAW, ns) reading the time was computed from, the STA_*
 * status and TIME_* state, all from one consistent snapshot.
 */
struct nanoclock_ntptime {
	struct nanoclock_timespec time;	/* clock time at pcc_ns */
	__u64 pcc_ns;			/* CLOCK_MONOTONIC_RAW, ns */
	__s64 maxerror;			/* us */
	__s64 esterror;			/* us */
	__s32 tai;			/* TAI - UTC, s */
	__s32 state;			/* TIME_OK .. TIME_ERROR */
	__s32 status;			/* STA_* */
	__u32 reserved0;
	__u64 reserved[4];
};

/* Static facts about a clock instance. */
struct nanoclock_info {
	__u32 index;		/* N of /dev/nanoclockN */
	__s32 ptp_index;	/* M of /dev/ptpM, -1 if none */
	__u32 tick_hz;		/* tick rate */
	__u32 page_size;	/* bytes to mmap at offset 0 */
	__u64 reserved[4];
};

#define NANOCLOCK_IOC_MAGIC	0xCD
#define NANOCLOCK_IOC_NTP_GETTIME _IOR(NANOCLOCK_IOC_MAGIC, 1, struct nanoclock_ntptime)
#define NANOCLOCK_IOC_GET_INFO	_IOR(NANOCLOCK_IOC_MAGIC, 2, struct nanoclock_info)

/* ---- 2. the read-only mmap page (offset 0, one page, PROT_READ) ---- */

/*
 * A reader's view: the clock at one PCC instant and the slope since then.
 *
 *   d    = pcc - pcc_base                        (signed, ns)
 *   time = sec * 1e9 + (frac + d * mult) / 2^32  (ns; mult is clock ns per
 *                                                 PCC ns << 32)
 * frac is the nanoseconds into second @sec, << 32. The product d * mult
 * needs 128 bits for |d| beyond ~4 s; a tick re-bases at least every second.
 */
struct nanoclock_timebase {
	__u64 pcc_base;		/* CLOCK_MONOTONIC_RAW at the base, ns */
	__s64 sec;		/* clock seconds at the base */
	__u64 frac;		/* ns into that second << 32 */
	__u64 mult;		/* clock ns per PCC ns << 32 (2^32 nominal) */
};

struct nanoclock_page_data {
	struct nanoclock_timebase tb;
	__s64 maxerror;		/* us, at the last update */
	__s64 esterror;		/* us */
	__s32 state;		/* TIME_* */
	__s32 status;		/* STA_* */
	__s32 tai;		/* TAI - UTC, s */
	__u32 reserved;
};

#define NANOCLOCK_PAGE_MAGIC	0x6e636b31	/* "nck1" */
#define NANOCLOCK_PAGE_VERSION	1

/*
 * Sequence protocol (a seqcount latch, as the kernel's tk_fast): the writer
 * increments @seq, rewrites data[0], increments @seq, rewrites data[1].
 * Readers never wait for the writer:
 *
 *	do {
 *		s = load_acquire(&page->seq);
 *		pcc = clock_gettime(CLOCK_MONOTONIC_RAW);
 *		d = page->data[s & 1];
 *		acquire_fence();
 *	} while (load(&page->seq) != s);
 *	time = timebase(d.tb, pcc);
 *
 * @update_count counts publications; @flags NANOCLOCK_PAGE_F_DEAD is set
 * when the clock is gone (module unloading): fall back to the syscall.
 */
#define NANOCLOCK_PAGE_F_DEAD	0x1

struct nanoclock_page {
	__u32 magic;		/* NANOCLOCK_PAGE_MAGIC */
	__u16 version;		/* NANOCLOCK_PAGE_VERSION */
	__u16 size;		/* sizeof(struct nanoclock_page) */
	__u32 seq;		/* latch sequence */
	__u32 flags;		/* NANOCLOCK_PAGE_F_* */
	__u64 update_count;
	struct nanoclock_page_data data[2];
};

/* ---- 3. generic netlink family "nanoclock" ---- */

#define NANOCLOCK_GENL_NAME		"nanoclock"
#define NANOCLOCK_GENL_VERSION		1
#define NANOCLOCK_GENL_MCGRP_EVENTS	"events"

/*
 * NANOCLOCK_CMD_GET_CLOCK: doit with NANOCLOCK_A_INDEX, or dump all clocks;
 *	replies carry the full status (attributes below).
 * NANOCLOCK_CMD_SET_CLOCK (CAP_SYS_TIME): mirrors clock_adjtime. Required:
 *	NANOCLOCK_A_INDEX, NANOCLOCK_A_MODES (ADJ_* bits of struct timex; ADJ_NANO
 *	is implied: offsets are ns), plus the attribute for every mode bit set.
 *	The reply is a GET_CLOCK message with the new state; its
 *	NANOCLOCK_A_STATE is the TIME_* return of the adjustment.
 * NANOCLOCK_CMD_EVENT: multicast on "events", NANOCLOCK_A_EVENT + status.
 */
enum nanoclock_cmd {
	NANOCLOCK_CMD_UNSPEC,
	NANOCLOCK_CMD_GET_CLOCK,
	NANOCLOCK_CMD_SET_CLOCK,
	NANOCLOCK_CMD_EVENT,
	__NANOCLOCK_CMD_MAX
};

#define NANOCLOCK_CMD_MAX (__NANOCLOCK_CMD_MAX - 1)

enum nanoclock_attr {
	NANOCLOCK_A_UNSPEC,
	NANOCLOCK_A_PAD,
	NANOCLOCK_A_INDEX,		/* u32: N of /dev/nanoclockN */
	NANOCLOCK_A_NAME,		/* string: "nanoclockN" */
	NANOCLOCK_A_PTP_INDEX,		/* s32: M of /dev/ptpM, -1 none */
	NANOCLOCK_A_TIME_SEC,		/* s64: clock time, s */
	NANOCLOCK_A_TIME_NSEC,		/* u32: clock time, ns part */
	NANOCLOCK_A_PCC_NS,		/* u64: CLOCK_MONOTONIC_RAW of the snapshot */
	NANOCLOCK_A_STATE,		/* s32: TIME_* */
	NANOCLOCK_A_STATUS,		/* u32: STA_* (set: with ADJ_STATUS) */
	NANOCLOCK_A_TAI,		/* s32: TAI - UTC, s (set: ADJ_TAI) */
	NANOCLOCK_A_MAXERROR,		/* s64: us (set: ADJ_MAXERROR) */
	NANOCLOCK_A_ESTERROR,		/* s64: us (set: ADJ_ESTERROR) */
	NANOCLOCK_A_OFFSET,		/* s64: ns (set: ADJ_OFFSET) */
	NANOCLOCK_A_FREQ,		/* s64: ppm << 16 (set: ADJ_FREQUENCY) */
	NANOCLOCK_A_CONSTANT,		/* s64: log2 s (set: ADJ_TIMECONST) */
	NANOCLOCK_A_PRECISION,		/* s64: ns */
	NANOCLOCK_A_TOLERANCE,		/* s64: ppm << 16 */
	NANOCLOCK_A_TICK,		/* s64: us per tick (set: ADJ_TICK) */
	NANOCLOCK_A_PPSFREQ,		/* s64: ppm << 16 */
	NANOCLOCK_A_JITTER,		/* s64: ns */
	NANOCLOCK_A_SHIFT,		/* s32: log2 s */
	NANOCLOCK_A_STABIL,		/* s64: ppm << 16 */
	NANOCLOCK_A_JITCNT,		/* s64 */
	NANOCLOCK_A_CALCNT,		/* s64 */
	NANOCLOCK_A_ERRCNT,		/* s64 */
	NANOCLOCK_A_STBCNT,		/* s64 */
	NANOCLOCK_A_MODES,		/* u32: set only, ADJ_* */
	NANOCLOCK_A_SETOFFSET,		/* s64: ns step (set: ADJ_SETOFFSET) */
	NANOCLOCK_A_EVENT,		/* u32: enum nanoclock_event */
	__NANOCLOCK_A_MAX
};

#define NANOCLOCK_A_MAX (__NANOCLOCK_A_MAX - 1)

enum nanoclock_event {
	NANOCLOCK_EV_STATUS,		/* STA_* or TIME_* changed */
	NANOCLOCK_EV_LEAP_ARMED,	/* STA_INS/STA_DEL newly set */
	NANOCLOCK_EV_LEAP_APPLIED,	/* a leap second was inserted/deleted */
	NANOCLOCK_EV_PPS_GAINED,	/* STA_PPSSIGNAL set */
	NANOCLOCK_EV_PPS_LOST,		/* STA_PPSSIGNAL cleared */
	NANOCLOCK_EV_PPS_STATS,		/* per-second PPS statistics */
	NANOCLOCK_EV_CLOCK_SET,		/* clock stepped (settime/setoffset) */
	__NANOCLOCK_EV_MAX
};

/* ---- 4. generic netlink family "nanoclock_pps" (nanoclock-pps.ko) ---- */

/*
 * The PPS sources of nanoclock-pps*.ko: one family owned by the module that
 * owns the sources (see pps/README.md).
 *
 * NANOCLOCK_PPS_CMD_GET_SOURCE: doit with NANOCLOCK_PPS_A_SOURCE, or dump;
 *	replies carry binding, statistics and the kind's own attributes.
 * NANOCLOCK_PPS_CMD_SET_SOURCE (CAP_SYS_TIME): NANOCLOCK_PPS_A_SOURCE plus
 *	any of CLOCK (bind, -1 unbinds), PPSTIME, PPSFREQ (the bound clock's
 *	STA_PPSTIME / STA_PPSFREQ, 0 or 1). All or nothing; replies GET_SOURCE.
 * NANOCLOCK_PPS_CMD_SET_SIM (CAP_SYS_TIME): NANOCLOCK_PPS_A_SOURCE of a
 *	simulated source plus any NANOCLOCK_PPS_A_SIM_* parameter.
 * NANOCLOCK_PPS_CMD_EDGE: multicast on "events" after each edge, with the
 *	GET_SOURCE attributes.
 * NANOCLOCK_PPS_CMD_INJECT (CAP_SYS_TIME): NANOCLOCK_PPS_A_SOURCE of a
 *	bridge source, INJECT_CLOCKID (must be CLOCK_REALTIME, 0),
 *	INJECT_SEC and INJECT_NSEC: an assert timestamp read from another
 *	/dev/ppsN (RFC 2783 time_pps_fetch). The module maps it onto the PCC;
 *	it must lie in the past, at most 2 s ago.
 */
#define NANOCLOCK_PPS_GENL_NAME		"nanoclock_pps"
#define NANOCLOCK_PPS_GENL_VERSION	1
#define NANOCLOCK_PPS_MCGRP_EVENTS	"events"

enum nanoclock_pps_cmd {
	NANOCLOCK_PPS_CMD_UNSPEC,
	NANOCLOCK_PPS_CMD_GET_SOURCE,
	NANOCLOCK_PPS_CMD_SET_SOURCE,
	NANOCLOCK_PPS_CMD_SET_SIM,
	NANOCLOCK_PPS_CMD_EDGE,
	NANOCLOCK_PPS_CMD_INJECT,
	__NANOCLOCK_PPS_CMD_MAX
};

#define NANOCLOCK_PPS_CMD_MAX (__NANOCLOCK_PPS_CMD_MAX - 1)

enum nanoclock_pps_attr {
	NANOCLOCK_PPS_A_UNSPEC,
	NANOCLOCK_PPS_A_PAD,
	NANOCLOCK_PPS_A_SOURCE,		/* u32: source index */
	NANOCLOCK_PPS_A_NAME,		/* string: "sim0" */
	NANOCLOCK_PPS_A_KIND,		/* string: "sim", ... */
	NANOCLOCK_PPS_A_PPS_INDEX,	/* u32: N of /dev/ppsN */
	NANOCLOCK_PPS_A_CLOCK,		/* s32: bound /dev/nanoclockN, -1 none */
	NANOCLOCK_PPS_A_PPSTIME,	/* u8: bound clock's STA_PPSTIME */
	NANOCLOCK_PPS_A_PPSFREQ,	/* u8: bound clock's STA_PPSFREQ */
	NANOCLOCK_PPS_A_CLOCK_STATUS,	/* u32: STA_* after the last fed edge */
	NANOCLOCK_PPS_A_EDGES,		/* u64: edges seen */
	NANOCLOCK_PPS_A_FED,		/* u64: edges given to hardpps */
	NANOCLOCK_PPS_A_REJECTED,	/* u64: left STA_PPSJITTER (range gate, popcorn) */
	NANOCLOCK_PPS_A_POPCORN,	/* u64: rejected as popcorn spikes */
	NANOCLOCK_PPS_A_GAPS,		/* u64: intervals over 1.5 s */
	NANOCLOCK_PPS_A_LAST_PCC,	/* u64: PCC of the last edge, ns */
	NANOCLOCK_PPS_A_INTERVAL,	/* s64: PCC interval before it, ns */
	NANOCLOCK_PPS_A_PHASE,		/* s64: clock phase at the last edge, ns */
	NANOCLOCK_PPS_A_JITTER,		/* s64: EWMA |phase step|, ns */
	NANOCLOCK_PPS_A_WANDER,		/* s64: EWMA |interval step|, ns */
	NANOCLOCK_PPS_A_COST_LAST,	/* u64: IRQ entry PCC to hardpps return, ns */
	NANOCLOCK_PPS_A_COST_MAX,	/* u64: ns */
	NANOCLOCK_PPS_A_COST_MEAN,	/* u64: ns */
	NANOCLOCK_PPS_A_SIM_FREQ,	/* s64: PCC rate error vs reference, ppb */
	NANOCLOCK_PPS_A_SIM_PHASE,	/* s64: edge phase offset, ns */
	NANOCLOCK_PPS_A_SIM_JITTER,	/* u32: Gaussian jitter sigma, ns */
	NANOCLOCK_PPS_A_SIM_SPIKE,	/* s64: spike size, ns */
	NANOCLOCK_PPS_A_SIM_SPIKE_PPM,	/* u32: spike probability per edge, ppm */
	NANOCLOCK_PPS_A_SIM_DROP_PPM,	/* u32: dropout probability per edge, ppm */
	NANOCLOCK_PPS_A_SIM_OUTAGE,	/* u32: set: outage of N s from now; get: s left */
	NANOCLOCK_PPS_A_SIM_ERROR,	/* s64: get: bound clock - reference now, ns */
	NANOCLOCK_PPS_A_SIM_REF_SEC,	/* s64: get: reference time at SIM_PCC, s */
	NANOCLOCK_PPS_A_SIM_REF_NSEC,	/* u32: get: ns part */
	NANOCLOCK_PPS_A_SIM_PCC,	/* u64: get: PCC of SIM_ERROR/REF, ns */
	NANOCLOCK_PPS_A_SIM_SPIKES,	/* u64: get: spikes emitted */
	NANOCLOCK_PPS_A_SIM_DROPPED,	/* u64: get: edges dropped (dropouts, outages) */
	NANOCLOCK_PPS_A_SIM_LATENCY_MAX, /* u64: get: timer late vs edge, max ns */
	NANOCLOCK_PPS_A_COST_MIN,	/* u64: IRQ entry PCC to hardpps return, min ns */
	NANOCLOCK_PPS_A_INJECT_CLOCKID,	/* s32: clock of the stamp: CLOCK_REALTIME */
	NANOCLOCK_PPS_A_INJECT_SEC,	/* s64: stamp, s */
	NANOCLOCK_PPS_A_INJECT_NSEC,	/* u32: stamp, ns part (< 1e9) */
	NANOCLOCK_PPS_A_INJECT_PCC,	/* u64: get: PCC of the last injected stamp, ns */
	__NANOCLOCK_PPS_A_MAX
};

#define NANOCLOCK_PPS_A_MAX (__NANOCLOCK_PPS_A_MAX - 1)

#endif /* _UAPI_LINUX_NANOCLOCK_H */
