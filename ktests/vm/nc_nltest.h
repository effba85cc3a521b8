/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the in-VM netlink tests (netlink_test.c, pps_test.c): the
 * extack text of a refused request, and running with exactly the
 * capabilities a test names.
 */
#ifndef NC_NLTEST_H
#define NC_NLTEST_H

#include <linux/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <sys/capability.h>

/* extack text of the last error, for the TAP output */
static char ext_msg[256];

/*
 * libnl error callback: stores the kernel's errno in arg[0], sets arg[1]
 * (done) and copies the extack message into ext_msg.
 */
static int err_cb(struct sockaddr_nl* nla, struct nlmsgerr* e, void* arg) {
    struct nlmsghdr* nlh = (struct nlmsghdr*)e - 1;
    struct nlattr* tb[NLMSGERR_ATTR_MAX + 1];
    int* perr = arg;
    unsigned int off = sizeof(*e);

    (void)nla;
    ext_msg[0] = 0;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
    if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
        !nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr*)((char*)e + off),
                   nlh->nlmsg_len - sizeof(*nlh) - off, NULL) &&
        tb[NLMSGERR_ATTR_MSG])
        snprintf(ext_msg, sizeof(ext_msg), "%s", nla_get_string(tb[NLMSGERR_ATTR_MSG]));
    perr[0] = e->error;
    perr[1] = 1;
    return NL_STOP;
}

/* ACK/FINISH callback: sets arg[1] (done). */
static int done_cb(struct nl_msg* msg, void* arg) {
    (void)msg;
    ((int*)arg)[1] = 1;
    return NL_STOP;
}

/*
 * Keep exactly the capabilities in @caps (@n of them) in the effective and
 * permitted sets, dropping all others for good; 0 or -1.
 */
static inline int nc_t_only_caps(const cap_value_t* caps, int n) {
    cap_t c = cap_init();
    int err;

    if (!c) return -1;
    err = (n && (cap_set_flag(c, CAP_EFFECTIVE, n, caps, CAP_SET) ||
                 cap_set_flag(c, CAP_PERMITTED, n, caps, CAP_SET))) ||
          cap_set_proc(c);
    cap_free(c);
    return err ? -1 : 0;
}

/* Raise (@on) or lower one capability in the effective set only. */
static inline int nc_t_effective(cap_value_t cap, int on) {
    cap_t c = cap_get_proc();
    int err;

    if (!c) return -1;
    err = cap_set_flag(c, CAP_EFFECTIVE, 1, &cap, on ? CAP_SET : CAP_CLEAR) || cap_set_proc(c);
    cap_free(c);
    return err ? -1 : 0;
}

#endif
