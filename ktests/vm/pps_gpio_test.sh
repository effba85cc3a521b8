#!/bin/sh
# pps_gpio_test.sh KBUILD BINDIR: inside the test kernel's VM, a gpio-sim
# chip (configfs) drives nanoclock-pps-gpio.ko from userspace: edges reach
# hardpps, ppstest reads the source's /dev/ppsN, a spike is rejected and
# counted, and the watchdog clears STA_PPSSIGNAL once the signal stops.
# nanoclock.ko is loaded with options=2 (Linux's 10 s PPS watchdog), then
# again with options=0x42 (the same with the estimator PPS discipline). TAP.
set -u
kb=$1 bin=$2
rc=0
cfg=/sys/kernel/config
mountpoint -q $cfg || mount -t configfs none $cfg || exit 1
g=$cfg/gpio-sim/ncpps
mkdir $g && mkdir $g/bank0 || exit 1
echo 4 >$g/bank0/num_lines
echo ncpps-sim >$g/bank0/label
echo 1 >$g/live || exit 1
pullfile=/sys/devices/platform/$(cat $g/dev_name)/$(cat $g/bank0/chip_name)/sim_gpio0/pull
echo "# gpio-sim line: $pullfile"
# once per PPS discipline: Mills' nanokernel loop, then the estimator
for opts in 2 0x42; do
	echo "# nanoclock.ko options=$opts"
	insmod "$kb/kmod/nanoclock.ko" options=$opts &&
	insmod "$kb/pps/nanoclock-pps.ko" &&
	insmod "$kb/pps/nanoclock-pps-gpio.ko" chip=ncpps-sim line=0 || exit 1
	echo "# pps_discipline: $(cat /sys/class/nanoclock/nanoclock0/pps_discipline)"
	src=$(ls /sys/kernel/nanoclock_pps | head -n1)
	n=$(cat /sys/kernel/nanoclock_pps/$src/pps)
	timeout 6 ppstest /dev/pps$n >/tmp/ppstest.out 2>&1 &
	"$bin/nc_pps_test" gpio "$pullfile" || rc=1
	wait
	sed 's/^/# /' /tmp/ppstest.out
	if grep -q 'assert [0-9]*\.[0-9]*, sequence: [1-9]' /tmp/ppstest.out; then
		echo "ok - ppstest /dev/pps$n sees the GPIO's assert events"
	else
		echo "not ok - ppstest /dev/pps$n sees the GPIO's assert events"; rc=1
	fi
	sed 's/^/# /' /sys/kernel/nanoclock_pps/$src/stats
	rmmod nanoclock_pps_gpio && rmmod nanoclock_pps && rmmod nanoclock || { echo "not ok - unload"; rc=1; }
done
echo 0 >$g/live && rmdir $g/bank0 $g
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
exit $rc
