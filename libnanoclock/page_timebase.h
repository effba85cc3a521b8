/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LIBNANOCLOCK_PAGE_TIMEBASE_H
#define LIBNANOCLOCK_PAGE_TIMEBASE_H

#include <stdint.h>
#include <linux/nanoclock.h>

/* nk_timebase_read() on the page's timebase (internal, hidden symbol). */
__attribute__((visibility("hidden")))
void nanoclock_tb_read(const struct nanoclock_timebase *tb, uint64_t pcc,
		       int64_t *sec, int32_t *nsec);

#endif
