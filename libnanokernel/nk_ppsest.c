// SPDX-License-Identifier: GPL-2.0
/*
 * nk_ppsest.c - the PPS edge estimator of the estimator discipline
 * (NK_OPT_PPS_ESTIMATOR): where the true seconds fall on the PCC and how
 * fast the PCC runs, from the edges' PCC timestamps. See nk_ppsest.h and
 * libnanokernel/README.md, "The estimator PPS discipline".
 *
 * Units: theta PCC ns (+ 2^-32 ns fraction), phi ns/s << 32, innovations
 * ns << 32 in the arithmetic and ns in the statistics, gains Q32.
 */
#include "nk_ppsest.h"

#define NK_PE_NSEC	1000000000LL		/* ns per true second */
#define NK_PE_MASK	0xffffffffULL		/* fraction of an ns << 32 */
#define NK_PE_MAXPHI	(500000LL * (1LL << 32))	/* 500 ppm, ns/s << 32 */
#define NK_PE_GATE_K	5	/* spike gate, x mean |innovation| (~4 sigma) */
#define NK_PE_HOLD_K	5	/* held as a possible step: x mean / 2 (~2 sigma) */
/*
 * Lag test of a block of B accepted innovations summing to S: the filter
 * lags the wander when |S| > 2.5 sigma sqrt(B), sigma^2 = pi/2 x the mean
 * |innovation| (m) squared: 4 S^2 > 39 B m^2.
 */
#define NK_PE_LAG_K	39
#define NK_PE_SUM_LIM	1073741824LL	/* |S| clipped before squaring, ns */
#define NK_PE_ADEV_LIM	16777216LL	/* m clipped before squaring, ns */

void nk_pe_reset(struct nk_ppsest *e)
{
	*e = (struct nk_ppsest){ 0 };
	e->nmax = NK_PE_NINIT;
}

nk_s64 nk_pe_mul_q32(nk_s64 v, nk_u64 g)
{
	nk_u64 m = nk_mul_u64_u64_shr(v < 0 ? 0 - (nk_u64)v : (nk_u64)v, g, 32);

	return v < 0 ? -(nk_s64)m : (nk_s64)m;
}

void nk_pe_gains(nk_s32 n, nk_u64 *alpha, nk_u64 *beta)
{
	nk_u64 den = (nk_u64)n * (nk_u64)(n + 1);

	*alpha = nk_div64_u64((nk_u64)(2 * (2 * n - 1)) << 32, den);
	*beta = nk_div64_u64(6ULL << 32, den);
}

static inline int nk_pe_sign(nk_s64 v)
{
	return v < 0;
}

/* theta += @d (ns << 32, signed), carrying the fraction. */
static void nk_pe_theta_add(struct nk_ppsest *e, nk_s64 d)
{
	nk_u64 lo = (nk_u64)d & NK_PE_MASK;
	nk_s64 hi = nk_rshift(d - (nk_s64)lo, 32);	/* exact: floor */
	nk_u64 frac = (nk_u64)e->theta_frac + lo;

	e->theta += (nk_u64)hi + (frac >> 32);
	e->theta_frac = (nk_u32)frac;
}

static void nk_pe_phi_add(struct nk_ppsest *e, nk_s64 d)
{
	e->phi = nk_clamp(e->phi + d, -NK_PE_MAXPHI, NK_PE_MAXPHI);
}

static void nk_pe_start(struct nk_ppsest *e, nk_u64 pcc_ns, nk_s64 phi_prior)
{
	nk_s32 nmax = e->nmax;

	nk_pe_reset(e);
	e->nmax = nmax;
	e->theta = pcc_ns;
	e->phi = nk_clamp(phi_prior, -NK_PE_MAXPHI, NK_PE_MAXPHI);
	e->n = 1;
	e->valid = 1;
}

/*
 * A run of NK_PE_RUN same-signed rejections one second apart is a step:
 * fit a line to them (x = -1.5 .. 1.5 s) and move theta to it at the newest
 * edge and phi by its slope. The fit then spans those NK_PE_RUN edges.
 * Returns 0 (run dropped, nothing moved) if a point is off the line by more
 * than @gate (ns): a spike among them; or if the line is no ramp (@hold:
 * the hold threshold, ns).
 */
static int nk_pe_step(struct nk_ppsest *e, nk_s64 gate, nk_s64 hold)
{
	const nk_s64 *r = e->run;		/* ns */
	nk_s64 sum = r[0] + r[1] + r[2] + r[3];	/* ns */
	nk_s64 num = 3 * (r[3] - r[0]) + r[2] - r[1];	/* slope x 10, ns/s */
	nk_s64 slope;				/* ns/s << 28 */
	nk_s64 at_last;				/* ns << 28 */
	nk_s64 res;				/* ns x 20 */
	int i;

	/* a line through a spike is no step: every point within the gate */
	for (i = 0; i < NK_PE_RUN; i++) {
		/* residual x 20 = 20 r - 5 sum - (2 i - 3) num */
		res = 20 * r[i] - 5 * sum - (2 * i - 3) * num;
		if (res > 20 * gate || res < -20 * gate) {
			e->run_len = 0;
			return 0;
		}
	}
	slope = nk_div64_s64(num * (1LL << 28), 10);
	slope = nk_clamp(slope, -(NK_PE_MAXPHI >> 4), NK_PE_MAXPHI >> 4);
	/* mean + 1.5 x slope: the fit's value at the newest edge */
	at_last = nk_div64_s64(sum * (1LL << 28), 4) + slope + slope / 2;
	/*
	 * A frequency step ramps away from the prediction: the slope has the
	 * run's sign and climbs at least an eighth of the hold per second. A
	 * level (noise, or spikes) is no step.
	 */
	if (nk_pe_sign(slope) != nk_pe_sign(r[0]) ||
	    (slope < 0 ? -slope : slope) < hold * (1LL << 25)) {
		e->run_len = 0;
		return 0;
	}
	nk_pe_theta_add(e, at_last * 16);
	nk_pe_phi_add(e, slope * 16);
	e->n = NK_PE_RUN;
	e->run_len = 0;
	e->bsum = 0;
	e->bcnt = 0;
	e->bgood = 0;
	e->steps++;
	return 1;
}

/* Wander: halve the memory cap when a block lags, double it after good ones. */
static void nk_pe_wander(struct nk_ppsest *e, nk_s64 innov)
{
	nk_s64 s, m;	/* ns */

	e->bsum += innov;
	if (++e->bcnt < NK_PE_BLOCK)
		return;
	s = nk_clamp(e->bsum, -NK_PE_SUM_LIM, NK_PE_SUM_LIM);
	m = nk_clamp(nk_pe_adev(e), 1, NK_PE_ADEV_LIM);
	e->blocks++;
	if (4 * s * s > NK_PE_LAG_K * e->bcnt * m * m) {
		e->nmax = e->nmax / 2 < NK_PE_NMIN ? NK_PE_NMIN : e->nmax / 2;
		if (e->n > e->nmax)
			e->n = e->nmax;
		e->bgood = 0;
	} else if (++e->bgood >= NK_PE_GOOD) {
		e->nmax = e->nmax * 2 > NK_PE_NMAX ? NK_PE_NMAX : e->nmax * 2;
		e->bgood = 0;
	}
	e->bsum = 0;
	e->bcnt = 0;
}

int nk_pe_edge(struct nk_ppsest *e, nk_u64 pcc_ns, nk_s64 phi_prior)
{
	nk_s64 per, d, k;		/* PCC ns per s, PCC ns, s */
	nk_s64 step, innov_fp;		/* ns << 32 */
	nk_s64 innov, gate, hold;	/* ns */
	nk_u64 alpha, beta;		/* Q32 */
	nk_u64 lo, frac, pred;		/* ns << 32 (fraction), PCC ns */
	int same;	/* continues the run's sign */

	if (!e->valid) {
		nk_pe_start(e, pcc_ns, phi_prior);
		return NK_PE_FIRST;
	}
	/* whole true seconds since the newest edge: k (s), period per (ns) */
	per = NK_PE_NSEC + nk_rshift(e->phi, 32);
	if (pcc_ns <= e->theta)
		return NK_PE_IGNORED;
	d = (nk_s64)(pcc_ns - e->theta);
	if (d > (nk_s64)NK_PE_MAXGAP * 2 * NK_PE_NSEC) {
		nk_pe_start(e, pcc_ns, e->phi);
		return NK_PE_FIRST;
	}
	k = nk_div64_s64(d + per / 2, per);
	if (k < 1)
		return NK_PE_IGNORED;	/* a second edge within 0.5 s */
	if (k > NK_PE_MAXGAP) {
		nk_pe_start(e, pcc_ns, e->phi);
		return NK_PE_FIRST;
	}

	/* prediction: theta + k (1e9 + phi), ns and 2^-32 ns */
	step = k * e->phi;			/* ns << 32; |phi| <= 2^51 */
	lo = (nk_u64)step & NK_PE_MASK;
	frac = (nk_u64)e->theta_frac + lo;
	pred = e->theta + (nk_u64)(k * NK_PE_NSEC) +
	       (nk_u64)nk_rshift(step - (nk_s64)lo, 32) + (frac >> 32);
	e->theta = pred;
	e->theta_frac = (nk_u32)frac;

	/* innovation: edge - prediction; |.| < 0.5 s by the choice of k */
	innov_fp = (nk_s64)(pcc_ns - pred) * (1LL << 32) -
		   (nk_s64)e->theta_frac;			/* ns << 32 */
	innov = nk_rshift(innov_fp, 32);			/* ns */
	e->last_innov = innov;

	/*
	 * Spike gate and step hold from the mean |innovation|, which takes
	 * every edge but the first (the prior's error) clipped at the hold:
	 * a spike or a step's ramp moves it little, a lasting rise of the
	 * noise raises it by a factor (1 + 1.5 / 32) per edge.
	 */
	if (e->adev_n) {
		gate = nk_pe_adev(e) * NK_PE_GATE_K;
		hold = nk_pe_adev(e) * NK_PE_HOLD_K / 2;
	} else {
		gate = NK_PE_NSEC;
		hold = NK_PE_NSEC;
	}
	if (gate < NK_PE_GATE_MIN)
		gate = NK_PE_GATE_MIN;
	if (hold < NK_PE_GATE_MIN / 2)
		hold = NK_PE_GATE_MIN / 2;
	d = innov < 0 ? -innov : innov;
	if (e->n >= 2) {
		if (e->adev_n < NK_PE_ADEV_N)
			e->adev_n++;
		/* running mean, then EWMA 1/32; ns << 4 */
		e->adev += nk_div64_s64((d < hold ? d : hold) * 16 - e->adev,
					e->adev_n);
	}

	/*
	 * Beyond ~2 sigma with the sign of the previous such edge: held (no
	 * update) as part of a possible step; NK_PE_RUN in a row are one.
	 */
	same = e->run_len && nk_pe_sign(innov) == nk_pe_sign(e->run[0]);
	if (d > hold && (d > gate || same)) {
		if (!same)
			e->run_len = 0;
		e->run[e->run_len++] = innov;
		if (e->run_len >= NK_PE_RUN && nk_pe_step(e, gate, hold))
			return NK_PE_STEP;
		if (d > gate) {
			e->rejects++;
			return NK_PE_REJECTED;
		}
		return NK_PE_HELD;
	}
	e->run_len = 0;
	if (d > hold)
		e->run[e->run_len++] = innov;	/* may start a run */
	if (e->n < e->nmax)
		e->n++;
	nk_pe_gains(e->n, &alpha, &beta);
	nk_pe_theta_add(e, nk_pe_mul_q32(innov_fp, alpha));
	d = nk_pe_mul_q32(innov_fp, beta);		/* ns/s << 32 over k s */
	nk_pe_phi_add(e, k > 1 ? nk_div64_s64(d, k) : d);
	nk_pe_wander(e, innov);
	return NK_PE_ACCEPTED;
}
