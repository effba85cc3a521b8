// SPDX-License-Identifier: GPL-2.0
/* Kbuild probe: posix-clock char-device hooks take posix_clock_context */
#include <linux/posix-clock.h>

static long probe_ioctl(struct posix_clock_context *pccontext,
			unsigned int cmd, unsigned long arg)
{
	return 0;
}

const struct posix_clock_operations probe_ops = { .ioctl = probe_ioctl };
