// SPDX-License-Identifier: GPL-2.0
/*
 * nc_reader: helper for loadunload_test.sh.
 *   nc_reader N     loop: open /dev/nanoclockN, read (mmap + syscall), close
 *   nc_reader -h N  hold the clock open and mapped until killed
 *   nc_reader -n    loop: subscribe to the netlink events group
 */
#define _GNU_SOURCE
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libnanoclock.h"

static __attribute__((noreturn)) int subscriber(void)
{
	for (;;) {
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
}

int main(int argc, char **argv)
{
	struct timespec ts;

	if (argc > 1 && !strcmp(argv[1], "-n"))
		return subscriber();
	if (argc > 2 && !strcmp(argv[1], "-h")) {
		struct nanoclock *nc = nanoclock_open(atoi(argv[2]), 0);

		if (!nc)
			return 1;
		for (;;) {
			nanoclock_gettime(nc, &ts);
			usleep(1000);
		}
	}
	for (;;) {
		struct nanoclock *nc = nanoclock_open(argc > 1 ? atoi(argv[1]) : 0, 0);
		int i;

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
}
