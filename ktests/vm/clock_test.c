// SPDX-License-Identifier: GPL-2.0
/*
 * clock_test: every clock_* call on /dev/nanoclock0, the ioctls, the mmap
 * page against the system call, and the permission rules (run as root; the
 * unprivileged half drops to nobody in a child).
 *
 *   clock_test [-i INDEX]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libnanoclock.h"
#include "nc_test.h"

static int idx;

static void test_basic(void)
{
	struct nanoclock *nc = nanoclock_open(idx, 1);
	struct timespec a, b, res, sys;
	struct nanoclock_ntptime nt;
	struct nanoclock_info info;
	struct timex tx;
	int ret;

	CHECK(nc != NULL, "open /dev/nanoclock%d read-write", idx);
	if (!nc)
		return;
	CHECK(nanoclock_has_page(nc), "mmap page mapped");
	CHECK(nanoclock_getres(nc, &res) == 0 && res.tv_sec == 0 &&
	      res.tv_nsec == 1, "clock_getres = 1 ns");
	CHECK(nanoclock_gettime_syscall(nc, &a) == 0, "clock_gettime");
	clock_gettime(CLOCK_REALTIME, &sys);
	CHECK(llabs(nc_t_ns(&a) - nc_t_ns(&sys)) < 1000000000LL,
	      "starts near CLOCK_REALTIME (%lld ns apart)",
	      nc_t_ns(&a) - nc_t_ns(&sys));

	/* mmap and syscall agree within one syscall's cost */
	{
		long long worst = 0;
		int i;

		for (i = 0; i < 1000; i++) {
			struct timespec s1, m, s2;

			nanoclock_gettime_syscall(nc, &s1);
			nanoclock_gettime(nc, &m);
			nanoclock_gettime_syscall(nc, &s2);
			if (nc_t_ns(&m) < nc_t_ns(&s1) || nc_t_ns(&m) > nc_t_ns(&s2)) {
				long long e = nc_t_ns(&m) < nc_t_ns(&s1) ?
					nc_t_ns(&s1) - nc_t_ns(&m) :
					nc_t_ns(&m) - nc_t_ns(&s2);
				if (e > worst)
					worst = e;
			}
		}
		CHECK(worst == 0, "mmap read between two syscall reads (worst %lld ns outside)",
		      worst);
	}

	memset(&tx, 0, sizeof(tx));
	ret = nanoclock_adjtime(nc, &tx);
	CHECK(ret >= TIME_OK && ret <= TIME_ERROR, "ntp_gettime via adjtime modes=0: %d", ret);
	CHECK(tx.status & STA_UNSYNC, "starts STA_UNSYNC (status 0x%x)", tx.status);

	CHECK(nanoclock_ntp_gettime(nc, &nt) == 0, "ioctl NTP_GETTIME");
	CHECK(nt.state == ret || nt.state == TIME_ERROR, "ioctl state %d", nt.state);
	CHECK(nt.time.tv_nsec >= 0 && nt.time.tv_nsec < 1000000000, "ioctl nsec normalised");
	CHECK(nt.pcc_ns > 0, "ioctl pcc %llu", (unsigned long long)nt.pcc_ns);
	CHECK(nanoclock_info(nc, &info) == 0 && info.index == (unsigned int)idx &&
	      info.page_size == (unsigned int)sysconf(_SC_PAGESIZE),
	      "ioctl GET_INFO (ptp %d, tick %u Hz)", info.ptp_index, info.tick_hz);
	CHECK(ioctl(nanoclock_fd(nc), _IO(0xCD, 99)) < 0 && errno == ENOTTY,
	      "unknown ioctl -> ENOTTY");

	/* settime, then read back */
	a.tv_sec = 2000000000;
	a.tv_nsec = 123456789;
	CHECK(nanoclock_settime(nc, &a) == 0, "clock_settime");
	nanoclock_gettime_syscall(nc, &b);
	CHECK(b.tv_sec == 2000000000 && nc_t_ns(&b) - nc_t_ns(&a) < 100000000,
	      "settime read back (%lld ns later)", nc_t_ns(&b) - nc_t_ns(&a));
	nanoclock_gettime(nc, &b);
	CHECK(b.tv_sec == 2000000000, "mmap sees the step");

	/* ADJ_SETOFFSET */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_SETOFFSET | ADJ_NANO;
	tx.time.tv_sec = -1000000000;
	tx.time.tv_usec = 0;
	ret = nanoclock_adjtime(nc, &tx);
	nanoclock_gettime_syscall(nc, &b);
	CHECK(ret >= 0 && b.tv_sec == 1000000000, "ADJ_SETOFFSET -1e9 s (ret %d, sec %lld)",
	      ret, (long long)b.tv_sec);

	/* frequency round trip and clamping */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 100 << 16;
	ret = nanoclock_adjtime(nc, &tx);
	memset(&tx, 0, sizeof(tx));
	nanoclock_adjtime(nc, &tx);
	CHECK(ret >= 0 && tx.freq == 100 << 16, "ADJ_FREQUENCY 100 ppm read back (%ld)", tx.freq);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 1000L << 16;
	nanoclock_adjtime(nc, &tx);
	memset(&tx, 0, sizeof(tx));
	nanoclock_adjtime(nc, &tx);
	CHECK(tx.freq == 500L << 16, "ADJ_FREQUENCY 1000 ppm clamped to 500 (%ld)", tx.freq);

	/* validation like adjtimex */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_SETOFFSET | ADJ_NANO;
	tx.time.tv_usec = 1000000000;
	CHECK(nanoclock_adjtime(nc, &tx) < 0 && errno == EINVAL,
	      "ADJ_SETOFFSET with tv_nsec = 1e9 -> EINVAL");
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TICK;
	tx.tick = 1;
	CHECK(nanoclock_adjtime(nc, &tx) < 0 && errno == EINVAL, "ADJ_TICK 1 -> EINVAL");
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET_SINGLESHOT & ~ADJ_OFFSET_SINGLESHOT;
	tx.modes = 0x8000;	/* ADJ_ADJTIME without SINGLESHOT */
	CHECK(nanoclock_adjtime(nc, &tx) < 0 && errno == EINVAL, "ADJ_ADJTIME alone -> EINVAL");

	/* status and TAI, leap arming */
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
	tx.status = STA_PLL;
	tx.maxerror = 1000;
	tx.esterror = 10;
	ret = nanoclock_adjtime(nc, &tx);
	CHECK(ret == TIME_OK, "clear STA_UNSYNC -> TIME_OK (ret %d status 0x%x)", ret, tx.status);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TAI;
	tx.constant = 37;
	nanoclock_adjtime(nc, &tx);
	CHECK(nanoclock_ntp_gettime(nc, &nt) == 0 && nt.tai == 37 && nt.maxerror >= 1000,
	      "ADJ_TAI 37 in the ioctl view (tai %d, maxerror %lld)", nt.tai,
	      (long long)nt.maxerror);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS;
	tx.status = STA_PLL | STA_INS;
	ret = nanoclock_adjtime(nc, &tx);
	CHECK(ret == TIME_INS || ret == TIME_OK, "STA_INS arms a leap (ret %d)", ret);
	tx.modes = ADJ_STATUS;
	tx.status = STA_UNSYNC;
	nanoclock_adjtime(nc, &tx);
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 0;
	nanoclock_adjtime(nc, &tx);

	/* mmap: read-only, one page */
	{
		long psz = sysconf(_SC_PAGESIZE);
		void *p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			       nanoclock_fd(nc), 0);

		CHECK(p == MAP_FAILED, "PROT_WRITE mapping refused");
		p = mmap(NULL, 2 * psz, PROT_READ, MAP_SHARED, nanoclock_fd(nc), 0);
		CHECK(p == MAP_FAILED, "two-page mapping refused");
		p = mmap(NULL, psz, PROT_READ, MAP_SHARED, nanoclock_fd(nc), 0);
		CHECK(p != MAP_FAILED && mprotect(p, psz, PROT_READ | PROT_WRITE) < 0,
		      "mprotect to writable refused");
		if (p != MAP_FAILED)
			munmap(p, psz);
	}
	nanoclock_close(nc);
}

/* Unprivileged: reads work, every change is refused. */
static void test_unprivileged(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct nanoclock *nc;
		struct timespec ts;
		struct timex tx;
		int bad = 0;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		nc = nanoclock_open(idx, 0);
		if (!nc)
			_exit(11);
		if (nanoclock_gettime_syscall(nc, &ts) || nanoclock_gettime(nc, &ts))
			bad |= 1;
		memset(&tx, 0, sizeof(tx));
		if (nanoclock_adjtime(nc, &tx) < 0)
			bad |= 2;
		tx.modes = ADJ_FREQUENCY;
		if (nanoclock_adjtime(nc, &tx) >= 0)
			bad |= 4;
		if (nanoclock_settime(nc, &ts) == 0)
			bad |= 8;
		nanoclock_close(nc);
		/* a writable fd does not help without CAP_SYS_TIME */
		nc = nanoclock_open(idx, 1);
		if (nc) {
			tx.modes = ADJ_FREQUENCY;
			if (nanoclock_adjtime(nc, &tx) >= 0 || errno != EPERM)
				bad |= 16;
			tx.modes = ADJ_OFFSET_SS_READ;
			if (nanoclock_adjtime(nc, &tx) < 0)
				bad |= 32;
			nanoclock_close(nc);
		}
		_exit(bad);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "unprivileged: reads ok, changes refused (code %d)", WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "i:")) != -1)
		if (opt == 'i')
			idx = atoi(optarg);
	test_basic();
	test_unprivileged();
	return nc_t_done();
}
