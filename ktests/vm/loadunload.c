// SPDX-License-Identifier: GPL-2.0
/*
 * nc_loadunload MODULE.ko [CYCLES]: inside the VM, load and
 * unload nanoclock.ko CYCLES times (100) with readers active and under event
 * load, with no program started per cycle (a cycle costs an insmod and an
 * rmmod, not a dozen program starts under TCG).
 *
 * Running through every cycle, whether the module is there or not:
 *   - two readers looping open/read (mmap page and syscall)/close of
 *     /dev/nanoclock0 and 1 (absent clock: ENOENT/ENXIO/ENODEV, retried);
 *   - a netlink subscriber joining the events group again and again;
 *   - a netlink writer stepping both clocks by +-1 ns and toggling STA_PLL
 *     as fast as the kernel answers: every request queues CLOCK_SET and
 *     STATUS events, so event work is building and multicasting events
 *     whenever the module unloads.
 * The four run as processes forked once. The readers pause while insmod
 * runs: 6.1's posix_clock_register() sets cdev.owner only after
 * cdev_device_add() has made /dev/nanoclockN openable, so an open in that
 * window takes no module reference and its close drops one (refcount
 * underflow: module_put WARN, then BUG at kernel/module/main.c:656 on
 * rmmod, seen within 10 cycles on both kernels). That is a kernel bug the
 * module cannot close from its side; opens racing rmmod are what this test
 * is about, and those stay.
 * Each cycle: insmod (instances=2 tick_hz=100); a holder opens and maps
 * clock 0; once the writer has had a request through, rmmod must fail
 * (EBUSY: the holder pins the module); the holder closes; rmmod is retried
 * until it succeeds (readers briefly pin it too). The console (lockdep,
 * kmemleak, WARN, oops) is judged by the caller. Prints TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "libnanoclock.h"
#include "nc_test.h"

/* shared with the worker processes (MAP_SHARED) */
struct shared {
	atomic_int stop;
	atomic_ulong sets;	/* SET_CLOCKs the kernel acknowledged */
	atomic_int loading;	/* insmod about to run or running */
	atomic_int opening[2];	/* reader k may be inside an open */
};
static struct shared *sh;
#define stop (sh->stop)
#define sets (sh->sets)

static void *reader(void *arg)
{
	int index = (int)(long)arg;
	struct timespec ts;

	while (!stop) {
		struct nanoclock *nc = NULL;
		int i;

		/* announce the open, then look: insmod waits, or we do */
		sh->opening[index] = 1;
		if (!sh->loading)
			nc = nanoclock_open(index, 0);
		sh->opening[index] = 0;
		if (!nc) {
			usleep(1000);
			continue;
		}
		for (i = 0; i < 100; i++) {
			nanoclock_gettime(nc, &ts);
			nanoclock_gettime_syscall(nc, &ts);
		}
		nanoclock_close(nc);
		usleep(2000);	/* leave rmmod a window */
	}
	return NULL;
}

static void *subscriber(void *arg)
{
	(void)arg;
	while (!stop) {
		struct nl_sock *sk = nl_socket_alloc();
		int grp;

		genl_connect(sk);
		grp = genl_ctrl_resolve_grp(sk, NANOCLOCK_GENL_NAME,
					    NANOCLOCK_GENL_MCGRP_EVENTS);
		if (grp > 0) {
			nl_socket_add_membership(sk, grp);
			nl_socket_set_nonblocking(sk);
			nl_socket_disable_seq_check(sk);
			usleep(5000);
			nl_recvmsgs_default(sk);
		}
		nl_socket_free(sk);
		usleep(1000);
	}
	return NULL;
}

static void *writer(void *arg)
{
	long long step = 1;	/* ns */
	unsigned int i = 0;

	(void)arg;
	while (!stop) {
		struct nl_sock *sk = nl_socket_alloc();
		int family, err = 0;

		genl_connect(sk);
		family = genl_ctrl_resolve(sk, NANOCLOCK_GENL_NAME);
		/* until the family goes away (rmmod): then resolve it again */
		while (family > 0 && err >= 0 && !stop) {
			struct nl_msg *msg = nlmsg_alloc();

			genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0,
				    NANOCLOCK_CMD_SET_CLOCK, NANOCLOCK_GENL_VERSION);
			nla_put_u32(msg, NANOCLOCK_A_INDEX, i & 1);
			nla_put_u32(msg, NANOCLOCK_A_MODES, ADJ_SETOFFSET | ADJ_STATUS);
			nla_put_s64(msg, NANOCLOCK_A_SETOFFSET, step);
			nla_put_u32(msg, NANOCLOCK_A_STATUS, i & 2 ? STA_PLL : 0);
			err = nl_send_auto(sk, msg);
			nlmsg_free(msg);
			if (err >= 0)
				err = nl_wait_for_ack(sk);
			if (err >= 0)
				sets++;
			step = -step;
			i++;
		}
		nl_socket_free(sk);
		usleep(1000);
	}
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rmmod(void)
{
	return syscall(SYS_delete_module, "nanoclock", O_NONBLOCK) ? -errno : 0;
}

int main(int argc, char **argv)
{
	int cycles = argc > 2 ? atoi(argv[2]) : 100;
	int ok_cycles = 0, busy_ok = 0, loaded_cycles = 0, i, k, ko;
	void *(*const work[4])(void *) = { reader, reader, subscriber, writer };
	pid_t pid[4];
	double t0 = mono_s(), t;

	if (argc < 2) {
		fprintf(stderr, "usage: nc_loadunload MODULE.ko [CYCLES]\n");
		return 2;
	}
	ko = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ko < 0) {
		perror(argv[1]);
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	for (k = 0; k < 4; k++) {
		void *arg = (void *)(long)(k == 1);	/* the readers' clock index */

		pid[k] = fork();
		if (pid[k] == 0) {
			close(ko);
			work[k](arg);
			_exit(0);
		}
	}
	for (i = 0; i < cycles; i++) {
		struct nanoclock *holder = NULL;
		unsigned long sets0 = sets;
		int err;

		sh->loading = 1;
		while (sh->opening[0] || sh->opening[1])
			usleep(100);
		err = syscall(SYS_finit_module, ko, "instances=2 tick_hz=100", 0) ? -errno : 0;
		sh->loading = 0;
		if (err) {
			printf("# cycle %d: insmod: %s\n", i, strerror(-err));
			break;
		}
		/* the holder keeps an fd and the mapping; the writer gets through */
		for (t = mono_s(); mono_s() - t < 10 && (!holder || sets == sets0);) {
			if (!holder)
				holder = nanoclock_open(0, 0);
			usleep(1000);
		}
		loaded_cycles += sets != sets0;
		err = rmmod();
		if (err == -EWOULDBLOCK || err == -EBUSY)
			busy_ok++;
		else
			printf("# cycle %d: rmmod with the holder: %d (holder %s)\n", i, err,
			       holder ? "open" : "failed to open");
		if (holder)
			nanoclock_close(holder);
		/* unload while the readers, the subscriber and the writer run */
		for (t = mono_s(); (err = rmmod()) && mono_s() - t < 10;)
			usleep(5000);
		if (err) {
			printf("# cycle %d: rmmod: %s\n", i, strerror(-err));
			break;
		}
		ok_cycles++;
		if ((i + 1) % 10 == 0) {
			printf("# %d cycles in %.1f s, %lu SET_CLOCKs acknowledged\n", i + 1,
			       mono_s() - t0, (unsigned long)sets);
			fflush(stdout);
		}
	}
	stop = 1;
	for (k = 0; k < 4; k++)
		waitpid(pid[k], NULL, 0);
	close(ko);
	CHECK(ok_cycles == cycles, "%d of %d load/unload cycles with readers", ok_cycles, cycles);
	CHECK(busy_ok == cycles, "rmmod refused while a reader holds the clock (%d)", busy_ok);
	CHECK(loaded_cycles == cycles,
	      "event load: %lu SET_CLOCKs acknowledged, in %d of %d cycles before the unload",
	      (unsigned long)sets, loaded_cycles, cycles);
	printf("# %.1f s for %d cycles\n", mono_s() - t0, ok_cycles);
	if (access("/sys/module/nanoclock", F_OK) == 0)
		rmmod();
	return nc_t_done();
}
