/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nk_ppsest.h - a fixed-point phase/frequency estimator of the PPS edges
 * against the PCC, for the estimator PPS discipline (NK_OPT_PPS_ESTIMATOR).
 *
 * The state is the PCC reading at the true second of the newest edge
 * (theta) and the PCC's rate error (phi: PCC ns per true second - 1e9).
 * It is an alpha-beta filter with the gains of a least-squares line fit
 * over the last n edges (a Kalman filter started from no knowledge); n grows
 * by one per edge up to a cap adapted from the innovations (wander), spikes
 * are gated by a robust (clipped) mean of the |innovations|, and a run of
 * same-signed rejected innovations is taken as a frequency step and fitted.
 * Pure integer arithmetic, no clock state: nanokernel.c steers the clock
 * from theta and phi.
 */
#ifndef NK_PPSEST_H
#define NK_PPSEST_H

#include "nk_port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NK_PE_ADEV_N	32	/* edges averaged in the |innovation| mean */
#define NK_PE_RUN	4	/* same-signed rejections that make a step */
#define NK_PE_NMIN	8	/* smallest memory cap, edges */
#define NK_PE_NMAX	2048	/* largest memory cap, edges */
#define NK_PE_NINIT	64	/* memory cap at start, edges */
#define NK_PE_BLOCK	32	/* accepted edges per wander test */
#define NK_PE_GOOD	4	/* passed wander tests that double the cap */
#define NK_PE_MAXGAP	4096	/* longest gap predicted across, s */
#define NK_PE_GATE_MIN	20	/* smallest spike gate, ns */

/* what nk_pe_edge() did with an edge */
enum nk_pe_result {
	NK_PE_IGNORED,	/* not a new second (double hit): nothing changed */
	NK_PE_FIRST,	/* first edge (or after a reset): theta only */
	NK_PE_ACCEPTED,	/* innovation inside the gate: filter updated */
	NK_PE_REJECTED,	/* outside the gate (spike): prediction only */
	NK_PE_HELD,	/* continues a run of same-signed ~2 sigma edges */
	NK_PE_STEP,	/* a run of rejections refitted as a step */
};

struct nk_ppsest {
	nk_u64 theta;		/* PCC at the newest edge's true second, ns */
	nk_u32 theta_frac;	/* ... its fraction, ns << 32 */
	nk_s32 valid;		/* theta and phi hold an estimate (bool) */
	nk_s64 phi;		/* PCC ns per true second - 1e9, ns/s << 32 */
	nk_s32 n;		/* memory: edges the fit spans */
	nk_s32 nmax;		/* cap of n, adapted to the wander */
	nk_s64 adev;		/* mean |innovation|, clipped at ~2 sigma,
				 * ns << 4 (sigma ~ 1.25 adev)
				 */
	nk_s32 adev_n;		/* innovations in adev, up to NK_PE_ADEV_N */
	nk_s32 run_len;		/* consecutive rejected innovations */
	nk_s64 run[NK_PE_RUN];	/* ... and their values, ns << 32 */
	nk_s64 bsum;		/* innovations in the wander block, ns */
	nk_s32 bcnt;		/* accepted edges in the wander block */
	nk_s32 bgood;		/* consecutive blocks without lag */
	nk_s64 last_innov;	/* newest innovation, ns */
	nk_s64 rejects;		/* edges rejected by the gate */
	nk_s64 steps;		/* steps detected */
	nk_s64 blocks;		/* wander tests run */
};

/* Forget everything: the next edge starts a new estimate. */
void nk_pe_reset(struct nk_ppsest *e);

/*
 * One PPS edge at PCC @pcc_ns. @phi_prior (ns/s << 32) is the PCC rate
 * error assumed at the first edge (from the clock's frequency). Returns
 * what was done (enum nk_pe_result).
 */
int nk_pe_edge(struct nk_ppsest *e, nk_u64 pcc_ns, nk_s64 phi_prior);

/*
 * The least-squares gains for a line through @n equally spaced points, at
 * the newest point: alpha = 2(2n-1)/(n(n+1)), beta = 6/(n(n+1)); Q32
 * (2^32 = 1). n >= 2.
 */
void nk_pe_gains(nk_s32 n, nk_u64 *alpha, nk_u64 *beta);

/* (@v * @g) >> 32 for a signed @v and an unsigned Q32 gain @g. */
nk_s64 nk_pe_mul_q32(nk_s64 v, nk_u64 g);

/* The mean |innovation| (ns), the spike gate's scale: sigma ~ 1.25 x it. */
static inline nk_s64 nk_pe_adev(const struct nk_ppsest *e)
{
	return e->adev >> 4;
}

#ifdef __cplusplus
}
#endif

#endif /* NK_PPSEST_H */
