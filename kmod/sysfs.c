// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - human-readable status under /sys/class/nanoclock/nanoclockN/:
 * "status" (everything, one "name: value" per line, for cat) and one file
 * per value for scripts, all from one locked snapshot; pps_discipline is
 * the one writable file (CAP_SYS_TIME).
 */
#include <linux/capability.h>
#include <linux/device.h>
#include <linux/sysfs.h>
#include <linux/timex.h>

#include "nc_internal.h"

static const char * const nc_state_names[] = {
	[TIME_OK] = "TIME_OK", [TIME_INS] = "TIME_INS", [TIME_DEL] = "TIME_DEL",
	[TIME_OOP] = "TIME_OOP", [TIME_WAIT] = "TIME_WAIT",
	[TIME_ERROR] = "TIME_ERROR",
};

static const char * const nc_status_names[] = {
	"PLL", "PPSFREQ", "PPSTIME", "FLL", "INS", "DEL", "UNSYNC", "FREQHOLD",
	"PPSSIGNAL", "PPSJITTER", "PPSWANDER", "PPSERROR", "CLOCKERR", "NANO",
	"MODE", "CLK",
};

static struct nanoclock *nc_from_dev(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t status_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct nanoclock *nc = nc_from_dev(dev);
	struct __kernel_timex tx;
	struct nk_ntptime nt;
	int state, i, n = 0;
	const char *unit;

	state = nc_snapshot(nc, &tx, &nt);
	unit = tx.status & STA_NANO ? "ns" : "us";
	n += sysfs_emit_at(buf, n, "time: %lld.%09d\n", nt.time.sec, nt.time.nsec);
	n += sysfs_emit_at(buf, n, "pcc_ns: %llu\n", nt.pcc_ns);
	n += sysfs_emit_at(buf, n, "state: %s\n",
			   state >= 0 && state <= TIME_ERROR ?
			   nc_state_names[state] : "?");
	n += sysfs_emit_at(buf, n, "status: 0x%04x", tx.status);
	for (i = 0; i < ARRAY_SIZE(nc_status_names); i++)
		if (tx.status & BIT(i))
			n += sysfs_emit_at(buf, n, " %s", nc_status_names[i]);
	n += sysfs_emit_at(buf, n, "\n");
	n += sysfs_emit_at(buf, n, "offset: %lld %s\n", tx.offset, unit);
	n += sysfs_emit_at(buf, n, "freq: %lld (ppm << 16)\n", tx.freq);
	n += sysfs_emit_at(buf, n, "maxerror: %lld us\n", tx.maxerror);
	n += sysfs_emit_at(buf, n, "esterror: %lld us\n", tx.esterror);
	n += sysfs_emit_at(buf, n, "constant: %lld\n", tx.constant);
	n += sysfs_emit_at(buf, n, "precision: %lld %s\n", tx.precision, unit);
	n += sysfs_emit_at(buf, n, "tai: %d s\n", tx.tai);
	n += sysfs_emit_at(buf, n, "pps_freq: %lld (ppm << 16)\n", tx.ppsfreq);
	n += sysfs_emit_at(buf, n, "pps_jitter: %lld %s\n", tx.jitter, unit);
	n += sysfs_emit_at(buf, n, "pps_shift: %d\n", tx.shift);
	n += sysfs_emit_at(buf, n, "pps_stabil: %lld (ppm << 16)\n", tx.stabil);
	n += sysfs_emit_at(buf, n, "pps_counts: cal %lld jit %lld stb %lld err %lld\n",
			   tx.calcnt, tx.jitcnt, tx.stbcnt, tx.errcnt);
	n += sysfs_emit_at(buf, n, "ticks: %llu\n", READ_ONCE(nc->ticks));
	n += sysfs_emit_at(buf, n, "seconds: %llu\n", READ_ONCE(nc->seconds));
	n += sysfs_emit_at(buf, n, "ptp: %d\n",
			   nc->ptp ? ptp_clock_index(nc->ptp) : -1);
	return n;
}
static DEVICE_ATTR_RO(status);

/* One value per file, from the same snapshot format. */
#define NC_TX_ATTR(_name, _fmt, ...)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct __kernel_timex tx;					\
	struct nk_ntptime nt;						\
	int state = nc_snapshot(nc_from_dev(dev), &tx, &nt);		\
									\
	(void)state;							\
	return sysfs_emit(buf, _fmt "\n", __VA_ARGS__);		\
}									\
static DEVICE_ATTR_RO(_name)

NC_TX_ATTR(time, "%lld.%09d", nt.time.sec, nt.time.nsec);
NC_TX_ATTR(state, "%d", state);
NC_TX_ATTR(time_status, "0x%04x", tx.status);
NC_TX_ATTR(offset, "%lld", tx.offset);
NC_TX_ATTR(freq, "%lld", tx.freq);
NC_TX_ATTR(maxerror, "%lld", tx.maxerror);
NC_TX_ATTR(esterror, "%lld", tx.esterror);
NC_TX_ATTR(tai, "%d", tx.tai);

/*
 * pps_discipline (rw): "nanokernel" (the options the module was loaded
 * with, Mills' PPS loop) or "estimator" (NK_OPT_PPS_ESTIMATOR). Writing
 * needs CAP_SYS_TIME and restarts the PPS discipline of this clock.
 */
static ssize_t pps_discipline_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct nanoclock *nc = nc_from_dev(dev);

	return sysfs_emit(buf, "%s\n",
			  READ_ONCE(nc->nk.options) & NK_OPT_PPS_ESTIMATOR ?
			  "estimator" : "nanokernel");
}

static ssize_t pps_discipline_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	struct nanoclock *nc = nc_from_dev(dev);
	unsigned long flags;
	u32 options;
	int est;

	if (!capable(CAP_SYS_TIME))
		return -EPERM;
	if (sysfs_streq(buf, "estimator"))
		est = 1;
	else if (sysfs_streq(buf, "nanokernel"))
		est = 0;
	else
		return -EINVAL;
	raw_spin_lock_irqsave(&nc->lock, flags);
	options = nc->nk.options & ~NK_OPT_PPS_ESTIMATOR;
	if (est)
		options |= NK_OPT_PPS_ESTIMATOR;
	if (options != nc->nk.options)
		nk_set_options(&nc->nk, options);
	raw_spin_unlock_irqrestore(&nc->lock, flags);
	return count;
}
static DEVICE_ATTR_RW(pps_discipline);

static struct attribute *nc_attrs[] = {
	&dev_attr_pps_discipline.attr,
	&dev_attr_status.attr,
	&dev_attr_time.attr,
	&dev_attr_state.attr,
	&dev_attr_time_status.attr,
	&dev_attr_offset.attr,
	&dev_attr_freq.attr,
	&dev_attr_maxerror.attr,
	&dev_attr_esterror.attr,
	&dev_attr_tai.attr,
	NULL
};

static const struct attribute_group nc_attr_group = {
	.attrs = nc_attrs,
};

const struct attribute_group *nc_attr_groups[] = {
	&nc_attr_group,
	NULL
};
