// SPDX-License-Identifier: GPL-2.0
/*
 * gpio.c - nanoclock-pps-gpio.ko: a PPS signal on a GPIO line.
 *
 * The line (chip label + offset, module parameters) is requested as an
 * input and its interrupt on the chosen edge is taken in hard-IRQ context
 * where the controller allows it (request_any_context_irq: a controller
 * behind a slow bus gets a threaded handler, and the stamp is as late as
 * that thread). The handler reads the PCC first and hands the edge to the
 * shared edge path (edge.c): hardpps of the bound clock, /dev/ppsN.
 *
 *   insmod nanoclock-pps-gpio.ko chip=<label> line=<offset> [edge=falling]
 *                                [clock=N]
 */
#include <linux/gpio.h>
#include <linux/gpio/consumer.h>
#include <linux/gpio/driver.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/timekeeping.h>

#include "nanoclock_pps.h"

static char *chip;
module_param(chip, charp, 0444);
MODULE_PARM_DESC(chip, "label of the GPIO chip (required), e.g. gpio-sim's bank label");

static uint line;
module_param(line, uint, 0444);
MODULE_PARM_DESC(line, "line offset on that chip (default 0)");

static char *edge = "rising";
module_param(edge, charp, 0444);
MODULE_PARM_DESC(edge, "edge that marks the second: rising (default) or falling");

static int clock;
module_param(clock, int, 0444);
MODULE_PARM_DESC(clock, "bind to /dev/nanoclockN at load (-1: unbound; default 0)");

static struct ncpps_source *gpio_src;
static int gpio_num = -1;	/* global GPIO number of the line */
static int gpio_irq;

static irqreturn_t gpio_pps_irq(int irq, void *data)
{
	u64 pcc = ktime_get_raw_fast_ns();	/* first: the edge's PCC */

	ncpps_edge(data, pcc, pcc);
	return IRQ_HANDLED;
}

static int gpio_match_label(struct gpio_chip *gc, void *label)
{
	return gc->label && !strcmp(gc->label, label);
}

static int __init gpio_pps_init(void)
{
	unsigned long trigger;
	struct gpio_chip *gc;
	struct gpio_desc *desc;
	char name[NCPPS_NAME_LEN];
	int err;

	if (!chip || !*chip) {
		pr_err("nanoclock-pps-gpio: chip=<label> is required\n");
		return -EINVAL;
	}
	if (!strcmp(edge, "rising")) {
		trigger = IRQF_TRIGGER_RISING;
	} else if (!strcmp(edge, "falling")) {
		trigger = IRQF_TRIGGER_FALLING;
	} else {
		pr_err("nanoclock-pps-gpio: edge=%s: rising or falling\n", edge);
		return -EINVAL;
	}
	gc = gpiochip_find(chip, gpio_match_label);
	if (!gc) {
		pr_err("nanoclock-pps-gpio: no GPIO chip labelled \"%s\"\n", chip);
		return -ENODEV;
	}
	if (line >= gc->ngpio) {
		pr_err("nanoclock-pps-gpio: %s has no line %u\n", chip, line);
		return -EINVAL;
	}
	/* the consumer request: takes the chip's module reference */
	err = gpio_request_one(gc->base + line, GPIOF_IN, "nanoclock-pps");
	if (err)
		return err;
	gpio_num = gc->base + line;
	desc = gpio_to_desc(gpio_num);
	gpio_irq = gpiod_to_irq(desc);
	if (gpio_irq < 0) {
		err = gpio_irq;
		goto free_gpio;
	}
	snprintf(name, sizeof(name), "gpio-%s-%u", chip, line);
	gpio_src = ncpps_source_register("gpio", name, NULL, NULL, THIS_MODULE,
					 clock);
	if (IS_ERR(gpio_src)) {
		err = PTR_ERR(gpio_src);
		goto free_gpio;
	}
	err = request_any_context_irq(gpio_irq, gpio_pps_irq, trigger,
				      "nanoclock-pps", gpio_src);
	if (err < 0)
		goto unregister;
	pr_info("nanoclock-pps-gpio: %s line %u (%s edge), irq %d\n", chip,
		line, edge, gpio_irq);
	return 0;
unregister:
	ncpps_source_unregister(gpio_src);
free_gpio:
	gpio_free(gpio_num);
	return err;
}

static void __exit gpio_pps_exit(void)
{
	free_irq(gpio_irq, gpio_src);	/* waits for a running handler */
	ncpps_source_unregister(gpio_src);
	gpio_free(gpio_num);
}

module_init(gpio_pps_init);
module_exit(gpio_pps_exit);

MODULE_DESCRIPTION("nanoclock PPS source: a GPIO line's interrupt");
MODULE_AUTHOR("nanotime");
MODULE_LICENSE("GPL");
