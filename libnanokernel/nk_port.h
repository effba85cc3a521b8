/* SPDX-License-Identifier: GPL-2.0 OR LGPL-2.1-or-later */
/*
 * nk_port.h - the only portability layer of libnanokernel (dual-licensed:
 * nk_timebase.h, which libnanoclock compiles, is built on it).
 *
 * Fixed-width integer types, the timex ABI (struct __kernel_timex, ADJ_*,
 * STA_*, TIME_*), 64-bit division, a 64x64->128 multiply-shift, the
 * round-toward-zero right shift of the nanokernel (FreeBSD L_RSHIFT, Linux
 * shift_right) and a clamp. Nothing else.
 */
#ifndef NK_PORT_H
#define NK_PORT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/math64.h>
#include <linux/errno.h>
#include <linux/timex.h>

typedef s64 nk_s64;
typedef u64 nk_u64;
typedef s32 nk_s32;
typedef u32 nk_u32;

#define NK_EINVAL	EINVAL

/* @a / @b, rounded toward zero. */
static inline nk_s64 nk_div_s64(nk_s64 a, nk_s32 b)
{
	return div_s64(a, b);
}

/* @a / @b toward zero, remainder (sign of @a) in @rem. */
static inline nk_s64 nk_div_s64_rem(nk_s64 a, nk_s32 b, nk_s32 *rem)
{
	return div_s64_rem(a, b, rem);
}

static inline nk_s64 nk_div64_s64(nk_s64 a, nk_s64 b)
{
	return div64_s64(a, b);
}

static inline nk_u64 nk_div64_u64(nk_u64 a, nk_u64 b)
{
	return div64_u64(a, b);
}

/* (@a * @b) >> @shift with a 128-bit intermediate product. */
static inline nk_u64 nk_mul_u64_u64_shr(nk_u64 a, nk_u64 b, unsigned int shift)
{
	return mul_u64_u64_shr(a, b, shift);
}

#else /* !__KERNEL__ */

#include <stdint.h>
#include <errno.h>
#include <sys/time.h>
/*
 * The uapi <linux/timex.h> clashes with glibc twice: its <linux/time.h>
 * redefines struct timeval & co. (taken from <sys/time.h> instead), and its
 * struct timex is glibc's too (renamed away here). Only struct
 * __kernel_timex and the ADJ_, STA_ and TIME_ values are used.
 */
#ifndef _LINUX_TIME_H
#define _LINUX_TIME_H
#include <linux/types.h>
#include <linux/time_types.h>
#endif
#define timex nk_uapi_timex
#include <linux/timex.h>
#undef timex

/* the uapi's fixed-width types: the same C types as the kernel's s64 & co. */
typedef __s64 nk_s64;
typedef __u64 nk_u64;
typedef __s32 nk_s32;
typedef __u32 nk_u32;

#define NK_EINVAL	EINVAL

static inline nk_s64 nk_div_s64(nk_s64 a, nk_s32 b)
{
	return a / b;
}

static inline nk_s64 nk_div_s64_rem(nk_s64 a, nk_s32 b, nk_s32 *rem)
{
	*rem = (nk_s32)(a % b);
	return a / b;
}

static inline nk_s64 nk_div64_s64(nk_s64 a, nk_s64 b)
{
	return a / b;
}

static inline nk_u64 nk_div64_u64(nk_u64 a, nk_u64 b)
{
	return a / b;
}

static inline nk_u64 nk_mul_u64_u64_shr(nk_u64 a, nk_u64 b, unsigned int shift)
{
	return (nk_u64)(((__uint128_t)a * b) >> shift);
}

#endif /* __KERNEL__ */

#define NK_S64_MAX	((nk_s64)(~(nk_u64)0 >> 1))
#define NK_S64_MIN	(-NK_S64_MAX - 1)

/*
 * @v >> @n rounded toward zero (sign-magnitude shift), as FreeBSD's
 * L_RSHIFT and Linux's shift_right(). Defined for every @v, @n < 64.
 */
static inline nk_s64 nk_rshift(nk_s64 v, unsigned int n)
{
	if (n == 0)
		return v;
	if (v < 0)
		return -(nk_s64)((0 - (nk_u64)v) >> n);
	return v >> n;
}

static inline nk_s64 nk_clamp(nk_s64 v, nk_s64 lo, nk_s64 hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

#endif /* NK_PORT_H */
