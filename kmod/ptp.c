// SPDX-License-Identifier: GPL-2.0
/*
 * ptp.c - the PTP view (/dev/ptpM) of a nanoclock, for linuxptp (phc_ctl,
 * phc2sys) and chrony's "refclock PHC". Every operation maps onto the same
 * nanokernel state as clock_adjtime() on /dev/nanoclockN:
 *
 *   adjfine(scaled_ppm)  -> ADJ_FREQUENCY (same unit: ppm << 16)
 *   adjphase(ns)         -> ADJ_OFFSET (PLL; needs STA_PLL)
 *   adjtime(ns)          -> a step by ns, as ADJ_SETOFFSET
 *   settime64            -> clock_settime
 *   gettime64/gettimex64 -> the page read, bracketed by system stamps
 *
 * The PTP core checks FMODE_WRITE on /dev/ptpM (root-only node) itself, so
 * no capability check here. A PTP clock cannot return TIME_* states: use
 * /dev/nanoclockN for ntp_adjtime semantics.
 */
#include <linux/math64.h>
#include <linux/timex.h>

#include "nc_internal.h"

static struct nanoclock *nc_from_ptp(struct ptp_clock_info *info)
{
	return container_of(info, struct nanoclock, ptp_info);
}

static int nc_ptp_adjust(struct nanoclock *nc, struct __kernel_timex *tx)
{
	int ret = nc_adjtime(nc, tx);

	return ret < 0 ? ret : 0;
}

static int nc_ptp_adjfine(struct ptp_clock_info *info, long scaled_ppm)
{
	struct __kernel_timex tx = {
		.modes = ADJ_FREQUENCY,
		.freq = scaled_ppm,
	};

	return nc_ptp_adjust(nc_from_ptp(info), &tx);
}

/* PLL offset in the clock's current unit (STA_NANO), without switching it */
static int nc_ptp_adjphase(struct ptp_clock_info *info, s32 offset_ns)
{
	struct nanoclock *nc = nc_from_ptp(info);
	struct __kernel_timex tx = {
		.modes = ADJ_OFFSET,
		.offset = offset_ns,
	};

	if (!(READ_ONCE(nc->nk.time_status) & STA_NANO))
		tx.offset = offset_ns / 1000;
	return nc_ptp_adjust(nc, &tx);
}

static int nc_ptp_adjtime(struct ptp_clock_info *info, s64 delta_ns)
{
	nc_step(nc_from_ptp(info), delta_ns);
	return 0;
}

static int nc_ptp_gettimex64(struct ptp_clock_info *info,
			     struct timespec64 *ts,
			     struct ptp_system_timestamp *sts)
{
	struct nk_time t;

	ptp_read_system_prets(sts);
	nc_read(nc_from_ptp(info), &t, NULL);
	ptp_read_system_postts(sts);
	ts->tv_sec = t.sec;
	ts->tv_nsec = t.nsec;
	return 0;
}

static int nc_ptp_settime64(struct ptp_clock_info *info,
			    const struct timespec64 *ts)
{
	return nc_settime(nc_from_ptp(info), ts);
}

static int nc_ptp_enable(struct ptp_clock_info *info,
			 struct ptp_clock_request *rq, int on)
{
	return -EOPNOTSUPP;
}

static const struct ptp_clock_info nc_ptp_template = {
	.owner		= THIS_MODULE,
	.max_adj	= 500000,	/* ppb: the nanokernel's MAXFREQ */
	.adjfine	= nc_ptp_adjfine,
	.adjphase	= nc_ptp_adjphase,
	.adjtime	= nc_ptp_adjtime,
	.gettimex64	= nc_ptp_gettimex64,
	.settime64	= nc_ptp_settime64,
	.enable		= nc_ptp_enable,
};

int nc_ptp_register(struct nanoclock *nc)
{
	struct ptp_clock *ptp;

	nc->ptp_info = nc_ptp_template;
	snprintf(nc->ptp_info.name, sizeof(nc->ptp_info.name),
		 NANOCLOCK_DEV_PREFIX "%d", nc->index);
	ptp = ptp_clock_register(&nc->ptp_info, &nc->dev);
	if (IS_ERR(ptp))
		return PTR_ERR(ptp);
	nc->ptp = ptp;
	return 0;
}

void nc_ptp_unregister(struct nanoclock *nc)
{
	if (nc->ptp)
		ptp_clock_unregister(nc->ptp);
	nc->ptp = NULL;
}
