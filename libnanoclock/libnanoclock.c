// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libnanoclock: opening a clock, reading it through its mmap page (or the
 * system call), and the thin clock_adjtime/ioctl wrappers. The page's
 * timebase is read by page_timebase.c with libnanokernel's nk_timebase_read,
 * the very function the kernel module reads the clock with.
 */
#define _GNU_SOURCE
#include "libnanoclock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "page_timebase.h"

struct nanoclock {
	int fd;
	clockid_t clkid;
	const volatile struct nanoclock_page *page;	/* NULL: syscall only */
	size_t page_len;
};

struct nanoclock *nanoclock_open_path(const char *path, int writable)
{
	struct nanoclock *nc = calloc(1, sizeof(*nc));
	long psz = sysconf(_SC_PAGESIZE);
	void *p;

	if (!nc)
		return NULL;
	nc->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (nc->fd < 0) {
		free(nc);
		return NULL;
	}
	nc->clkid = NANOCLOCK_FD_TO_CLOCKID(nc->fd);
	p = mmap(NULL, (size_t)psz, PROT_READ, MAP_SHARED, nc->fd, 0);
	if (p != MAP_FAILED) {
		const struct nanoclock_page *pg = p;

		if (pg->magic == NANOCLOCK_PAGE_MAGIC &&
		    pg->version == NANOCLOCK_PAGE_VERSION) {
			nc->page = pg;
			nc->page_len = (size_t)psz;
		} else {
			munmap(p, (size_t)psz);
		}
	}
	return nc;
}

struct nanoclock *nanoclock_open(int index, int writable)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/" NANOCLOCK_DEV_PREFIX "%d", index);
	return nanoclock_open_path(path, writable);
}

void nanoclock_close(struct nanoclock *nc)
{
	if (!nc)
		return;
	if (nc->page)
		munmap((void *)nc->page, nc->page_len);
	close(nc->fd);
	free(nc);
}

int nanoclock_fd(const struct nanoclock *nc)
{
	return nc->fd;
}

clockid_t nanoclock_clockid(const struct nanoclock *nc)
{
	return nc->clkid;
}

int nanoclock_has_page(const struct nanoclock *nc)
{
	return nc->page != NULL;
}

static uint64_t pcc_now(void)
{
	struct timespec r;

	clock_gettime(CLOCK_MONOTONIC_RAW, &r);
	return (uint64_t)r.tv_sec * 1000000000u + (uint64_t)r.tv_nsec;
}

/*
 * The latch reader of uapi/linux/nanoclock.h. Returns 0, or -1 when the
 * page says the clock is gone.
 */
static int page_read(const volatile struct nanoclock_page *pg,
		     struct nanoclock_page_data *d, uint64_t *pcc)
{
	uint32_t s;

	do {
		s = __atomic_load_n(&pg->seq, __ATOMIC_ACQUIRE);
		if (pcc)
			*pcc = pcc_now();
		memcpy(d, (const void *)&pg->data[s & 1], sizeof(*d));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&pg->seq, __ATOMIC_RELAXED) != s);
	return (pg->flags & NANOCLOCK_PAGE_F_DEAD) ? -1 : 0;
}

int nanoclock_read_page(struct nanoclock *nc, struct nanoclock_page_data *d)
{
	if (!nc->page) {
		errno = ENODEV;
		return -1;
	}
	if (page_read(nc->page, d, NULL)) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

int nanoclock_gettime_syscall(struct nanoclock *nc, struct timespec *ts)
{
	return clock_gettime(nc->clkid, ts);
}

int nanoclock_gettime_pcc(struct nanoclock *nc, struct timespec *ts,
			  uint64_t *pcc_ns)
{
	struct nanoclock_page_data d;
	uint64_t pcc;
	int64_t sec;
	int32_t nsec;

	if (!nc->page || page_read(nc->page, &d, &pcc)) {
		if (pcc_ns)
			*pcc_ns = pcc_now();
		return clock_gettime(nc->clkid, ts);
	}
	nanoclock_tb_read(&d.tb, pcc, &sec, &nsec);
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = nsec;
	if (pcc_ns)
		*pcc_ns = pcc;
	return 0;
}

int nanoclock_gettime(struct nanoclock *nc, struct timespec *ts)
{
	return nanoclock_gettime_pcc(nc, ts, NULL);
}

int nanoclock_getres(struct nanoclock *nc, struct timespec *ts)
{
	return clock_getres(nc->clkid, ts);
}

int nanoclock_settime(struct nanoclock *nc, const struct timespec *ts)
{
	return clock_settime(nc->clkid, ts);
}

int nanoclock_adjtime(struct nanoclock *nc, struct timex *tx)
{
	return clock_adjtime(nc->clkid, tx);
}

int nanoclock_ntp_gettime(struct nanoclock *nc, struct nanoclock_ntptime *nt)
{
	return ioctl(nc->fd, NANOCLOCK_IOC_NTP_GETTIME, nt);
}

int nanoclock_info(struct nanoclock *nc, struct nanoclock_info *info)
{
	return ioctl(nc->fd, NANOCLOCK_IOC_GET_INFO, info);
}
