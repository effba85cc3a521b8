/* SPDX-License-Identifier: GPL-2.0 */
/* ldisc.h - nanoclock-pps-ldisc.ko's hooks for KUnit (ktests/kunit). */
#ifndef NANOCLOCK_PPS_LDISC_H
#define NANOCLOCK_PPS_LDISC_H

#include <linux/tty.h>
#include <linux/tty_ldisc.h>

#include "nanoclock_pps.h"

int ncpps_ldisc_attach(struct tty_struct *tty);
void ncpps_ldisc_detach(struct tty_struct *tty);
struct ncpps_source *ncpps_ldisc_source(struct tty_struct *tty);
const struct tty_ldisc_ops *ncpps_ldisc_get_ops(void);

#endif /* NANOCLOCK_PPS_LDISC_H */
