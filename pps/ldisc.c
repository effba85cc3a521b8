// SPDX-License-Identifier: GPL-2.0
/*
 * ldisc.c - nanoclock-pps-ldisc.ko: PPS on a serial port's DCD line.
 *
 * A tty line discipline (number @ldisc, default N_DEVELOPMENT = 29) that
 * behaves as N_TTY for data (GPS NMEA sentences still read normally) and
 * timestamps DCD changes: the UART's modem-status interrupt calls
 * dcd_change() with the port lock held; the PCC is read first and an
 * asserted DCD is handed to the shared edge path (edge.c), like the GPIO
 * source. Each attached tty is one source named after it ("ttyS1").
 *
 *   insmod nanoclock-pps-ldisc.ko [ldisc=29] [clock=0]
 *   ldattach 29 /dev/ttyS1          (keep it running: it holds the tty)
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/tty_ldisc.h>

#include "ldisc.h"

static int ldisc = N_DEVELOPMENT;
module_param(ldisc, int, 0444);
MODULE_PARM_DESC(ldisc, "line discipline number to register (default 29, N_DEVELOPMENT)");

static int clock;
module_param(clock, int, 0444);
MODULE_PARM_DESC(clock, "bind each attached port to /dev/nanoclockN (-1: unbound; default 0)");

/*
 * N_TTY keeps its own data in tty->disc_data, so attached ttys are found
 * in a short list: RCU for dcd_change (hard IRQ), a mutex for writers.
 */
struct ldisc_port {
	struct tty_struct *tty;
	struct ncpps_source *src;
	struct list_head node;
};

static LIST_HEAD(ldisc_ports);
static DEFINE_MUTEX(ldisc_mutex);	/* writers of ldisc_ports */

static struct tty_ldisc_ops ldisc_ops;
static int (*n_tty_open)(struct tty_struct *tty);
static void (*n_tty_close)(struct tty_struct *tty);

static struct ldisc_port *ldisc_find(struct tty_struct *tty)
{
	struct ldisc_port *p;

	list_for_each_entry_rcu(p, &ldisc_ports, node,
				lockdep_is_held(&ldisc_mutex))
		if (p->tty == tty)
			return p;
	return NULL;
}

/* DCD changed on @tty; the UART's IRQ path, port lock held. */
static void ldisc_dcd_change(struct tty_struct *tty, bool active)
{
	u64 pcc = ktime_get_raw_fast_ns();	/* first: the edge's PCC */
	struct ldisc_port *p;

	if (!active)
		return;		/* the asserted edge marks the second */
	rcu_read_lock();
	p = ldisc_find(tty);
	if (p)
		ncpps_edge(p->src, pcc, pcc);
	rcu_read_unlock();
}

/* Make @tty a PPS source (the ldisc's open, before N_TTY's own). */
int ncpps_ldisc_attach(struct tty_struct *tty)
{
	struct ldisc_port *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->tty = tty;
	p->src = ncpps_source_register("serial", tty_name(tty), NULL, NULL,
				       THIS_MODULE, clock);
	if (IS_ERR(p->src)) {
		int err = PTR_ERR(p->src);

		kfree(p);
		return err;
	}
	mutex_lock(&ldisc_mutex);
	list_add_rcu(&p->node, &ldisc_ports);
	mutex_unlock(&ldisc_mutex);
	return 0;
}
EXPORT_SYMBOL_GPL(ncpps_ldisc_attach);

void ncpps_ldisc_detach(struct tty_struct *tty)
{
	struct ldisc_port *p;

	mutex_lock(&ldisc_mutex);
	p = ldisc_find(tty);
	if (p)
		list_del_rcu(&p->node);
	mutex_unlock(&ldisc_mutex);
	if (!p)
		return;
	synchronize_rcu();	/* no dcd_change is using it any more */
	ncpps_source_unregister(p->src);
	kfree(p);
}
EXPORT_SYMBOL_GPL(ncpps_ldisc_detach);

/* The source of an attached @tty, or NULL (for tests). */
struct ncpps_source *ncpps_ldisc_source(struct tty_struct *tty)
{
	struct ncpps_source *src = NULL;
	struct ldisc_port *p;

	mutex_lock(&ldisc_mutex);
	p = ldisc_find(tty);
	if (p)
		src = p->src;
	mutex_unlock(&ldisc_mutex);
	return src;
}
EXPORT_SYMBOL_GPL(ncpps_ldisc_source);

/* The registered operations: tests call ->dcd_change as the UART does. */
const struct tty_ldisc_ops *ncpps_ldisc_get_ops(void)
{
	return &ldisc_ops;
}
EXPORT_SYMBOL_GPL(ncpps_ldisc_get_ops);

static int ldisc_open(struct tty_struct *tty)
{
	int err = ncpps_ldisc_attach(tty);

	if (err)
		return err;
	err = n_tty_open(tty);
	if (err)
		ncpps_ldisc_detach(tty);
	return err;
}

static void ldisc_close(struct tty_struct *tty)
{
	n_tty_close(tty);
	ncpps_ldisc_detach(tty);
}

static int __init ldisc_init(void)
{
	int err;

	if (ldisc < 0 || ldisc >= NR_LDISCS) {
		pr_err("nanoclock-pps-ldisc: ldisc=%d out of 0..%d\n", ldisc,
		       NR_LDISCS - 1);
		return -EINVAL;
	}
	n_tty_inherit_ops(&ldisc_ops);
	n_tty_open = ldisc_ops.open;
	n_tty_close = ldisc_ops.close;
	ldisc_ops.owner = THIS_MODULE;
	ldisc_ops.num = ldisc;
	ldisc_ops.name = "nanoclock_pps";
	ldisc_ops.open = ldisc_open;
	ldisc_ops.close = ldisc_close;
	ldisc_ops.dcd_change = ldisc_dcd_change;
	err = tty_register_ldisc(&ldisc_ops);
	if (err)
		pr_err("nanoclock-pps-ldisc: ldisc %d: %d\n", ldisc, err);
	else
		pr_info("nanoclock-pps-ldisc: line discipline %d\n", ldisc);
	return err;
}

static void __exit ldisc_exit(void)
{
	/* attached ttys hold a module reference: none are left */
	tty_unregister_ldisc(&ldisc_ops);
}

module_init(ldisc_init);
module_exit(ldisc_exit);

MODULE_DESCRIPTION("nanoclock PPS source: serial DCD line discipline");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
