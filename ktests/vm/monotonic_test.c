// SPDX-License-Identifier: GPL-2.0
/*
 * monotonic_test: one reader per CPU (pinned) for SECONDS (default 10),
 * alternating syscall and mmap reads, while a writer changes frequency and
 * PLL offset every few ms. Every read must be >= the largest value any
 * thread had published before it started (cross-CPU monotonicity).
 *
 *   monotonic_test [SECONDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/timex.h>
#include <unistd.h>

#include "libnanoclock.h"
#include "nc_test.h"

static struct nanoclock *nc;
static atomic_llong global_max;
static atomic_int stop;
static atomic_llong violations, worst, reads, adjusts;

static void *reader(void *arg)
{
	long cpu = (long)arg;
	cpu_set_t set;
	long long n = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!atomic_load(&stop)) {
		long long before = atomic_load(&global_max), t, m;
		struct timespec ts;

		if (n++ & 1)
			nanoclock_gettime(nc, &ts);
		else
			nanoclock_gettime_syscall(nc, &ts);
		t = nc_t_ns(&ts);
		if (t < before) {
			atomic_fetch_add(&violations, 1);
			m = atomic_load(&worst);
			while (before - t > m &&
			       !atomic_compare_exchange_weak(&worst, &m, before - t))
				;
		}
		m = atomic_load(&global_max);
		while (t > m && !atomic_compare_exchange_weak(&global_max, &m, t))
			;
	}
	atomic_fetch_add(&reads, n);
	return NULL;
}

static void *writer(void *arg)
{
	struct timex tx;
	int i = 0;

	(void)arg;
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_STATUS;
	tx.status = STA_PLL;
	nanoclock_adjtime(nc, &tx);
	while (!atomic_load(&stop)) {
		memset(&tx, 0, sizeof(tx));
		switch (i++ % 3) {
		case 0:
			tx.modes = ADJ_FREQUENCY;
			tx.freq = ((i % 2) ? 500L : -500L) * 65536; /* ppm << 16 */
			break;
		case 1:
			tx.modes = ADJ_OFFSET | ADJ_NANO;
			tx.offset = (i % 2) ? 400000000L : -400000000L;
			break;
		default:
			tx.modes = ADJ_FREQUENCY;
			tx.freq = (long)(i * 7919 % 1000 - 500) * 65536;
		}
		if (nanoclock_adjtime(nc, &tx) >= 0)
			atomic_fetch_add(&adjusts, 1);
		usleep(3000);
	}
	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY | ADJ_OFFSET | ADJ_STATUS;
	tx.status = STA_UNSYNC;
	nanoclock_adjtime(nc, &tx);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), i;
	pthread_t th[64], w;

	nc = nanoclock_open(0, 1);
	CHECK(nc != NULL, "open");
	if (!nc)
		return nc_t_done();
	if (ncpu > 63)
		ncpu = 63;
	for (i = 0; i < ncpu; i++)
		pthread_create(&th[i], NULL, reader, (void *)i);
	pthread_create(&w, NULL, writer, NULL);
	sleep(secs);
	atomic_store(&stop, 1);
	for (i = 0; i < ncpu; i++)
		pthread_join(th[i], NULL);
	pthread_join(w, NULL);
	CHECK(atomic_load(&adjusts) > 100, "%lld adjustments in %d s", atomic_load(&adjusts), secs);
	CHECK(atomic_load(&violations) == 0,
	      "%lld reads on %ld CPUs: %lld backwards steps (worst %lld ns)",
	      atomic_load(&reads), ncpu, atomic_load(&violations), atomic_load(&worst));
	nanoclock_close(nc);
	return nc_t_done();
}
