#!/bin/sh
# demo-vm.sh BUILD_DIR: the main job's steps inside the VM (stock kernel):
# load nanoclock.ko, run nanoclock-demo against /dev/nanoclock0, show the
# PTP view with linuxptp's phc_ctl, unload. Exits non-zero if a step fails.
set -u
build=$1
ko=$build/kbuild-stock/kmod/nanoclock.ko
rc=0
echo "== nanotime demo on $(uname -sr), $(nproc) CPU(s), $(uname -m)"
echo
echo "[0] insmod nanoclock.ko"
insmod "$ko" || { echo "  FAILED: insmod $ko"; exit 1; }
echo "  $(grep '^nanoclock ' /proc/modules | cut -d' ' -f1-3)"
ls -l /dev/nanoclock* /dev/ptp* 2>/dev/null | sed 's/^/  /'
"$build/tools/demo/nanoclock-demo" 0 || rc=1
ptp=$(grep -l '^nanoclock0$' /sys/class/ptp/ptp*/clock_name 2>/dev/null | head -n1)
if [ -n "$ptp" ]; then
	dev=/dev/$(basename "$(dirname "$ptp")")
	echo
	echo "[7] The same clock through its PTP view ($dev, linuxptp phc_ctl)"
	if phc_ctl "$dev" get cmp 2>&1 | sed 's/^/  /'; then
		echo "  ok     phc_ctl reads the clock"
	else
		echo "  FAILED phc_ctl"; rc=1
	fi
fi
echo
echo "[8] rmmod nanoclock"
if rmmod nanoclock; then echo "  ok     unloaded cleanly"; else echo "  FAILED rmmod"; rc=1; fi
exit $rc
