// SPDX-License-Identifier: GPL-2.0
/*
 * nanokernel.c - David Mills' nanokernel clock discipline (FreeBSD
 * kern_ntptime.c, "The Nanokernel", Mills & Kamp, PTTI 2000) as one
 * portable core. Linux ntp.c behaviours are per-clock options (NK_OPT_*).
 *
 * Fixed point (l_fp): signed 64 bits, binary point between the halves.
 *   time variables      ns << 32       (time_offset)
 *   frequency variables ns/s << 32     (time_freq, time_adj, pps_freq)
 *   slope               ns/ns << 32    (struct nk_timebase.mult)
 * timex units: offset us or ns (STA_NANO), freq/ppsfreq/stabil scaled ppm
 * (ppm << 16), maxerror/esterror us, jitter us or ns.
 *
 * The file reads in the order the algorithm runs: reading the clock, the
 * tick and the once-a-second overflow (leap, phase amortisation, slew,
 * watchdog), ntp_adjtime and the PLL/FLL update, and the PPS discipline.
 */
#include "nanokernel.h"

#define NK_SECS_PER_DAY	86400

/* ---- fixed-point helpers ---- */

/* @x (integer) as l_fp: x << 32, written as a product (no signed shift). */
static inline nk_s64 nk_lint(nk_s64 x)
{
	return x * ((nk_s64)1 << 32);
}

/* Integer part of an l_fp, rounded toward zero (FreeBSD L_GINT). */
static inline nk_s64 nk_gint(nk_s64 v)
{
	return nk_rshift(v, 32);
}

static inline int nk_opt(const struct nk_clock *c, nk_u32 opt)
{
	return (c->options & opt) != 0;
}

static inline unsigned int nk_shift_pll(const struct nk_clock *c)
{
	return nk_opt(c, NK_OPT_LINUX_SHIFT_PLL) ? NK_SHIFT_PLL_LINUX :
						     NK_SHIFT_PLL_FREEBSD;
}

/* PCC seconds (uptime) for time_reftime. */
static inline nk_s64 nk_pcc_sec(nk_u64 pcc_ns)
{
	return (nk_s64)nk_div64_u64(pcc_ns, NK_NSEC_PER_SEC);
}

/* The smallest multiple of 86400 s (UTC midnight) greater than @sec. */
static nk_s64 nk_next_midnight(nk_s64 sec)
{
	nk_s32 rem;

	nk_div_s64_rem(sec, NK_SECS_PER_DAY, &rem);
	if (rem < 0)
		rem += NK_SECS_PER_DAY;
	return sec - rem + NK_SECS_PER_DAY;
}

int nk_is_time_error(nk_s32 status)
{
	/* hardware or software error */
	if (status & (STA_UNSYNC | STA_CLOCKERR))
		return 1;
	/* PPS signal lost while time or frequency from PPS is requested */
	if ((status & (STA_PPSFREQ | STA_PPSTIME)) && !(status & STA_PPSSIGNAL))
		return 1;
	/* PPS jitter exceeded while time from PPS is requested */
	if ((status & STA_PPSTIME) && (status & STA_PPSJITTER))
		return 1;
	/* PPS wander or calibration error while frequency from PPS */
	if ((status & STA_PPSFREQ) &&
	    (status & (STA_PPSWANDER | STA_PPSERROR)))
		return 1;
	return 0;
}

/*
 * Move the base to @pcc_ns keeping the current slope: the time at @pcc_ns
 * is bit-for-bit the time readers computed from the old base.
 */
static void nk_tb_rebase(struct nk_timebase *tb, nk_u64 pcc_ns)
{
	nk_s64 ns;
	nk_u32 lo;
	nk_s32 nsec;

	nk_tb_offset(tb, pcc_ns, &ns, &lo);
	nk_norm(tb->sec, ns, &tb->sec, &nsec);
	tb->frac = ((nk_u64)nsec << 32) | lo;
	tb->pcc_base = pcc_ns;
}

/*
 * Slope for a rate of @adj ns/s << 32: clock ns per PCC ns << 32,
 * 2^32 + adj / 1e9, rounded to nearest (one unit = 2^-32 = 0.23 ppb).
 */
static nk_u64 nk_slope(nk_s64 adj)
{
	nk_s64 half = NK_NSEC_PER_SEC / 2;

	adj += adj < 0 ? -half : half;
	return ((nk_u64)1 << 32) + (nk_u64)nk_div64_s64(adj, NK_NSEC_PER_SEC);
}

/* First PCC ns at which the clock reads the next whole second. */
static nk_u64 nk_next_boundary(const struct nk_timebase *tb)
{
	nk_u64 left = ((nk_u64)NK_NSEC_PER_SEC << 32) - tb->frac; /* ns<<32 */

	return tb->pcc_base + nk_div64_u64(left + tb->mult - 1, tb->mult);
}

/* ---- state at boot ---- */

void nk_init(struct nk_clock *c, nk_u32 options, nk_u64 pcc_ns,
	     nk_s64 sec, nk_s32 nsec)
{
	*c = (struct nk_clock){ 0 };
	c->options = options;
	nk_norm(sec, nsec, &c->tb.sec, &nsec);
	c->tb.pcc_base = pcc_ns;
	c->tb.frac = (nk_u64)nsec << 32;
	c->tb.mult = (nk_u64)1 << 32;
	c->time_state = TIME_OK;
	c->time_status = STA_UNSYNC;
	c->time_precision = 1;
	c->time_maxerror = NK_MAXPHASE / 1000;
	c->time_esterror = NK_MAXPHASE / 1000;
	c->tick_usec = NK_TICK_USEC_DEFAULT;
	c->pps_shift = NK_PPS_FAVG;
	c->pps_shiftmax = NK_PPS_FAVGDEF;
	c->pps_fsecs = -1;
	nk_pe_reset(&c->pps_est);
	c->next_second_pcc = (nk_s64)nk_next_boundary(&c->tb);
}

void nk_settime(struct nk_clock *c, nk_u64 pcc_ns, const struct nk_time *ts)
{
	nk_s32 nsec;

	nk_norm(ts->sec, ts->nsec, &c->tb.sec, &nsec);
	c->tb.pcc_base = pcc_ns;
	c->tb.frac = (nk_u64)nsec << 32;
	c->next_second_pcc = (nk_s64)nk_next_boundary(&c->tb);
}

/* ---- second overflow: once per clock second, from nk_tick() ---- */

/* Maximum error grows by the 500 ppm tolerance; past 16 s: unsynchronised. */
static void nk_grow_maxerror(struct nk_clock *c, nk_s64 secs)
{
	nk_s64 room = NK_PHASE_LIMIT_US - c->time_maxerror;	/* us */

	if (room < 0 || secs > nk_div64_s64(room, NK_MAXFREQ / 1000)) {
		c->time_maxerror = NK_PHASE_LIMIT_US;
		c->time_status |= STA_UNSYNC;
		return;
	}
	c->time_maxerror += secs * (NK_MAXFREQ / 1000);
}

/*
 * Leap second state machine at the rollover to @newsec (clock seconds);
 * steps @newsec back (insert, 23:59:60 repeats 23:59:59's label) or
 * forward (delete) at UTC midnight.
 */
static void nk_leap(struct nk_clock *c, nk_s64 *newsec)
{
	switch (c->time_state) {
	case TIME_OK:
		if (c->time_status & STA_INS)
			c->time_state = TIME_INS;
		else if (c->time_status & STA_DEL)
			c->time_state = TIME_DEL;
		break;
	case TIME_INS:
		if (!(c->time_status & STA_INS)) {
			c->time_state = TIME_OK;
		} else if (nk_next_midnight(*newsec - 1) == *newsec) {
			(*newsec)--;
			c->time_state = TIME_OOP;
			c->time_tai++;
		}
		break;
	case TIME_DEL:
		if (!(c->time_status & STA_DEL)) {
			c->time_state = TIME_OK;
		} else if (nk_next_midnight(*newsec) == *newsec + 1) {
			(*newsec)++;
			c->time_tai--;
			c->time_state = TIME_WAIT;
		}
		break;
	case TIME_OOP:
		c->time_state = TIME_WAIT;
		break;
	case TIME_WAIT:
		if (!(c->time_status & (STA_INS | STA_DEL)))
			c->time_state = TIME_OK;
		break;
	}
}

/*
 * The part of the residual phase to apply in the next second, ns/s << 32:
 * time_offset / 2^(SHIFT_PLL + tc), or / 2^pps_shift under PPS time (all of
 * it with NK_OPT_LINUX_PPS_PHASE).
 */
static nk_s64 nk_phase_chunk(struct nk_clock *c)
{
	nk_s64 chunk;	/* ns/s << 32 */

	if ((c->time_status & STA_PPSTIME) && (c->time_status & STA_PPSSIGNAL)) {
		if (nk_opt(c, NK_OPT_LINUX_PPS_PHASE | NK_OPT_PPS_ESTIMATOR))
			chunk = c->time_offset;
		else
			chunk = nk_rshift(c->time_offset, c->pps_shift);
	} else {
		chunk = nk_rshift(c->time_offset,
				  nk_shift_pll(c) + (unsigned int)c->time_constant);
	}
	c->time_offset -= chunk;
	return chunk;
}

/* adjtime(2) slew: 5000 us/s while over 1 s is left, else 500 us/s. */
static nk_s64 nk_adjtime_slew(struct nk_clock *c)
{
	nk_s64 rate;	/* us/s */

	if (c->time_adjtime == 0)
		return 0;
	if (c->time_adjtime > 1000000)
		rate = NK_BIG_TICKADJ_US;
	else if (c->time_adjtime < -1000000)
		rate = -NK_BIG_TICKADJ_US;
	else
		rate = nk_clamp(c->time_adjtime, -NK_MAX_TICKADJ_US,
				NK_MAX_TICKADJ_US);
	c->time_adjtime -= rate;
	return nk_lint(rate * 1000);
}

/* ADJ_TICK as a rate: tick * USER_HZ us per second against 1 s, ns/s << 32. */
static nk_s64 nk_tick_rate(const struct nk_clock *c)
{
	return nk_lint(c->tick_usec * NK_USER_HZ * 1000 - NK_NSEC_PER_SEC);
}

/* Forget the PPS frequency state (Linux pps_clear()). */
static void nk_pps_clear(struct nk_clock *c)
{
	int i;

	for (i = 0; i < 3; i++)
		c->pps_tf[i] = (struct nk_time){ 0 };
	c->pps_lastpcc = 0;
	c->pps_fcount = 0;
	c->pps_fsecs = -1;
	c->pps_freq = 0;
	c->pps_shift = NK_PPS_FAVG;
	c->pps_intcnt = 0;
	nk_pe_reset(&c->pps_est);
}

void nk_set_options(struct nk_clock *c, nk_u32 options)
{
	nk_s64 freq = c->time_freq;	/* ns/s << 32 */

	c->options = options & NK_OPT_ALL;
	nk_pps_clear(c);
	c->pps_freq = freq;
	c->pps_jitter = 0;
	c->pps_calref = 0;
	c->pps_caljitter = 0;
}

/* PPS watchdog, @secs seconds elapsed: silence clears STA_PPSSIGNAL. */
static void nk_pps_watchdog(struct nk_clock *c, nk_s64 secs)
{
	if (secs <= c->pps_valid) {
		c->pps_valid -= (nk_s32)secs;
		return;
	}
	c->pps_valid = 0;
	if (!(c->time_status & STA_PPSSIGNAL))
		return;
	if (nk_opt(c, NK_OPT_LINUX_PPS_VALID)) {
		c->time_status &= ~(STA_PPSSIGNAL | STA_PPSJITTER |
				    STA_PPSWANDER | STA_PPSERROR);
		nk_pps_clear(c);
	} else {
		c->time_status &= ~STA_PPSSIGNAL;
	}
}

/* One second rollover to @newsec (FreeBSD ntp_update_second). */
static void nk_second_overflow(struct nk_clock *c, nk_s64 *newsec)
{
	nk_grow_maxerror(c, 1);
	nk_leap(c, newsec);
	c->time_adj = nk_phase_chunk(c) + c->time_freq;
	c->time_adj += nk_adjtime_slew(c) + nk_tick_rate(c);
	nk_pps_watchdog(c, 1);
}

/*
 * Run second overflow for @n boundaries crossed up to tb->sec (the clock
 * second now). After a jump beyond NK_LARGE_STEP only the last two run,
 * the others only age maxerror and the PPS watchdog (FreeBSD tc_windup).
 * Leap steps move tb->sec.
 */
static void nk_overflow_seconds(struct nk_clock *c, nk_s64 n)
{
	nk_s64 first, step = 0, i, sec;

	if (n > NK_LARGE_STEP) {
		nk_grow_maxerror(c, n - 2);
		nk_pps_watchdog(c, n - 2);
		n = 2;
	}
	first = c->tb.sec - n + 1;
	for (i = 0; i < n; i++) {
		sec = first + i + step;
		nk_second_overflow(c, &sec);
		step = sec - first - i;
	}
	c->tb.sec += step;
}

nk_u64 nk_tick(struct nk_clock *c, nk_u64 pcc_ns)
{
	nk_s64 old = c->tb.sec;
	int before_base = pcc_ns < c->tb.pcc_base;
	nk_u64 mult;	/* clock ns per PCC ns << 32 */

	if (before_base)
		pcc_ns = c->tb.pcc_base;	/* never re-base backwards */
	nk_tb_rebase(&c->tb, pcc_ns);
	if (c->tb.sec > old)
		nk_overflow_seconds(c, c->tb.sec - old);
	mult = nk_slope(c->time_adj);
	c->next_second_pcc = (nk_s64)nk_next_boundary(&c->tb);
	/*
	 * The base is still ahead (a publisher moved it there to keep reads
	 * monotonic across a slope decrease). A steeper line drawn back from
	 * that base lies below the one readers have used since the tick: keep
	 * the slope until the base and run again there. The delay, at most the
	 * publisher's guard, costs a phase error of the slope step times it.
	 */
	if (before_base && mult > c->tb.mult)
		return c->tb.pcc_base < (nk_u64)c->next_second_pcc ?
		       c->tb.pcc_base : (nk_u64)c->next_second_pcc;
	c->tb.mult = mult;
	c->next_second_pcc = (nk_s64)nk_next_boundary(&c->tb);
	return (nk_u64)c->next_second_pcc;
}

/* ---- ntp_gettime ---- */

/*
 * The leap view of a time @t read after the last tick: when @t has passed
 * a leap instant the tick has not yet processed, show it as the tick will
 * (TIME_OOP and tai + 1 in an inserted second, TIME_WAIT after a leap).
 * Returns the state to report, or -1 when nothing is pending.
 */
static int nk_leap_view(const struct nk_clock *c, struct nk_time *t,
			nk_s32 *tai)
{
	nk_s64 base = c->tb.sec, m;

	if (t->sec <= base)
		return -1;
	switch (c->time_state) {
	case TIME_INS:
		m = nk_next_midnight(base);
		if (!(c->time_status & STA_INS) || t->sec < m)
			return -1;
		t->sec--;
		(*tai)++;
		return t->sec == m - 1 ? TIME_OOP : TIME_WAIT;
	case TIME_DEL:
		m = nk_next_midnight(base + 1) - 1;
		if (!(c->time_status & STA_DEL) || t->sec < m)
			return -1;
		t->sec++;
		(*tai)--;
		return TIME_WAIT;
	case TIME_OOP:
		return TIME_WAIT;
	}
	return -1;
}

static int nk_state(const struct nk_clock *c)
{
	return nk_is_time_error(c->time_status) ? TIME_ERROR : c->time_state;
}

void nk_gettime(const struct nk_clock *c, nk_u64 pcc_ns,
		struct nk_ntptime *out)
{
	int leap;

	nk_read(c, pcc_ns, &out->time);
	out->pcc_ns = pcc_ns;
	out->maxerror = c->time_maxerror;
	out->esterror = c->time_esterror;
	out->tai = c->time_tai;
	out->status = c->time_status;
	out->state = nk_state(c);
	leap = nk_leap_view(c, &out->time, &out->tai);
	if (leap >= 0)
		out->state = leap;
}

/* ---- ntp_adjtime: validation ---- */

int nk_adjtime_validate(const struct __kernel_timex *tx)
{
	nk_u32 modes = tx->modes;

	if (modes & NK_ADJ_ADJTIME) {
		/* adjtime() needs the SINGLESHOT bit */
		if (!(modes & NK_ADJ_OFFSET_SS))
			return -NK_EINVAL;
	} else if (modes & ADJ_TICK) {
		if (tx->tick < 900000 / NK_USER_HZ ||
		    tx->tick > 1100000 / NK_USER_HZ)
			return -NK_EINVAL;
	}
	if (modes & ADJ_SETOFFSET) {
		if (tx->time.tv_usec < 0)
			return -NK_EINVAL;
		if ((modes & ADJ_NANO) && tx->time.tv_usec >= NK_NSEC_PER_SEC)
			return -NK_EINVAL;
		if (!(modes & ADJ_NANO) && tx->time.tv_usec >= 1000000)
			return -NK_EINVAL;
	}
	if (modes & ADJ_FREQUENCY) {
		/* freq * NK_PPM_SCALE must not overflow */
		if (tx->freq < NK_S64_MIN / NK_PPM_SCALE ||
		    tx->freq > NK_S64_MAX / NK_PPM_SCALE)
			return -NK_EINVAL;
	}
	return 0;
}

/* ADJ_SETOFFSET: step the clock by tx->time (tv_usec in ns with ADJ_NANO). */
static int nk_setoffset(struct nk_clock *c, const struct __kernel_timex *tx,
			nk_u64 pcc_ns)
{
	nk_s64 dsec = tx->time.tv_sec;
	nk_s64 dns = tx->time.tv_usec;
	struct nk_time now;

	if (!(tx->modes & ADJ_NANO))
		dns *= 1000;
	nk_read(c, pcc_ns, &now);
	/* the result must be a valid, non-negative time (Linux) */
	if ((dsec > 0 && now.sec > NK_S64_MAX - dsec - 1) ||
	    (dsec < 0 && now.sec < NK_S64_MIN - dsec))
		return -NK_EINVAL;
	now.sec += dsec;
	dns += now.nsec;
	if (dns >= NK_NSEC_PER_SEC) {
		dns -= NK_NSEC_PER_SEC;
		now.sec++;
	}
	if (now.sec < 0)
		return -NK_EINVAL;
	now.nsec = (nk_s32)dns;
	nk_settime(c, pcc_ns, &now);
	return 0;
}

/* ---- ntp_adjtime: the PLL/FLL update ---- */

/* @f * @mu, saturated to +-2 * MAXFREQ (ns/s << 32): enough to clamp. */
static nk_s64 nk_freq_mul(nk_s64 f, nk_s64 mu)
{
	nk_s64 lim = nk_lint(2 * NK_MAXFREQ);	/* ns/s << 32 */

	if (mu <= 0)
		return 0;
	if (f > nk_div64_s64(lim, mu))
		return lim;
	if (f < -nk_div64_s64(lim, mu))
		return -lim;
	return f * mu;
}

/*
 * hardupdate: phase and frequency update from an offset of @offset ns
 * measured at PCC second @now. Phase replaces time_offset unless PPS owns
 * the time; frequency: PLL always, FLL when the update interval is at least
 * MINSEC and STA_FLL is set or it exceeds MAXSEC; none when PPS owns it.
 */
static void nk_hardupdate(struct nk_clock *c, nk_s64 offset, nk_s64 now)
{
	unsigned int shift_pll = nk_shift_pll(c);
	unsigned int tc = (unsigned int)c->time_constant;
	nk_s64 mtemp, pll_mu;	/* s */
	nk_s64 ftemp;		/* ns/s << 32 */

	if (!(c->time_status & STA_PLL))
		return;
	if (!((c->time_status & STA_PPSTIME) &&
	      (c->time_status & STA_PPSSIGNAL))) {
		c->time_monitor = nk_clamp(offset, -NK_MAXPHASE, NK_MAXPHASE);
		c->time_offset = nk_lint(c->time_monitor);
	}
	if ((c->time_status & STA_PPSFREQ) &&
	    (c->time_status & STA_PPSSIGNAL)) {
		c->time_reftime = now;
		c->time_reftime_set = 1;
		return;
	}
	if ((c->time_status & STA_FREQHOLD) || !c->time_reftime_set) {
		c->time_reftime = now;
		c->time_reftime_set = 1;
	}
	mtemp = now - c->time_reftime;

	/* PLL: offset * mu / 2^(2 (SHIFT_PLL + 2 + tc)) */
	pll_mu = mtemp;
	if (nk_opt(c, NK_OPT_LINUX_SECS_CLAMP))
		pll_mu = nk_clamp(mtemp, 0, 1LL << (shift_pll + 1 + tc));
	ftemp = nk_rshift(nk_lint(c->time_monitor), 2 * (shift_pll + 2 + tc));
	c->time_freq += nk_freq_mul(ftemp, pll_mu);

	/* FLL: (offset / mu) / 2^SHIFT_FLL */
	c->time_status &= ~STA_MODE;
	if (mtemp >= NK_MINSEC &&
	    ((c->time_status & STA_FLL) || mtemp > NK_MAXSEC)) {
		ftemp = nk_lint(nk_div64_s64(c->time_monitor * 16, mtemp));
		c->time_freq += nk_rshift(ftemp, NK_SHIFT_FLL + 4);
		c->time_status |= STA_MODE;
	}
	c->time_reftime = now;
	if (nk_gint(c->time_freq) > NK_MAXFREQ)
		c->time_freq = nk_lint(NK_MAXFREQ);
	else if (nk_gint(c->time_freq) < -NK_MAXFREQ)
		c->time_freq = nk_lint(-NK_MAXFREQ);
}

/* ---- ntp_adjtime: the modes, in FreeBSD's order ---- */

static void nk_mode_status(struct nk_clock *c, nk_s32 status)
{
	/* clearing STA_PLL resets the state and status words to boot */
	if ((c->time_status & STA_PLL) && !(status & STA_PLL)) {
		c->time_state = TIME_OK;
		c->time_status = STA_UNSYNC;
		c->pps_shift = NK_PPS_FAVG;
	}
	/* setting it starts a new update interval */
	if (!(c->time_status & STA_PLL) && (status & STA_PLL))
		c->time_reftime_set = 0;
	c->time_status &= STA_RONLY;
	c->time_status |= status & ~STA_RONLY;
}

static void nk_mode_values(struct nk_clock *c, const struct __kernel_timex *tx)
{
	nk_u32 modes = tx->modes;

	if (modes & ADJ_MAXERROR)
		c->time_maxerror = nk_clamp(tx->maxerror, 0, NK_PHASE_LIMIT_US);
	if (modes & ADJ_ESTERROR)
		c->time_esterror = nk_clamp(tx->esterror, 0, NK_PHASE_LIMIT_US);
	if (modes & ADJ_STATUS)
		nk_mode_status(c, tx->status);
	if (modes & ADJ_TIMECONST)
		c->time_constant = nk_clamp(tx->constant, 0, NK_MAXTC);
	if ((modes & ADJ_TAI) && tx->constant >= 0 &&
	    tx->constant <= NK_MAX_TAI_OFFSET)
		c->time_tai = (nk_s32)tx->constant;
	if (modes & NK_ADJ_PPSMAX)
		c->pps_shiftmax = (nk_s32)nk_clamp(tx->shift, NK_PPS_FAVG,
						   NK_PPS_FAVGMAX);
	if (modes & ADJ_NANO)
		c->time_status |= STA_NANO;
	if (modes & ADJ_MICRO)
		c->time_status &= ~STA_NANO;
	if (modes & ADJ_TICK)
		c->tick_usec = tx->tick;
}

static void nk_mode_frequency(struct nk_clock *c, nk_s64 freq)
{
	/* scaled ppm -> ns/s << 32 (validated not to overflow) */
	c->time_freq = nk_clamp(freq * NK_PPM_SCALE, -nk_lint(NK_MAXFREQ),
				nk_lint(NK_MAXFREQ));
	c->pps_freq = c->time_freq;
}

static void nk_mode_offset(struct nk_clock *c, nk_s64 offset, nk_u64 pcc_ns)
{
	if (!(c->time_status & STA_NANO))
		offset = nk_clamp(offset, -1000000, 1000000) * 1000;
	nk_hardupdate(c, offset, nk_pcc_sec(pcc_ns));
}

/* ADJ_OFFSET_SINGLESHOT: adjtime(); timex.offset returns the old residue. */
static void nk_mode_adjtime(struct nk_clock *c, struct __kernel_timex *tx)
{
	nk_s64 old = c->time_adjtime;	/* us */

	if (!(tx->modes & NK_ADJ_OFFSET_READONLY))
		c->time_adjtime = tx->offset;
	tx->offset = old;
}

/* ---- ntp_adjtime: the reply ---- */

static nk_s64 nk_scaled_ppm(nk_s64 freq)
{
	/* ns/s << 32 -> scaled ppm, exact inverse of NK_PPM_SCALE */
	return nk_gint(nk_div64_s64(freq, 1000) * 65536);
}

static void nk_fill_timex(const struct nk_clock *c, struct __kernel_timex *tx,
			  nk_u64 pcc_ns)
{
	int nano = (c->time_status & STA_NANO) != 0;
	nk_s32 tai = c->time_tai;
	struct nk_time now;

	if (!(tx->modes & NK_ADJ_ADJTIME))
		tx->offset = nano ? nk_gint(c->time_offset) :
				    nk_div64_s64(nk_gint(c->time_offset), 1000);
	tx->freq = nk_scaled_ppm(c->time_freq);
	tx->maxerror = c->time_maxerror;
	tx->esterror = c->time_esterror;
	tx->status = c->time_status;
	tx->constant = c->time_constant;
	tx->precision = nano ? c->time_precision :
			       nk_div64_s64(c->time_precision, 1000);
	tx->tolerance = NK_TOLERANCE;
	tx->tick = c->tick_usec;
	tx->ppsfreq = nk_scaled_ppm(c->pps_freq);
	tx->jitter = nano ? c->pps_jitter : nk_div64_s64(c->pps_jitter, 1000);
	tx->shift = c->pps_shift;
	tx->stabil = c->pps_stabil;
	tx->jitcnt = c->pps_jitcnt;
	tx->calcnt = c->pps_calcnt;
	tx->errcnt = c->pps_errcnt;
	tx->stbcnt = c->pps_stbcnt;

	nk_read(c, pcc_ns, &now);
	nk_leap_view(c, &now, &tai);
	tx->time.tv_sec = now.sec;
	tx->time.tv_usec = nano ? now.nsec : now.nsec / 1000;
	tx->tai = tai;
}

int nk_adjtime(struct nk_clock *c, struct __kernel_timex *tx, nk_u64 pcc_ns)
{
	struct nk_time now;
	nk_s32 tai = c->time_tai;
	int ret, leap;

	ret = nk_adjtime_validate(tx);
	if (ret)
		return ret;
	if (tx->modes & ADJ_SETOFFSET) {
		ret = nk_setoffset(c, tx, pcc_ns);
		if (ret)
			return ret;
	}
	if (tx->modes & NK_ADJ_ADJTIME) {
		nk_mode_adjtime(c, tx);
	} else {
		nk_mode_values(c, tx);
		if (tx->modes & ADJ_FREQUENCY)
			nk_mode_frequency(c, tx->freq);
		if (tx->modes & ADJ_OFFSET)
			nk_mode_offset(c, tx->offset, pcc_ns);
	}
	nk_fill_timex(c, tx, pcc_ns);

	ret = nk_state(c);
	nk_read(c, pcc_ns, &now);
	leap = nk_leap_view(c, &now, &tai);
	return leap >= 0 ? leap : ret;
}

/* ---- hardpps: the PPS discipline ---- */

/*
 * Phase filter over pps_tf[]: the median (FreeBSD) or the newest sample
 * (NK_OPT_LINUX_PPS_NEWEST) as the phase in @v, the spread in @u, ns.
 */
static void nk_pps_filter(const struct nk_clock *c, nk_s64 *v, nk_s64 *u)
{
	nk_s64 a = c->pps_tf[0].nsec, b = c->pps_tf[1].nsec;
	nk_s64 d = c->pps_tf[2].nsec;

	if (nk_opt(c, NK_OPT_LINUX_PPS_NEWEST)) {
		*v = a;
		*u = a > b ? a - b : b - a;
		return;
	}
	if (a > b) {
		if (b > d) {
			*v = b;			/* 0 1 2 */
			*u = a - d;
		} else if (d > a) {
			*v = a;			/* 2 0 1 */
			*u = d - b;
		} else {
			*v = d;			/* 0 2 1 */
			*u = a - b;
		}
	} else {
		if (b < d) {
			*v = b;			/* 2 1 0 */
			*u = d - a;
		} else if (d < a) {
			*v = a;			/* 1 0 2 */
			*u = b - d;
		} else {
			*v = d;			/* 1 2 0 */
			*u = b - a;
		}
	}
}

/*
 * Popcorn spike suppression, then the phase (under STA_PPSTIME). Returns
 * 1 when the popcorn filter accepted the edge, 0 when it rejected it.
 */
static int nk_pps_phase(struct nk_clock *c)
{
	unsigned int popcorn = nk_opt(c, NK_OPT_LINUX_PPS_NEWEST) ?
			       NK_PPS_POPCORN_LINUX : NK_PPS_POPCORN_FREEBSD;
	nk_s64 v, u, gate;	/* ns */
	int accepted = 1;

	nk_pps_filter(c, &v, &u);
	gate = c->pps_jitter << popcorn;
	if (gate < NK_PPS_POPCORN_FLOOR)
		gate = NK_PPS_POPCORN_FLOOR;
	if (u > gate) {
		c->time_status |= STA_PPSJITTER;
		c->pps_jitcnt++;
		accepted = 0;
	} else if (c->time_status & STA_PPSTIME) {
		c->time_monitor = -v;
		c->time_offset = nk_lint(c->time_monitor);
		if (nk_opt(c, NK_OPT_LINUX_PPS_PHASE))
			c->time_adjtime = 0;	/* cancels adjtime() */
	}
	/* EWMA, weight 1/4, arithmetic shift as FreeBSD */
	c->pps_jitter += (u - c->pps_jitter) >> NK_PPS_FAVG;
	return accepted;
}

/*
 * May this edge start or end a calibration interval (default calibration)?
 * Its phase must lie within 4 x pps_caljitter of the phase of the last edge
 * that passed this test (pps_calref): no run of spikes, however long, moves
 * that reference. The popcorn filter alone is not enough: a spike inflates
 * pps_jitter (EWMA of the 3-sample spread, ~13 us after one 50 us spike),
 * so a second spike within a few seconds passes the popcorn gate, and with
 * two spikes among three samples the median is a spike too. The interval
 * waits for the first edge that passes, so without this test it would end
 * on whichever spike of a cluster first slipped through. pps_caljitter
 * follows the edges' deviation, clipped at the gate while an interval is
 * open: a spike raises it by 3/4 at most (x 1.75), and a genuine step or
 * rise of jitter is followed within a few edges. Returns 1 if the edge
 * passes.
 */
static int nk_pps_endpoint(struct nk_clock *c)
{
	nk_s64 dev = c->pps_tf[0].nsec - c->pps_calref;	/* ns */
	nk_s64 gate = c->pps_caljitter << NK_PPS_POPCORN_FREEBSD;	/* ns */
	nk_s64 step;					/* ns */

	if (dev < 0)
		dev = -dev;
	if (gate < NK_PPS_POPCORN_FLOOR)
		gate = NK_PPS_POPCORN_FLOOR;
	/* unclipped while no interval is open: start-up and restarts adapt */
	step = (dev < gate || c->pps_fsecs < 0 ? dev : gate) - c->pps_caljitter;
	/* EWMA 1/4, rounded up when rising so that it rises from 0 too */
	if (step > 0)
		step += (1 << NK_PPS_FAVG) - 1;
	c->pps_caljitter += step >> NK_PPS_FAVG;
	if (dev > gate)
		return 0;
	c->pps_calref = c->pps_tf[0].nsec;
	return 1;
}

/* Interval adaptation: 4 good in a row doubles it, 4 bad halves it. */
static void nk_pps_interval(struct nk_clock *c)
{
	if (c->pps_intcnt >= 4) {
		c->pps_intcnt = 4;
		if (c->pps_shift < c->pps_shiftmax) {
			c->pps_shift++;
			c->pps_intcnt = 0;
		}
	} else if (c->pps_intcnt <= -4 || c->pps_shift > c->pps_shiftmax) {
		c->pps_intcnt = -4;
		if (c->pps_shift > NK_PPS_FAVG) {
			c->pps_shift--;
			c->pps_intcnt = 0;
		}
	}
}

/*
 * The frequency offset, ns/s << 32, that makes the clock keep true time,
 * from a calibration interval of @secs true seconds (PPS periods) that
 * lasted secs * 1e9 - @v PCC ns (@v: ns, positive when the PCC is slow).
 *
 * time_freq is a rate per PCC ns (the slope is 1 + time_adj / 1e9 clock ns
 * per PCC ns), so the exact value is true ns per PCC ns - 1 =
 * v / (secs * 1e9 - v). kern_ntptime.c divides v by secs * 1e9 instead (its
 * interval is taken as clock ns): with the PCC off by y that leaves the
 * clock running at (1 + y)(1 - y) = 1 - y^2, 2.5 ns/s slow at 50 ppm, which
 * the PPS phase loop then holds as a -640 ns phase error at pps_shift 8.
 *
 * |v| * 1e9 * 2^32 / len = (|v| * 5^9) * 2^41 / len by long division in
 * steps of at most 16 bits: |v| <= MAXFREQ * secs < 2^36 and
 * len < 2^47 (secs < 2^17), so every step fits in 64 bits and no 128-bit
 * divide is needed (the kernel has none).
 */
static nk_s64 nk_pps_rate(nk_s64 v, nk_s64 secs)
{
	nk_u64 len = (nk_u64)(secs * NK_NSEC_PER_SEC - v);	/* PCC ns */
	nk_u64 m = (nk_u64)(v < 0 ? -v : v) * 1953125;		/* ns * 5^9 */
	nk_u64 q, r, d;		/* quotient: ns/s << (32 - shift left) */
	unsigned int left = 41, n;

	q = nk_div64_u64(m, len);
	r = m - q * len;
	while (left) {
		n = left < 16 ? left : 16;
		left -= n;
		r <<= n;
		d = nk_div64_u64(r, len);
		q = (q << n) + d;
		r -= d * len;
	}
	return v < 0 ? -(nk_s64)q : (nk_s64)q;	/* ns/s << 32 */
}

/*
 * Install a measured PPS frequency @rate (ns/s << 32): the change is
 * clamped to PPS_MAXWANDER, drives the interval adaptation and the
 * stability, and becomes time_freq under STA_PPSFREQ (kern_ntptime.c).
 */
static void nk_pps_update_freq(struct nk_clock *c, nk_s64 rate)
{
	nk_s64 ftemp = rate - c->pps_freq;	/* ns/s << 32 */
	nk_s64 u = nk_gint(ftemp);		/* ns/s */

	if (u > NK_PPS_MAXWANDER || u < -NK_PPS_MAXWANDER) {
		ftemp = nk_lint(u > 0 ? NK_PPS_MAXWANDER : -NK_PPS_MAXWANDER);
		c->pps_intcnt--;
		c->time_status |= STA_PPSWANDER;
		c->pps_stbcnt++;
	} else {
		c->pps_intcnt++;
	}
	nk_pps_interval(c);
	if (u < 0)
		u = -u;
	c->pps_stabil += (u * NK_SCALE_PPM - c->pps_stabil) >> NK_PPS_FAVG;

	c->pps_freq += ftemp;
	if (nk_gint(c->pps_freq) > NK_MAXFREQ)
		c->pps_freq = nk_lint(NK_MAXFREQ);
	else if (nk_gint(c->pps_freq) < -NK_MAXFREQ)
		c->pps_freq = nk_lint(-NK_MAXFREQ);
	if (c->time_status & STA_PPSFREQ)
		c->time_freq = c->pps_freq;
}

static void nk_pps_cal_error(struct nk_clock *c)
{
	c->time_status |= STA_PPSERROR;
	c->pps_errcnt++;
}

/*
 * NK_OPT_FREEBSD_STRICT_CAL: kern_ntptime.c's calibration. The PCC interval
 * since the previous edge (@interval, ns), folded into +-0.5 s, goes into
 * the accumulator; the interval closes on the first edge that passed the
 * range gate 2^pps_shift labelled seconds (@secs) after its start, and is
 * void unless it is exactly that long.
 */
static void nk_pps_calibrate_strict(struct nk_clock *c, nk_s64 secs)
{
	nk_s64 v = -c->pps_fcount;	/* ns over the interval */

	c->pps_calcnt++;
	c->pps_lastsec = c->pps_tf[0].sec;
	c->pps_fcount = 0;
	if (v > (NK_MAXFREQ << c->pps_shift) ||
	    v < -(NK_MAXFREQ << c->pps_shift) ||
	    secs != (1LL << c->pps_shift)) {
		nk_pps_cal_error(c);
		return;
	}
	nk_pps_update_freq(c, nk_pps_rate(v, 1LL << c->pps_shift));
}

/* The longest PCC gap between edges counted into an interval, s. */
static nk_s64 nk_pps_maxgap(const struct nk_clock *c)
{
	return nk_opt(c, NK_OPT_LINUX_PPS_VALID) ? NK_PPS_VALID_LINUX :
						   NK_PPS_VALID_FREEBSD;
}

/*
 * Default calibration, counting: the PCC interval since the previous edge
 * is k = round(interval / 1 s) PPS periods (k - 1 edges are missing) and a
 * residual of interval - k s. Both go into the open calibration interval.
 * The first edge, an edge after the signal was lost (@lost) or after a gap
 * longer than the watchdog (where k could be ambiguous) closes nothing and
 * leaves no interval open.
 */
static void nk_pps_count(struct nk_clock *c, nk_u64 pcc_ns, int lost)
{
	nk_u64 last = c->pps_lastpcc;	/* PCC ns */
	nk_s64 d, k;			/* PCC ns, s */

	c->pps_lastpcc = pcc_ns;
	if (lost || !last || pcc_ns < last) {
		c->pps_fsecs = -1;
		return;
	}
	d = (nk_s64)(pcc_ns - last);
	k = nk_div64_s64(d + NK_NSEC_PER_SEC / 2, NK_NSEC_PER_SEC);
	if (k > nk_pps_maxgap(c)) {
		c->pps_fsecs = -1;
		return;
	}
	if (k > 1)
		c->pps_dropcnt += k - 1;
	if (c->pps_fsecs < 0)
		return;
	c->pps_fsecs += k;
	c->pps_fcount += d - k * NK_NSEC_PER_SEC;
}

/*
 * Default calibration, closing. Only an edge the range gate, the popcorn
 * filter and nk_pps_endpoint() accepted (@accepted) may start or end an
 * interval: the accumulator
 * telescopes to the PCC readings of its two end edges, so a latency spike
 * there would move pps_freq by spike / interval. The interval ends on the
 * first accepted edge at least 2^pps_shift counted seconds after its start
 * and the frequency is measured over the seconds that actually elapsed.
 * Errors (STA_PPSERROR, errcnt): the clock's labels disagree with the PCC
 * count by more than the one second a leap explains (the clock was stepped
 * or the count is wrong), a frequency beyond MAXFREQ, or no accepted edge
 * for twice the interval.
 */
static void nk_pps_close(struct nk_clock *c, int accepted)
{
	nk_s64 secs = c->pps_fsecs;	/* s */
	nk_s64 labels, v;		/* s, ns */

	if (!accepted) {
		if (secs >= (2LL << c->pps_shift)) {
			c->pps_calcnt++;
			c->pps_fsecs = -1;
			nk_pps_cal_error(c);
		}
		return;
	}
	if (secs >= 0 && secs < (1LL << c->pps_shift))
		return;
	labels = c->pps_tf[0].sec - c->pps_lastsec;
	v = -c->pps_fcount;
	/* this edge starts the next interval */
	c->pps_lastsec = c->pps_tf[0].sec;
	c->pps_fcount = 0;
	c->pps_fsecs = 0;
	if (secs < 0)
		return;
	c->pps_calcnt++;
	if (labels - secs > 1 || secs - labels > 1 ||
	    v > NK_MAXFREQ * secs || v < -NK_MAXFREQ * secs) {
		nk_pps_cal_error(c);
		return;
	}
	nk_pps_update_freq(c, nk_pps_rate(v, secs));
}

/* ---- hardpps: the estimator discipline (NK_OPT_PPS_ESTIMATOR) ---- */

/*
 * The frequency offset (ns/s << 32) that makes the clock keep true time
 * when the PCC runs @phi ns/s << 32 fast: 1e9 / (1e9 + phi) - 1 per PCC ns
 * = -phi + phi^2 / (1e9 + phi). The square is taken at 2^-8 ns/s (|phi| <=
 * 500 ppm: < 2^54) and the quotient kept at 2^-16 ns/s.
 */
static nk_s64 nk_pps_est_freq(nk_s64 phi)
{
	nk_s64 q8 = nk_rshift(phi, 24);				/* ns/s << 8 */
	nk_s64 sq = nk_div64_s64(q8 * q8, NK_NSEC_PER_SEC + nk_gint(phi));

	return nk_clamp(-phi + sq * 65536, -nk_lint(NK_MAXFREQ),
			nk_lint(NK_MAXFREQ));
}

/*
 * Steer the clock from the estimate: time_freq = the estimated rate
 * (STA_PPSFREQ), time_offset = minus the clock's error at the next second
 * boundary (STA_PPSTIME), which nk_phase_chunk() applies in full over the
 * second that starts there. The error is read at the estimated true second
 * of the newest edge (theta) and carried to the boundary at the slope in
 * force until then, so an edge before or after the boundary's tick, and a
 * correction still under way, are both accounted for.
 */
static void nk_pps_est_steer(struct nk_clock *c)
{
	const struct nk_ppsest *e = &c->pps_est;
	nk_s64 freq = nk_pps_est_freq(e->phi);		/* ns/s << 32 */
	nk_s64 err, dt, rate;	/* ns, PCC ns, clock ns per PCC ns << 32 */
	struct nk_time t;

	nk_read(c, e->theta, &t);
	err = t.nsec >= NK_NSEC_PER_SEC / 2 ? t.nsec - NK_NSEC_PER_SEC : t.nsec;
	dt = nk_clamp(c->next_second_pcc - (nk_s64)e->theta,
		      -2 * NK_NSEC_PER_SEC, 2 * NK_NSEC_PER_SEC);
	rate = (nk_s64)(c->tb.mult - ((nk_u64)1 << 32)) -
	       nk_div64_s64(freq, NK_NSEC_PER_SEC);
	err += nk_rshift(dt * rate, 32);

	c->pps_freq = freq;
	if (c->time_status & STA_PPSFREQ)
		c->time_freq = freq;
	if (c->time_status & STA_PPSTIME) {
		c->time_monitor = nk_clamp(-err, -NK_MAXPHASE, NK_MAXPHASE);
		c->time_offset = nk_lint(c->time_monitor);
	}
}

/* One edge through the estimator, then the clock steered from it. */
static void nk_pps_estimator(struct nk_clock *c, nk_u64 pcc_ns)
{
	struct nk_ppsest *e = &c->pps_est;
	int shift = 0;

	switch (nk_pe_edge(e, pcc_ns, -c->time_freq)) {
	case NK_PE_IGNORED:
		return;
	case NK_PE_REJECTED:
		c->pps_jitcnt++;
		break;
	case NK_PE_STEP:
		c->pps_stbcnt++;
		c->time_status |= STA_PPSWANDER;
		c->time_status &= ~STA_PPSJITTER;
		break;
	default:
		c->time_status &= ~STA_PPSJITTER;
		break;
	}
	/* sigma ~ 1.25 x the mean |innovation|; the memory as log2 s */
	c->pps_jitter = nk_pe_adev(e) + nk_pe_adev(e) / 4;
	while (shift < 30 && (2 << shift) <= e->n)
		shift++;
	c->pps_shift = shift;
	c->pps_calcnt = e->blocks;
	if (e->n >= 2)
		nk_pps_est_steer(c);
}

void nk_hardpps(struct nk_clock *c, nk_u64 pcc_ns)
{
	int strict = nk_opt(c, NK_OPT_FREEBSD_STRICT_CAL);
	int lost = !(c->time_status & STA_PPSSIGNAL);
	int accepted;
	struct nk_time ts;
	nk_s64 u_sec, u_nsec, v_nsec;	/* s, ns, ns */
	nk_s64 interval = 0;		/* PCC ns since the previous edge */

	nk_read(c, pcc_ns, &ts);
	if (strict) {
		interval = c->pps_lastpcc ?
			   (nk_s64)(pcc_ns - c->pps_lastpcc) : NK_NSEC_PER_SEC;
		c->pps_lastpcc = pcc_ns;
	}

	c->time_status |= STA_PPSSIGNAL | STA_PPSJITTER;
	c->time_status &= ~(STA_PPSWANDER | STA_PPSERROR);
	c->pps_valid = nk_opt(c, NK_OPT_LINUX_PPS_VALID) ?
		       NK_PPS_VALID_LINUX : NK_PPS_VALID_FREEBSD;

	/* phase in [-0.5 s, 0.5 s) around the nearest second */
	u_sec = ts.sec;
	u_nsec = ts.nsec;
	if (u_nsec >= NK_NSEC_PER_SEC / 2) {
		u_nsec -= NK_NSEC_PER_SEC;
		u_sec++;
	}
	/* a repeated hit: a second edge in the same second is ignored */
	v_nsec = u_nsec - c->pps_tf[0].nsec;
	if (u_sec == c->pps_tf[0].sec &&
	    v_nsec < NK_NSEC_PER_SEC - NK_MAXFREQ)
		return;
	c->pps_tf[2] = c->pps_tf[1];
	c->pps_tf[1] = c->pps_tf[0];
	c->pps_tf[0].sec = u_sec;
	c->pps_tf[0].nsec = (nk_s32)u_nsec;

	if (nk_opt(c, NK_OPT_PPS_ESTIMATOR)) {
		nk_pps_estimator(c, pcc_ns);
		return;
	}
	if (strict) {
		/* PCC interval - 1 s into the frequency accumulator */
		if (interval > NK_NSEC_PER_SEC / 2)
			interval -= NK_NSEC_PER_SEC;
		else if (interval < -(NK_NSEC_PER_SEC / 2))
			interval += NK_NSEC_PER_SEC;
		c->pps_fcount += interval;
	} else {
		nk_pps_count(c, pcc_ns, lost);
	}

	/* range gate and frequency discriminator: +-MAXFREQ per second */
	if (v_nsec > NK_MAXFREQ || v_nsec < -NK_MAXFREQ) {
		if (!strict)
			nk_pps_close(c, 0);
		return;
	}
	c->time_status &= ~STA_PPSJITTER;

	if (!strict) {
		accepted = nk_pps_phase(c);
		accepted &= nk_pps_endpoint(c);
		nk_pps_close(c, accepted);
		return;
	}
	nk_pps_phase(c);
	u_sec = c->pps_tf[0].sec - c->pps_lastsec;
	if (u_sec < (1LL << c->pps_shift))
		return;
	nk_pps_calibrate_strict(c, u_sec);
}
