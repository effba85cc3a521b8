// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - nanoclock.ko: module parameters, init and exit.
 *
 * Each of @instances clocks gets /dev/nanoclockN (dynamic POSIX clock with
 * ioctl and mmap), an optional PTP view /dev/ptpM, sysfs status and a place
 * in the "nanoclock" generic netlink family. See kmod/README.md.
 *
 * Teardown order (nc_exit): stop the ticks and PTP views (no more event
 * producers but netlink), close event delivery and unregister the netlink
 * family (waits for running operations; an event work still running finds
 * delivery closed under the lock it sends with, so nothing is multicast to
 * a family on its way out), quiesce each clock's event work, then
 * unregister the clock devices (frees them: open files pin the module, so
 * none are left).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "nc_internal.h"

static unsigned int instances = 1;
module_param(instances, uint, 0444);
MODULE_PARM_DESC(instances, "number of clocks /dev/nanoclockN (1..16, default 1)");

static unsigned int tick_hz = 10;
module_param(tick_hz, uint, 0444);
MODULE_PARM_DESC(tick_hz, "tick rate, Hz (1..1000, default 10); second boundaries are extra ticks");

static bool ptp = true;
module_param(ptp, bool, 0444);
MODULE_PARM_DESC(ptp, "register a PTP view /dev/ptpM of each clock (default Y)");

static uint options;
module_param(options, uint, 0444);
MODULE_PARM_DESC(options, "nanokernel NK_OPT_* bits of every clock: Linux ntp.c behaviours, 0x40 the estimator PPS discipline (default 0 = FreeBSD)");

static struct nanoclock *nc_clocks[NC_MAX_INSTANCES];
static int nc_nclocks;

/* Clocks live from init to exit; no reference needed while loaded. */
struct nanoclock *nc_get_clock(int index)
{
	if (index < 0 || index >= nc_nclocks)
		return NULL;
	return nc_clocks[index];
}
EXPORT_SYMBOL_GPL(nc_get_clock);

int nc_clock_count(void)
{
	return nc_nclocks;
}
EXPORT_SYMBOL_GPL(nc_clock_count);

static int nc_add_clock(int index)
{
	struct nanoclock *nc;
	int err;

	nc = nc_clock_create(index, options, tick_hz);
	if (!nc)
		return -ENOMEM;
	err = nc_chardev_register(nc);	/* on error @nc is freed */
	if (err)
		return err;
	if (ptp) {
		err = nc_ptp_register(nc);
		if (err) {
			nc_chardev_unregister(nc);
			return err;
		}
	}
	nc_clock_start(nc);
	nc_clocks[index] = nc;
	nc_nclocks = index + 1;
	return 0;
}

static void nc_remove_clocks(void)
{
	int i;

	for (i = 0; i < nc_nclocks; i++) {
		nc_clock_stop(nc_clocks[i]);
		nc_ptp_unregister(nc_clocks[i]);
	}
}

static void nc_free_clocks(void)
{
	int i;

	for (i = nc_nclocks - 1; i >= 0; i--) {
		nc_clock_quiesce(nc_clocks[i]);
		nc_chardev_unregister(nc_clocks[i]);
		nc_clocks[i] = NULL;
	}
	nc_nclocks = 0;
}

static int __init nc_init(void)
{
	int err, i;

	if (instances < 1 || instances > NC_MAX_INSTANCES) {
		pr_err("nanoclock: instances=%u out of 1..%d\n", instances,
		       NC_MAX_INSTANCES);
		return -EINVAL;
	}
	if (tick_hz < 1 || tick_hz > 1000) {
		pr_err("nanoclock: tick_hz=%u out of 1..1000\n", tick_hz);
		return -EINVAL;
	}
	err = nc_chardev_init();
	if (err)
		return err;
	for (i = 0; i < instances; i++) {
		err = nc_add_clock(i);
		if (err)
			goto fail;
	}
	err = nc_netlink_init();
	if (err)
		goto fail;
	pr_info("nanoclock: %d clock(s), tick %u Hz%s\n", nc_nclocks, tick_hz,
		ptp ? ", PTP view" : "");
	return 0;
fail:
	nc_remove_clocks();
	nc_free_clocks();
	nc_chardev_exit();
	return err;
}

static void __exit nc_exit(void)
{
	nc_remove_clocks();
	nc_netlink_exit();
	nc_free_clocks();
	nc_chardev_exit();
}

module_init(nc_init);
module_exit(nc_exit);

MODULE_DESCRIPTION("nanoclock: nanokernel-disciplined POSIX, PTP and mmap clocks");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
