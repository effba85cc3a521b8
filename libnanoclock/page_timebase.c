// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * page_timebase.c - the clock time from the mmap page's timebase, with
 * libnanokernel's reader (nk_timebase.h, dual-licensed). In its own
 * translation unit: nk_port.h brings <linux/timex.h>, which cannot share a
 * file with glibc's <sys/timex.h> (libnanoclock.h).
 */
#include "page_timebase.h"
#include "nk_timebase.h"

void nanoclock_tb_read(const struct nanoclock_timebase *utb, uint64_t pcc,
		       int64_t *sec, int32_t *nsec)
{
	struct nk_timebase tb = {
		.pcc_base = utb->pcc_base,
		.sec = utb->sec,
		.frac = utb->frac,
		.mult = utb->mult,
	};
	struct nk_time t;

	nk_timebase_read(&tb, pcc, &t);
	*sec = t.sec;
	*nsec = t.nsec;
}
