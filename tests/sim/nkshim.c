// SPDX-License-Identifier: GPL-2.0
/* nkshim.c - see nkshim.h. */
/*
 * No libc headers here beyond stddef/stdint (from nkshim.h): nk_port.h may
 * bring kernel uapi headers that clash with glibc's <sys/select.h> & co.
 */
#include "nkshim.h"
#include "nanokernel.h"

_Static_assert(NKS_OPT_LINUX_SHIFT_PLL == NK_OPT_LINUX_SHIFT_PLL, "NK_OPT mirror");
_Static_assert(NKS_OPT_LINUX_PPS_VALID == NK_OPT_LINUX_PPS_VALID, "NK_OPT mirror");
_Static_assert(NKS_OPT_LINUX_PPS_NEWEST == NK_OPT_LINUX_PPS_NEWEST, "NK_OPT mirror");
_Static_assert(NKS_OPT_LINUX_PPS_PHASE == NK_OPT_LINUX_PPS_PHASE, "NK_OPT mirror");
_Static_assert(NKS_OPT_LINUX_SECS_CLAMP == NK_OPT_LINUX_SECS_CLAMP, "NK_OPT mirror");
_Static_assert(NKS_OPT_LINUX_ALL == NK_OPT_LINUX_ALL, "NK_OPT mirror");
_Static_assert(NKS_OPT_FREEBSD_STRICT_CAL == NK_OPT_FREEBSD_STRICT_CAL, "NK_OPT mirror");
_Static_assert(NKS_OPT_PPS_ESTIMATOR == NK_OPT_PPS_ESTIMATOR, "NK_OPT mirror");
_Static_assert(NKS_OPT_ALL == NK_OPT_ALL, "NK_OPT mirror");
_Static_assert(NKS_ADJ_PPSMAX == NK_ADJ_PPSMAX, "NK_ADJ_PPSMAX mirror");

size_t nks_clock_size(void)
{
	return sizeof(struct nk_clock);
}

void nks_copy(struct nk_clock *dst, const struct nk_clock *src)
{
	*dst = *src;
}

void nks_init(struct nk_clock *c, uint32_t options, uint64_t pcc_ns, int64_t sec, int32_t nsec)
{
	nk_init(c, options, pcc_ns, sec, nsec);
}

int nks_adjtime(struct nk_clock *c, struct nks_timex *t, uint64_t pcc_ns)
{
	struct __kernel_timex tx = { 0 };
	int ret;

	tx.modes = t->modes;
	tx.offset = t->offset;
	tx.freq = t->freq;
	tx.maxerror = t->maxerror;
	tx.esterror = t->esterror;
	tx.status = t->status;
	tx.constant = t->constant;
	tx.tick = t->tick;
	tx.shift = t->shift;
	tx.tai = t->tai;
	tx.time.tv_sec = t->time_sec;
	tx.time.tv_usec = t->time_usec;
	ret = nk_adjtime(c, &tx, pcc_ns);
	t->offset = tx.offset;
	t->freq = tx.freq;
	t->maxerror = tx.maxerror;
	t->esterror = tx.esterror;
	t->status = tx.status;
	t->constant = tx.constant;
	t->precision = tx.precision;
	t->tolerance = tx.tolerance;
	t->tick = tx.tick;
	t->ppsfreq = tx.ppsfreq;
	t->jitter = tx.jitter;
	t->shift = tx.shift;
	t->stabil = tx.stabil;
	t->jitcnt = tx.jitcnt;
	t->calcnt = tx.calcnt;
	t->errcnt = tx.errcnt;
	t->stbcnt = tx.stbcnt;
	t->tai = tx.tai;
	t->time_sec = tx.time.tv_sec;
	t->time_usec = tx.time.tv_usec;
	return ret;
}

uint64_t nks_tick(struct nk_clock *c, uint64_t pcc_ns)
{
	return nk_tick(c, pcc_ns);
}

void nks_hardpps(struct nk_clock *c, uint64_t pcc_ns)
{
	nk_hardpps(c, pcc_ns);
}

void nks_read(const struct nk_clock *c, uint64_t pcc_ns, int64_t *sec, int32_t *nsec)
{
	struct nk_time t;

	nk_read(c, pcc_ns, &t);
	*sec = t.sec;
	*nsec = t.nsec;
}

int64_t nks_time_freq(const struct nk_clock *c)
{
	return c->time_freq;
}

uint64_t nks_mult(const struct nk_clock *c)
{
	return c->tb.mult;
}

void nks_get_state(const struct nk_clock *c, struct nks_state *st)
{
	st->status = c->time_status;
	st->pps_shift = c->pps_shift;
	st->pps_intcnt = c->pps_intcnt;
	st->time_offset = c->time_offset;
	st->time_freq = c->time_freq;
	st->pps_freq = c->pps_freq;
	st->pps_jitter = c->pps_jitter;
	st->pps_fcount = c->pps_fcount;
	st->pps_lastsec = c->pps_lastsec;
	st->pps_fsecs = c->pps_fsecs;
	st->pps_dropcnt = c->pps_dropcnt;
	st->pps_calcnt = c->pps_calcnt;
	st->pps_jitcnt = c->pps_jitcnt;
	st->pps_errcnt = c->pps_errcnt;
	st->pps_stbcnt = c->pps_stbcnt;
}
