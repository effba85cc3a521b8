/* SPDX-License-Identifier: GPL-2.0 OR LGPL-2.1-or-later */
/*
 * nk_timebase.h - reading a nanokernel clock from its published timebase:
 * the one part of libnanokernel that readers outside the discipline need.
 * nanoclock.ko reads its clocks with it, and so does libnanoclock in
 * userspace from the mmap page; it is dual-licensed so that the LGPL
 * library carries no GPL-only code. Integer arithmetic only (nk_port.h).
 */
#ifndef NK_TIMEBASE_H
#define NK_TIMEBASE_H

#include "nk_port.h"

#define NK_NSEC_PER_SEC		1000000000LL

#define NK_FRAC_MASK	0xffffffffULL		/* low 32 bits of an l_fp */

/*
 * A reader's view of the clock: the nanoclock time at one PCC instant and
 * the slope since then. Published to readers (seqcount latch, mmap page).
 *
 *   time(pcc) = sec + (frac + (pcc - pcc_base) * mult) / 2^32 ns
 */
struct nk_timebase {
	nk_u64 pcc_base;	/* PCC at the base instant, ns */
	nk_s64 sec;		/* clock seconds at the base instant */
	nk_u64 frac;		/* ns into that second << 32, < 1e9 << 32 */
	nk_u64 mult;		/* clock ns per PCC ns << 32 (2^32 = nominal) */
};

struct nk_time {
	nk_s64 sec;
	nk_s32 nsec;		/* 0 .. 999999999 */
};

/*
 * Clock time at @pcc_ns relative to tb->sec: whole ns in @ns (may exceed a
 * second, negative when @pcc_ns precedes the base by more than frac) and the
 * 2^-32 ns fraction in @lo. Exact: the sum is an integer in 2^-32 ns.
 */
static inline void nk_tb_offset(const struct nk_timebase *tb,
				nk_u64 pcc_ns, nk_s64 *ns, nk_u32 *lo)
{
	nk_u32 flo = (nk_u32)(tb->frac & NK_FRAC_MASK);
	nk_s64 fns = (nk_s64)(tb->frac >> 32);
	nk_u64 d, hi;
	nk_u32 plo;

	if (pcc_ns >= tb->pcc_base) {
		d = pcc_ns - tb->pcc_base;		/* PCC ns */
		hi = nk_mul_u64_u64_shr(d, tb->mult, 32);	/* ns */
		plo = (nk_u32)(d * tb->mult);		/* 2^-32 ns */
		*ns = fns + (nk_s64)hi + (nk_s64)(((nk_u64)plo + flo) >> 32);
		*lo = plo + flo;
	} else {
		/* an edge captured just before the last re-base */
		d = tb->pcc_base - pcc_ns;
		hi = nk_mul_u64_u64_shr(d, tb->mult, 32);
		plo = (nk_u32)(d * tb->mult);
		*ns = fns - (nk_s64)hi - (flo < plo ? 1 : 0);
		*lo = flo - plo;
	}
}

/* Split @ns past @sec into a normalised (sec, nsec). */
static inline void nk_norm(nk_s64 sec, nk_s64 ns, nk_s64 *osec,
			   nk_s32 *onsec)
{
	nk_s32 rem;
	nk_s64 q = nk_div_s64_rem(ns, NK_NSEC_PER_SEC, &rem);

	if (rem < 0) {
		rem += NK_NSEC_PER_SEC;
		q--;
	}
	*osec = sec + q;
	*onsec = rem;
}

/* Clock time at @pcc_ns from a timebase (pure; any context). */
static inline void nk_timebase_read(const struct nk_timebase *tb,
				    nk_u64 pcc_ns, struct nk_time *out)
{
	nk_s64 ns;
	nk_u32 lo;

	nk_tb_offset(tb, pcc_ns, &ns, &lo);
	nk_norm(tb->sec, ns, &out->sec, &out->nsec);
}

#endif /* NK_TIMEBASE_H */
