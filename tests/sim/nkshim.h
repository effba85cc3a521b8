/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nkshim.h - libnanokernel behind a plain C interface for the C++ simulator.
 *
 * nanokernel.h pulls in nk_port.h, whose userspace branch may include kernel
 * uapi headers (<linux/timex.h>) that clash with glibc's in a C++ translation
 * unit. The simulator therefore never includes nanokernel.h: nkshim.c (C) does,
 * and this header carries only stdint types. Each call is a thin forward.
 */
#ifndef NKSHIM_H
#define NKSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors of NK_OPT_* and NK_ADJ_PPSMAX (checked against nanokernel.h in nkshim.c). */
#define NKS_OPT_LINUX_SHIFT_PLL 0x01
#define NKS_OPT_LINUX_PPS_VALID 0x02
#define NKS_OPT_LINUX_PPS_NEWEST 0x04
#define NKS_OPT_LINUX_PPS_PHASE 0x08
#define NKS_OPT_LINUX_SECS_CLAMP 0x10
#define NKS_OPT_LINUX_ALL 0x1f
#define NKS_OPT_FREEBSD_STRICT_CAL 0x20
#define NKS_OPT_PPS_ESTIMATOR 0x40
#define NKS_OPT_ALL 0x7f
#define NKS_ADJ_PPSMAX 0x0040

/* The struct __kernel_timex fields the simulators use (same units). */
struct nks_timex {
    uint32_t modes;
    int64_t offset, freq, maxerror, esterror;
    int32_t status;
    int64_t constant, precision, tolerance, tick;
    int64_t ppsfreq, jitter;
    int32_t shift;
    int64_t stabil, jitcnt, calcnt, errcnt, stbcnt;
    int32_t tai;
    /* timex.time: ADJ_SETOFFSET's step in (s, us or ns with ADJ_NANO); the
     * clock time on return. */
    int64_t time_sec, time_usec;
};

struct nk_clock;

/* sizeof(struct nk_clock): the caller allocates (zeroed, 16-byte aligned). */
size_t nks_clock_size(void);
void nks_copy(struct nk_clock* dst, const struct nk_clock* src);

void nks_init(struct nk_clock* c, uint32_t options, uint64_t pcc_ns, int64_t sec, int32_t nsec);
/* nk_adjtime with @tx copied in and the result copied back. */
int nks_adjtime(struct nk_clock* c, struct nks_timex* tx, uint64_t pcc_ns);
uint64_t nks_tick(struct nk_clock* c, uint64_t pcc_ns);
void nks_hardpps(struct nk_clock* c, uint64_t pcc_ns);
/* nk_read: clock time at @pcc_ns. */
void nks_read(const struct nk_clock* c, uint64_t pcc_ns, int64_t* sec, int32_t* nsec);
/* time_freq (ns/s << 32) and the timebase slope mult (<< 32). */
int64_t nks_time_freq(const struct nk_clock* c);
uint64_t nks_mult(const struct nk_clock* c);

/* Discipline internals, for the simulator's --trace. */
struct nks_state {
    int32_t status, pps_shift, pps_intcnt;
    int64_t time_offset, time_freq, pps_freq;    /* ns << 32, ns/s << 32 */
    int64_t pps_jitter, pps_fcount, pps_lastsec; /* ns, ns, clock s */
    int64_t pps_fsecs;                           /* s in the open calibration interval, -1: none */
    int64_t pps_calcnt, pps_jitcnt, pps_errcnt, pps_stbcnt, pps_dropcnt;
};
void nks_get_state(const struct nk_clock* c, struct nks_state* st);

#ifdef __cplusplus
}
#endif

#endif /* NKSHIM_H */
