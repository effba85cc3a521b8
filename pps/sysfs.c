// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/nanoclock_pps/<source>/: binding and statistics.
 *
 *   kind      ro  "sim", ...
 *   index     ro  NCPPS_A_SOURCE of this source
 *   pps       ro  N of its /dev/ppsN
 *   clock     rw  index of the bound /dev/nanoclockN, -1 = unbound
 *   ppstime   rw  0/1: the bound clock's STA_PPSTIME
 *   ppsfreq   rw  0/1: the bound clock's STA_PPSFREQ
 *   stats     ro  "name: value" per line (units in the names)
 *
 * Writes need root (mode 0644); they take ncpps_mutex like netlink.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/timex.h>

#include "nanoclock_pps.h"

static struct kobject *ncpps_kobj;

#define to_src(k) container_of(k, struct ncpps_source, kobj)

static ssize_t kind_show(struct kobject *k, struct kobj_attribute *a,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_src(k)->kind);
}

static ssize_t index_show(struct kobject *k, struct kobj_attribute *a,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", to_src(k)->index);
}

static ssize_t pps_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", to_src(k)->pps->id);
}

static ssize_t clock_show(struct kobject *k, struct kobj_attribute *a,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", ncpps_clock_index(to_src(k)));
}

static ssize_t clock_store(struct kobject *k, struct kobj_attribute *a,
			   const char *buf, size_t count)
{
	int clock, err;

	err = kstrtoint(buf, 0, &clock);
	if (err)
		return err;
	if (clock < -1)
		return -EINVAL;
	mutex_lock(&ncpps_mutex);
	err = ncpps_bind(to_src(k), clock);
	mutex_unlock(&ncpps_mutex);
	return err ? err : count;
}

static ssize_t flag_show(struct kobject *k, char *buf, s32 bit)
{
	return sysfs_emit(buf, "%d\n", !!(ncpps_clock_flags(to_src(k)) & bit));
}

static ssize_t flag_store(struct kobject *k, const char *buf, size_t count,
			  s32 bit)
{
	bool on;
	int err;

	err = kstrtobool(buf, &on);
	if (err)
		return err;
	mutex_lock(&ncpps_mutex);
	err = ncpps_set_flags(to_src(k), on ? bit : 0, on ? 0 : bit);
	mutex_unlock(&ncpps_mutex);
	return err ? err : count;
}

static ssize_t ppstime_show(struct kobject *k, struct kobj_attribute *a,
			    char *buf)
{
	return flag_show(k, buf, STA_PPSTIME);
}

static ssize_t ppstime_store(struct kobject *k, struct kobj_attribute *a,
			     const char *buf, size_t count)
{
	return flag_store(k, buf, count, STA_PPSTIME);
}

static ssize_t ppsfreq_show(struct kobject *k, struct kobj_attribute *a,
			    char *buf)
{
	return flag_show(k, buf, STA_PPSFREQ);
}

static ssize_t ppsfreq_store(struct kobject *k, struct kobj_attribute *a,
			     const char *buf, size_t count)
{
	return flag_store(k, buf, count, STA_PPSFREQ);
}

static ssize_t stats_show(struct kobject *k, struct kobj_attribute *a,
			  char *buf)
{
	struct ncpps_stats st;
	int n = 0;

	ncpps_read_stats(to_src(k), &st);
	n += sysfs_emit_at(buf, n, "edges: %llu\n", st.edges);
	n += sysfs_emit_at(buf, n, "fed: %llu\n", st.fed);
	n += sysfs_emit_at(buf, n, "rejected: %llu\n", st.rejected);
	n += sysfs_emit_at(buf, n, "popcorn: %llu\n", st.popcorn);
	n += sysfs_emit_at(buf, n, "gaps: %llu\n", st.gaps);
	n += sysfs_emit_at(buf, n, "last_pcc_ns: %llu\n", st.last_pcc);
	n += sysfs_emit_at(buf, n, "interval_ns: %lld\n", st.interval);
	n += sysfs_emit_at(buf, n, "phase_ns: %lld\n", st.phase);
	n += sysfs_emit_at(buf, n, "jitter_ns: %lld\n", st.jitter);
	n += sysfs_emit_at(buf, n, "wander_ns: %lld\n", st.wander);
	n += sysfs_emit_at(buf, n, "cost_last_ns: %llu\n", st.cost_last);
	n += sysfs_emit_at(buf, n, "cost_min_ns: %llu\n", st.cost_min);
	n += sysfs_emit_at(buf, n, "cost_max_ns: %llu\n", st.cost_max);
	n += sysfs_emit_at(buf, n, "cost_mean_ns: %llu\n",
			   st.cost_n ? div64_u64(st.cost_sum, st.cost_n) : 0);
	return n;
}

static struct kobj_attribute ncpps_attr_kind = __ATTR_RO(kind);
static struct kobj_attribute ncpps_attr_index = __ATTR_RO(index);
static struct kobj_attribute ncpps_attr_pps = __ATTR_RO(pps);
static struct kobj_attribute ncpps_attr_clock = __ATTR_RW(clock);
static struct kobj_attribute ncpps_attr_ppstime = __ATTR_RW(ppstime);
static struct kobj_attribute ncpps_attr_ppsfreq = __ATTR_RW(ppsfreq);
static struct kobj_attribute ncpps_attr_stats = __ATTR_RO(stats);

static struct attribute *ncpps_attrs[] = {
	&ncpps_attr_kind.attr,
	&ncpps_attr_index.attr,
	&ncpps_attr_pps.attr,
	&ncpps_attr_clock.attr,
	&ncpps_attr_ppstime.attr,
	&ncpps_attr_ppsfreq.attr,
	&ncpps_attr_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(ncpps);

const struct kobj_type ncpps_ktype = {
	.release = ncpps_source_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = ncpps_groups,
};

int ncpps_sysfs_add(struct ncpps_source *src)
{
	return kobject_add(&src->kobj, ncpps_kobj, "%s", src->name);
}

int ncpps_sysfs_init(void)
{
	ncpps_kobj = kobject_create_and_add("nanoclock_pps", kernel_kobj);
	return ncpps_kobj ? 0 : -ENOMEM;
}

void ncpps_sysfs_exit(void)
{
	kobject_put(ncpps_kobj);
}
