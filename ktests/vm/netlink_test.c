// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_test: the "nanoclock" generic netlink family with libnl-genl-3:
 * dump and get, set (privileged and not), strict policies, and events.
 * Permissions: SET_CLOCK needs CAP_SYS_TIME of the socket's opener and of
 * the sender; CAP_NET_ADMIN alone is refused with EPERM and an extack
 * message and changes nothing; CAP_SYS_TIME alone is enough.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/nanoclock.h>
#include "nc_nltest.h"
#include "nc_test.h"

static int family;

struct reply {
	int n;
	int index;
	int event;
	int have_all;
	long long freq;
	unsigned int status;
	long long time_sec;
};

static int parse_cb(struct nl_msg *msg, void *arg)
{
	struct reply *r = arg;
	struct nlattr *tb[NANOCLOCK_A_MAX + 1];
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	int i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, NANOCLOCK_A_MAX, NULL))
		return NL_SKIP;
	r->n++;
	r->have_all = 1;
	for (i = NANOCLOCK_A_INDEX; i <= NANOCLOCK_A_STBCNT; i++)
		if (!tb[i])
			r->have_all = 0;
	if (tb[NANOCLOCK_A_INDEX])
		r->index = nla_get_u32(tb[NANOCLOCK_A_INDEX]);
	if (tb[NANOCLOCK_A_FREQ])
		r->freq = (long long)nla_get_s64(tb[NANOCLOCK_A_FREQ]);
	if (tb[NANOCLOCK_A_STATUS])
		r->status = nla_get_u32(tb[NANOCLOCK_A_STATUS]);
	if (tb[NANOCLOCK_A_TIME_SEC])
		r->time_sec = (long long)nla_get_s64(tb[NANOCLOCK_A_TIME_SEC]);
	if (gh->cmd == NANOCLOCK_CMD_EVENT && tb[NANOCLOCK_A_EVENT])
		r->event |= 1 << nla_get_u32(tb[NANOCLOCK_A_EVENT]);
	return NL_OK;
}

static struct nl_sock *sock_new(struct reply *r)
{
	struct nl_sock *sk = nl_socket_alloc();

	genl_connect(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, parse_cb, r);
	return sk;
}

/* A new socket sharing @sk's callbacks. */
static struct nl_sock *fresh(struct nl_sock *sk)
{
	struct nl_cb *cb = nl_socket_get_cb(sk);
	struct nl_sock *s = nl_socket_alloc_cb(cb);

	nl_cb_put(cb);
	genl_connect(s);
	return s;
}

/*
 * Send one request on a fresh socket (one socket per request: nothing stale
 * can reach the next one) and wait for its ack or, with @reply, for its
 * replies (parsed by parse_cb); returns 0 or a negative libnl error.
 */
static int transact(struct nl_sock *sk, int cmd, int flags,
		    void (*fill)(struct nl_msg *, void *), void *arg, int reply)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_sock *s = fresh(sk);
	int err;

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
		    NANOCLOCK_GENL_VERSION);
	if (fill)
		fill(msg, arg);
	err = nl_send_auto(s, msg);
	nlmsg_free(msg);
	if (err >= 0)
		err = reply ? nl_recvmsgs_default(s) : nl_wait_for_ack(s);
	nl_socket_free(s);
	return err < 0 ? err : 0;
}

static int request(struct nl_sock *sk, int cmd, int flags,
		   void (*fill)(struct nl_msg *, void *), void *arg)
{
	return transact(sk, cmd, flags, fill, arg, 0);
}

static int request_reply(struct nl_sock *sk, int cmd, int flags,
			 void (*fill)(struct nl_msg *, void *), void *arg)
{
	return transact(sk, cmd, flags, fill, arg, 1);
}

static void fill_index(struct nl_msg *m, void *arg)
{
	nla_put_u32(m, NANOCLOCK_A_INDEX, *(int *)arg);
}

static void fill_freq(struct nl_msg *m, void *arg)
{
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_FREQUENCY);
	nla_put_s64(m, NANOCLOCK_A_FREQ, *(long long *)arg);
}

static void fill_missing(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_FREQUENCY);
}

static void fill_orphan(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_STATUS);
	nla_put_u32(m, NANOCLOCK_A_STATUS, 0);
	nla_put_s64(m, NANOCLOCK_A_FREQ, 0);
}

static void fill_readonly(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, 0);
	nla_put_s64(m, NANOCLOCK_A_TIME_SEC, 0);
}

static void fill_badlen(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_FREQUENCY);
	nla_put_u16(m, NANOCLOCK_A_FREQ, 1);
}

static void fill_badmode(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_NANO);
}

static void fill_status(struct nl_msg *m, void *arg)
{
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_STATUS);
	nla_put_u32(m, NANOCLOCK_A_STATUS, *(unsigned int *)arg);
}

static void fill_step(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_SETOFFSET);
	nla_put_s64(m, NANOCLOCK_A_SETOFFSET, 1000);
}

static void fill_bigstep(struct nl_msg *m, void *arg)
{
	(void)arg;
	nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
	nla_put_u32(m, NANOCLOCK_A_MODES, ADJ_SETOFFSET);
	nla_put_s64(m, NANOCLOCK_A_SETOFFSET, 1000LL * 1000000000LL);	/* 1000 s */
}

/*
 * One SET_CLOCK on @s, whoever opened it; returns 0 or the kernel's -errno
 * (extack text in ext_msg). libnl addresses every message to the kernel
 * (sendmsg with a destination), in which case netlink_capable() asks only
 * the sender; send_plain() writes it without one, so the opener is asked too.
 */
static int send_plain;

static int set_on(struct nl_sock *s, void (*fill)(struct nl_msg *, void *), void *arg)
{
	struct nl_msg *msg = nlmsg_alloc();
	int st[2] = { 0, 0 };	/* error, done */
	int one = 1;

	setsockopt(nl_socket_get_fd(s), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nl_socket_modify_err_cb(s, NL_CB_CUSTOM, err_cb, st);
	nl_socket_modify_cb(s, NL_CB_ACK, NL_CB_CUSTOM, done_cb, st);
	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_ACK,
		    NANOCLOCK_CMD_SET_CLOCK, NANOCLOCK_GENL_VERSION);
	fill(msg, arg);
	ext_msg[0] = 0;
	nl_complete_msg(s, msg);
	if (send_plain ? send(nl_socket_get_fd(s), nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len, 0) < 0
		       : nl_send(s, msg) < 0)
		st[0] = -EIO;
	else
		while (!st[1] && nl_recvmsgs_default(s) >= 0)
			;
	nlmsg_free(msg);
	return st[0];
}

static struct nl_sock *connected(void)
{
	struct nl_sock *s = nl_socket_alloc();

	genl_connect(s);
	return s;
}

/* Refused for want of CAP_SYS_TIME: EPERM and the extack says so. */
static int refused(int err)
{
	printf("# refused: %d \"%s\"\n", err, ext_msg);
	fflush(stdout);
	return err == -EPERM && strstr(ext_msg, "CAP_SYS_TIME");
}

/* The clock's time minus CLOCK_REALTIME, s (a step shows in it). */
static long long clock_minus_real(struct reply *r)
{
	struct nl_sock *sk = sock_new(r);
	struct timespec now;
	int idx = 0;

	memset(r, 0, sizeof(*r));
	request_reply(sk, NANOCLOCK_CMD_GET_CLOCK, 0, fill_index, &idx);
	nl_socket_free(sk);
	clock_gettime(CLOCK_REALTIME, &now);
	return r->time_sec - (long long)now.tv_sec;
}

/*
 * The permission model: CAP_SYS_TIME (opener and sender), never
 * CAP_NET_ADMIN. Runs with the clock's frequency at 42 ppm.
 */
static void check_permissions(void)
{
	struct reply before, after;
	long long d0, d1, f;
	unsigned int status;
	int pid, st, err;

	d0 = clock_minus_real(&before);
	pid = fork();
	if (pid == 0) {
		cap_value_t net_admin = CAP_NET_ADMIN;
		struct reply r2 = { 0 };
		struct nl_sock *s;

		if (nc_t_only_caps(&net_admin, 1))
			_exit(10);
		s = connected();
		f = 1LL << 16;
		if (!refused(set_on(s, fill_freq, &f)))
			_exit(1);
		if (!refused(set_on(s, fill_bigstep, NULL)))
			_exit(2);
		status = STA_PLL | STA_FREQHOLD;
		if (!refused(set_on(s, fill_status, &status)))
			_exit(3);
		nl_socket_free(s);
		s = sock_new(&r2);
		if (request_reply(s, NANOCLOCK_CMD_GET_CLOCK, NLM_F_DUMP, NULL, NULL) || !r2.n)
			_exit(4);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "CAP_NET_ADMIN only: freq, step, status -> EPERM \"...CAP_SYS_TIME\"; get ok (code %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	d1 = clock_minus_real(&after);
	CHECK(after.freq == before.freq && after.status == before.status && d1 - d0 >= -2 &&
	      d1 - d0 <= 2,
	      "clock unchanged: freq %lld -> %lld, status %#x -> %#x, clock - real %lld -> %lld s",
	      before.freq, after.freq, before.status, after.status, d0, d1);

	pid = fork();
	if (pid == 0) {
		cap_value_t sys_time = CAP_SYS_TIME;
		struct nl_sock *s;

		if (nc_t_only_caps(&sys_time, 1))
			_exit(10);
		s = connected();
		f = 43LL << 16;
		err = set_on(s, fill_freq, &f);
		_exit(err == 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	clock_minus_real(&after);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && after.freq == 43LL << 16,
	      "CAP_SYS_TIME only (no CAP_NET_ADMIN): set freq 43 ppm works (code %d, %lld)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1, after.freq);

	/* the socket's opener counts, not only the sender */
	pid = fork();
	if (pid == 0) {
		struct nl_sock *s;

		f = 1LL << 16;
		if (nc_t_effective(CAP_SYS_TIME, 0))
			_exit(10);
		s = connected();		/* opened without CAP_SYS_TIME */
		if (nc_t_effective(CAP_SYS_TIME, 1))
			_exit(11);
		send_plain = 1;
		if (!refused(set_on(s, fill_freq, &f)))
			_exit(1);
		send_plain = 0;
		nl_socket_free(s);
		s = connected();		/* opened with it, sent without */
		if (nc_t_effective(CAP_SYS_TIME, 0))
			_exit(12);
		if (!refused(set_on(s, fill_freq, &f)))
			_exit(2);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	clock_minus_real(&after);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && after.freq == 43LL << 16,
	      "opened or sent without CAP_SYS_TIME -> EPERM, freq kept (code %d, %lld)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1, after.freq);
}

int main(void)
{
	struct reply r = { 0 };
	struct nl_sock *sk = sock_new(&r);
	int idx, grp, err, pid, st;
	long long freq;

	family = genl_ctrl_resolve(sk, NANOCLOCK_GENL_NAME);
	CHECK(family > 0, "resolve family \"%s\" (%d)", NANOCLOCK_GENL_NAME, family);
	grp = genl_ctrl_resolve_grp(sk, NANOCLOCK_GENL_NAME, NANOCLOCK_GENL_MCGRP_EVENTS);
	CHECK(grp > 0, "resolve group \"events\" (%d)", grp);
	if (family <= 0 || grp <= 0)
		return nc_t_done();

	{
		/* own socket: what follows NLMSG_DONE must not confuse the rest */
		struct nl_sock *ds = sock_new(&r);

		err = request_reply(ds, NANOCLOCK_CMD_GET_CLOCK, NLM_F_DUMP, NULL, NULL);
		nl_socket_free(ds);
	}
	CHECK(err == 0 && r.n >= 1 && r.have_all, "dump: %d clock(s), all attributes", r.n);

	memset(&r, 0, sizeof(r));
	idx = 0;
	err = request_reply(sk, NANOCLOCK_CMD_GET_CLOCK, 0, fill_index, &idx);
	CHECK(err == 0 && r.n == 1 && r.index == 0, "get index 0");
	idx = 99;
	err = request(sk, NANOCLOCK_CMD_GET_CLOCK, 0, fill_index, &idx);
	CHECK(err == -NLE_RANGE || err == -NLE_INVAL, "get index 99 rejected by policy (%d)", err);
	idx = 15;
	err = request(sk, NANOCLOCK_CMD_GET_CLOCK, 0, fill_index, &idx);
	CHECK(err < 0, "get index 15: no such clock (%d)", err);

	memset(&r, 0, sizeof(r));
	freq = 42LL << 16;
	err = request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_freq, &freq);
	CHECK(err == 0 && r.n == 1 && r.freq == freq, "set freq 42 ppm, reply carries it (%lld)",
	      r.freq);
	freq = 600LL << 16;
	err = request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_freq, &freq);
	CHECK(err < 0, "freq 600 ppm out of policy range (%d)", err);
	CHECK(request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_missing, NULL) < 0,
	      "mode bit without attribute rejected");
	CHECK(request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_orphan, NULL) < 0,
	      "attribute without mode bit rejected");
	CHECK(request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_readonly, NULL) < 0,
	      "read-only attribute in a set rejected");
	CHECK(request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_badlen, NULL) < 0,
	      "u16 where s64 expected rejected");
	CHECK(request(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_badmode, NULL) < 0,
	      "mode bit outside the mask rejected");

	pid = fork();
	if (pid == 0) {
		struct reply r2 = { 0 };
		struct nl_sock *s2;
		long long f = 1LL << 16;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		s2 = sock_new(&r2);
		if (request_reply(s2, NANOCLOCK_CMD_GET_CLOCK, NLM_F_DUMP, NULL, NULL) || !r2.n)
			_exit(1);
		err = request(s2, NANOCLOCK_CMD_SET_CLOCK, 0, fill_freq, &f);
		_exit(err == -NLE_PERM ? 0 : 2);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "unprivileged: dump ok, set -> EPERM (code %d)", WEXITSTATUS(st));
	check_permissions();

	/* events */
	{
		struct reply ev = { 0 };
		struct nl_sock *es = sock_new(&ev);
		unsigned int status;
		int i;

		nl_socket_disable_seq_check(es);
		nl_socket_add_membership(es, grp);
		nl_socket_set_nonblocking(es);
		status = STA_PLL;
		request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_status, &status);
		request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_step, NULL);
		status = STA_UNSYNC;
		request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_status, &status);
		for (i = 0; i < 50; i++) {
			nl_recvmsgs_default(es);
			if ((ev.event & (1 << NANOCLOCK_EV_STATUS)) &&
			    (ev.event & (1 << NANOCLOCK_EV_CLOCK_SET)))
				break;
			usleep(20000);
		}
		CHECK(ev.event & (1 << NANOCLOCK_EV_STATUS), "STATUS event received");
		CHECK(ev.event & (1 << NANOCLOCK_EV_CLOCK_SET), "CLOCK_SET event received");
		nl_socket_free(es);
	}
	/* events reach a subscriber in another network namespace */
	{
		int ready[2], st = 0;
		unsigned int status;
		char c;
		pid_t pid;

		if (pipe(ready))
			return 1;
		pid = fork();
		if (pid == 0) {
			struct reply ev = { 0 };
			struct nl_sock *es;
			int g, i;

			close(ready[0]);
			if (unshare(CLONE_NEWNET))
				_exit(2);
			es = sock_new(&ev);
			g = genl_ctrl_resolve_grp(es, NANOCLOCK_GENL_NAME,
						  NANOCLOCK_GENL_MCGRP_EVENTS);
			if (g <= 0)
				_exit(3);
			nl_socket_disable_seq_check(es);
			nl_socket_add_membership(es, g);
			nl_socket_set_nonblocking(es);
			if (write(ready[1], "r", 1) != 1)
				_exit(4);
			for (i = 0; i < 100; i++) {
				nl_recvmsgs_default(es);
				if (ev.event & (1 << NANOCLOCK_EV_STATUS))
					_exit(0);
				usleep(20000);
			}
			_exit(5);
		}
		close(ready[1]);
		if (read(ready[0], &c, 1) == 1) {
			status = STA_PLL;
			request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_status, &status);
			status = STA_UNSYNC;
			request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_status, &status);
		}
		close(ready[0]);
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "STATUS event received in a new network namespace (code %d)",
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	freq = 0;
	request_reply(sk, NANOCLOCK_CMD_SET_CLOCK, 0, fill_freq, &freq);
	nl_socket_free(sk);
	return nc_t_done();
}
