#!/bin/sh
# demo-vm.sh BUILD_DIR: the main job's steps inside the VM (stock kernel):
# load nanoclock.ko, run nanoclock-demo against /dev/nanoclock0, show the
# PTP view with linuxptp's phc_ctl, let nanotimed discipline the clock over
# NTP from a local server, then a simulated PPS source, unload. Exits non-zero if a step fails.
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
	if out=$(phc_ctl "$dev" get cmp 2>&1); then
		echo "$out" | grep -v '^[[:space:]]*$' | sed 's/^/  /'
		echo "  ok     phc_ctl reads the clock"
	else
		echo "$out" | sed 's/^/  /'
		echo "  FAILED phc_ctl"; rc=1
	fi
fi

# [8] nanotimed disciplining the clock over NTP from a local server, steering
# CLOCK_REALTIME onto it and serving time (tools/demo/daemon-stage.sh).
echo
echo "[8] NTP: nanotimed disciplines nanoclock0 from a local server and serves time"
{
	"$(dirname "$0")/daemon-stage.sh" "$build" "${NANOTIME_DEMO_NTP_SECONDS:-60}" 2>&1
	echo $? >/tmp/daemon-stage.rc
} | sed 's/^\[nanotimed\] /  /'
[ "$(cat /tmp/daemon-stage.rc)" = 0 ] || rc=1

# [9] A simulated PPS source disciplining the clock: the oscillator (the PCC)
# runs 20 ppm fast against the reference and the edges carry 2 us of
# Gaussian jitter; the nanokernel's PPS loop must find both.
echo
echo "[9] PPS discipline: nanoclock-pps-sim.ko, PCC +20 ppm, 2 us jitter, STA_PLL|STA_PPSFREQ|STA_PPSTIME"
if insmod "$build/kbuild-stock/pps/nanoclock-pps.ko" &&
	insmod "$build/kbuild-stock/pps/nanoclock-pps-sim.ko" freq_ppb=20000 jitter_ns=2000; then
	src=$(ls /sys/kernel/nanoclock_pps | head -n1)
	echo "  source $src -> /dev/pps$(cat /sys/kernel/nanoclock_pps/$src/pps), bound to nanoclock$(cat /sys/kernel/nanoclock_pps/$src/clock)"
	echo "  every 10 s: clock - reference (ns), frequency error against the truth (ppb)"
	# nc_pps_test prints one sample a second; show every tenth and the verdicts
	"$build/ktests/vm/nc_pps_test" converge "${NANOTIME_DEMO_PPS_SECONDS:-120}" 20000 short |
		awk '/^# sample t_s/ { printf "  %6s %12s %12s %8s\n", "t/s", "error/ns", "freq err/ppb", "status"; next }
		     /^# sample/ { if ($3 % 10 == 0) printf "  %6d %12d %12.1f %8s\n", $3, $4, $5, $6; next }
		     /^# result/ { sub(/^# result /, ""); print "  " $0; next }
		     /^ok / { sub(/^ok [0-9]+ - /, ""); print "  ok     " $0; next }
		     /^not ok / { sub(/^not ok [0-9]+ - /, ""); print "  FAILED " $0; bad = 1; next }
		     END { exit bad }' || rc=1
	rmmod nanoclock_pps_sim && rmmod nanoclock_pps || { echo "  FAILED unloading the PPS modules"; rc=1; }
else
	echo "  FAILED loading the PPS modules"; rc=1
fi

echo
echo "[10] rmmod nanoclock"
if rmmod nanoclock; then echo "  ok     unloaded cleanly"; else echo "  FAILED rmmod"; rc=1; fi
exit $rc
