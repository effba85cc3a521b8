/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnanoclock - read (and steer) a nanotime clock from userspace.
 *
 * nanoclock_gettime() computes the clock from the read-only mmap page of
 * /dev/nanoclockN and clock_gettime(CLOCK_MONOTONIC_RAW) through the vDSO:
 * no system call. It falls back to clock_gettime(FD_TO_CLOCKID(fd)) when the
 * page is unavailable (old module, or the clock is going away).
 *
 * Thread-safe: a struct nanoclock may be shared by any number of threads.
 */
#ifndef LIBNANOCLOCK_LIBNANOCLOCK_H
#define LIBNANOCLOCK_LIBNANOCLOCK_H

#include <stdint.h>
#include <sys/timex.h>
#include <time.h>
#include <linux/nanoclock.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nanoclock;

/* Open /dev/nanoclock<index> (O_RDONLY; O_RDWR when @writable). NULL+errno. */
struct nanoclock *nanoclock_open(int index, int writable);
/* Open a clock device by path. */
struct nanoclock *nanoclock_open_path(const char *path, int writable);
void nanoclock_close(struct nanoclock *nc);

int nanoclock_fd(const struct nanoclock *nc);
clockid_t nanoclock_clockid(const struct nanoclock *nc);
/* 1 when reads go through the mmap page, 0 when they use the syscall. */
int nanoclock_has_page(const struct nanoclock *nc);

/* The clock now: mmap fast path, else the syscall. 0 or -1+errno. */
int nanoclock_gettime(struct nanoclock *nc, struct timespec *ts);
/* As above, also returning the CLOCK_MONOTONIC_RAW ns it was computed from. */
int nanoclock_gettime_pcc(struct nanoclock *nc, struct timespec *ts,
			  uint64_t *pcc_ns);
/* Always the system call: clock_gettime(FD_TO_CLOCKID(fd)). */
int nanoclock_gettime_syscall(struct nanoclock *nc, struct timespec *ts);
/* One consistent copy of the page's data (timebase + status). */
int nanoclock_read_page(struct nanoclock *nc, struct nanoclock_page_data *d);

int nanoclock_getres(struct nanoclock *nc, struct timespec *ts);
int nanoclock_settime(struct nanoclock *nc, const struct timespec *ts);
/* ntp_adjtime on this clock: TIME_* or -1+errno. */
int nanoclock_adjtime(struct nanoclock *nc, struct timex *tx);
/* Extended ntp_gettime (ioctl): 0 or -1+errno. */
int nanoclock_ntp_gettime(struct nanoclock *nc, struct nanoclock_ntptime *nt);
int nanoclock_info(struct nanoclock *nc, struct nanoclock_info *info);

#ifdef __cplusplus
}
#endif

#endif /* LIBNANOCLOCK_LIBNANOCLOCK_H */
