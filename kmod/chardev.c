// SPDX-License-Identifier: GPL-2.0
/*
 * chardev.c - /dev/nanoclockN: the dynamic POSIX clock operations, the
 * ioctls and the read-only mmap page.
 *
 * mmap: posix_clock_operations (6.1) has no mmap hook. posix_clock_register()
 * installs the posix-clock core's file_operations in our cdev; we copy them
 * once, add .mmap, and point the cdev at the copy right after registration.
 * The VFS reads cdev->ops at every open (chrdev_open), every other method
 * still goes to the posix-clock core unchanged (including .open, which the
 * core compares against to recognise clock fds in clock_gettime() and
 * friends), and the mapping lives on the clock fd itself: one device node,
 * one permission model, and the open file pins the module and the device for
 * as long as the page is mapped. A separate misc device would need its own
 * lifetime rules and could outlive the clock. An open racing registration
 * gets the core's fops without mmap (-ENODEV) and can simply reopen.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "nc_internal.h"

static dev_t nc_devt;
static struct class *nc_class;
/*
 * The posix-clock core's fops plus .mmap, copied at the first registration
 * (module init) through the constant pointer; read-only after init.
 */
static struct file_operations nc_fops_copy __ro_after_init, *const nc_fops = &nc_fops_copy;
static DEFINE_MUTEX(nc_fops_lock);

/* ---- clock_* system calls on FD_TO_CLOCKID(fd) ---- */

static int nc_pc_adjtime(struct posix_clock *pc, struct __kernel_timex *tx)
{
	return nc_adjtime_user(nc_from_posix(pc), tx);
}

static int nc_pc_gettime(struct posix_clock *pc, struct timespec64 *ts)
{
	struct nk_time t;

	nc_read(nc_from_posix(pc), &t, NULL);
	ts->tv_sec = t.sec;
	ts->tv_nsec = t.nsec;
	return 0;
}

static int nc_pc_getres(struct posix_clock *pc, struct timespec64 *ts)
{
	ts->tv_sec = 0;
	ts->tv_nsec = 1;
	return 0;
}

static int nc_pc_settime(struct posix_clock *pc, const struct timespec64 *ts)
{
	if (!capable(CAP_SYS_TIME))
		return -EPERM;
	return nc_settime(nc_from_posix(pc), ts);
}

/* ---- ioctls ---- */

static long nc_do_ioctl(struct nanoclock *nc, unsigned int cmd,
			unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case NANOCLOCK_IOC_NTP_GETTIME: {
		struct nanoclock_ntptime u = {};
		struct nk_ntptime nt;

		nc_ntptime(nc, &nt);
		u.time.tv_sec = nt.time.sec;
		u.time.tv_nsec = nt.time.nsec;
		u.pcc_ns = nt.pcc_ns;
		u.maxerror = nt.maxerror;
		u.esterror = nt.esterror;
		u.tai = nt.tai;
		u.state = nt.state;
		u.status = nt.status;
		return copy_to_user(uarg, &u, sizeof(u)) ? -EFAULT : 0;
	}
	case NANOCLOCK_IOC_GET_INFO: {
		struct nanoclock_info u = {};

		u.index = nc->index;
		u.ptp_index = nc->ptp ? ptp_clock_index(nc->ptp) : -1;
		u.tick_hz = div64_u64(NSEC_PER_SEC, nc->period_ns);
		u.page_size = PAGE_SIZE;
		return copy_to_user(uarg, &u, sizeof(u)) ? -EFAULT : 0;
	}
	default:
		return -ENOTTY;
	}
}

/* The char-device hooks changed signature in 6.1.162: see Kbuild probe. */
#ifdef NC_HAVE_POSIX_CLOCK_CONTEXT
static long nc_pc_ioctl(struct posix_clock_context *pccontext,
			unsigned int cmd, unsigned long arg)
{
	return nc_do_ioctl(nc_from_posix(pccontext->clk), cmd, arg);
}
#else
static long nc_pc_ioctl(struct posix_clock *pc, unsigned int cmd,
			unsigned long arg)
{
	return nc_do_ioctl(nc_from_posix(pc), cmd, arg);
}
#endif

static const struct posix_clock_operations nc_clock_ops = {
	.owner		= THIS_MODULE,
	.clock_adjtime	= nc_pc_adjtime,
	.clock_gettime	= nc_pc_gettime,
	.clock_getres	= nc_pc_getres,
	.clock_settime	= nc_pc_settime,
	.ioctl		= nc_pc_ioctl,
};

/* ---- mmap ---- */

static int nc_mmap(struct file *fp, struct vm_area_struct *vma)
{
	struct inode *inode = file_inode(fp);
	struct posix_clock *pc;
	struct nanoclock *nc;

	if (!inode->i_cdev)
		return -ENODEV;
	pc = container_of(inode->i_cdev, struct posix_clock, cdev);
	nc = nc_from_posix(pc);
	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	/* 6.1: vm_flags is written directly (vm_flags_clear() came in 6.3) */
	vma->vm_flags &= ~VM_MAYWRITE;
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	return vm_insert_page(vma, vma->vm_start, nc->page_pg);
}

/* Swap the cdev's fops for the copy with .mmap (see the top of the file). */
static void nc_wrap_fops(struct nanoclock *nc)
{
	mutex_lock(&nc_fops_lock);
	if (!nc_fops->open) {
		*nc_fops = *nc->pclk.cdev.ops;
		if (!nc_fops->mmap)
			nc_fops->mmap = nc_mmap;
	}
	mutex_unlock(&nc_fops_lock);
	WRITE_ONCE(nc->pclk.cdev.ops, nc_fops);
}

/* ---- devices ---- */

static void nc_dev_release(struct device *dev)
{
	nc_clock_free(container_of(dev, struct nanoclock, dev));
}

int nc_chardev_register(struct nanoclock *nc)
{
	int err;

	device_initialize(&nc->dev);
	nc->dev.class = nc_class;
	nc->dev.devt = MKDEV(MAJOR(nc_devt), nc->index);
	nc->dev.groups = nc_attr_groups;
	nc->dev.release = nc_dev_release;
	dev_set_drvdata(&nc->dev, nc);
	err = dev_set_name(&nc->dev, NANOCLOCK_DEV_PREFIX "%d", nc->index);
	if (err)
		goto fail;
	nc->pclk.ops = nc_clock_ops;
	err = posix_clock_register(&nc->pclk, &nc->dev);
	if (err)
		goto fail;
	nc_wrap_fops(nc);
	return 0;
fail:
	put_device(&nc->dev);	/* frees @nc */
	return err;
}
EXPORT_SYMBOL_GPL(nc_chardev_register);

/*
 * Remove the device node and drop our reference. Open files hold their own
 * device reference (posix-clock core) and a module reference (cdev owner),
 * so this runs only once they are gone, at module exit.
 */
void nc_chardev_unregister(struct nanoclock *nc)
{
	posix_clock_unregister(&nc->pclk);	/* drops the last ref: frees */
}
EXPORT_SYMBOL_GPL(nc_chardev_unregister);

#ifdef NC_DEVNODE_CONST
static char *nc_devnode(const struct device *dev, umode_t *mode)
#else
static char *nc_devnode(struct device *dev, umode_t *mode)
#endif
{
	/* reads are unprivileged; changes check CAP_SYS_TIME themselves */
	if (mode)
		*mode = 0644;
	return NULL;
}

int nc_chardev_init(void)
{
	int err;

	err = alloc_chrdev_region(&nc_devt, 0, NC_MAX_INSTANCES,
				  NANOCLOCK_DEV_PREFIX);
	if (err)
		return err;
#ifdef NC_CLASS_CREATE_ONE_ARG
	nc_class = class_create(NANOCLOCK_DEV_PREFIX);
#else
	nc_class = class_create(THIS_MODULE, NANOCLOCK_DEV_PREFIX);
#endif
	if (IS_ERR(nc_class)) {
		unregister_chrdev_region(nc_devt, NC_MAX_INSTANCES);
		return PTR_ERR(nc_class);
	}
	nc_class->devnode = nc_devnode;
	return 0;
}

void nc_chardev_exit(void)
{
	class_destroy(nc_class);
	unregister_chrdev_region(nc_devt, NC_MAX_INSTANCES);
}
