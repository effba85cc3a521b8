#!/bin/sh
# pps_test.sh KBUILD BINDIR api|converge SECONDS [short]: inside the VM,
# nanoclock.ko + nanoclock-pps.ko + nanoclock-pps-sim.ko (+20 ppm, 2 us
# jitter). "api": the netlink/sysfs contract, ppstest on the sim's /dev/ppsN,
# the bridge (nanoclock-pps-bridge.ko fed from the sim's /dev/ppsN), then a
# fresh load and a SECONDS-long convergence run; "converge": the
# convergence run once per PPS discipline (nanoclock.ko options=0, Mills'
# nanokernel loop, and options=0x40, the estimator), their "# result" lines
# side by side. Prints TAP; exits non-zero if anything failed.
set -u
kb=$1 bin=$2 mode=$3 secs=$4 short=${5:-}
rc=0
run() { echo "# --- $*"; "$@" || { echo "# FAILED: $*"; rc=1; }; }
ncopts=0
load() {
	insmod "$kb/kmod/nanoclock.ko" options=$ncopts &&
	insmod "$kb/pps/nanoclock-pps.ko" &&
	insmod "$kb/pps/nanoclock-pps-sim.ko" freq_ppb=20000 jitter_ns=2000 "$@"
}
unload() {
	rmmod nanoclock_pps_sim && rmmod nanoclock_pps && rmmod nanoclock
}
if [ "$mode" = api ]; then
	load || exit 1
	run "$bin/nc_pps_test" api
	# the per-clock PPS discipline switch (sysfs pps_discipline)
	pd=/sys/class/nanoclock/nanoclock0/pps_discipline
	check() { if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; rc=1; fi; }
	desc="pps_discipline reads nanokernel after options=0"
	check [ "$(cat $pd)" = nanokernel ]
	desc="pps_discipline takes estimator"
	check sh -c "echo estimator >$pd && [ \"\$(cat $pd)\" = estimator ]"
	desc="pps_discipline refuses an unknown name (EINVAL), keeps estimator"
	check sh -c "! echo bogus 2>/dev/null >$pd && [ \"\$(cat $pd)\" = estimator ]"
	desc="pps_discipline back to nanokernel"
	check sh -c "echo nanokernel >$pd && [ \"\$(cat $pd)\" = nanokernel ]"
	src=$(ls /sys/kernel/nanoclock_pps | head -n1)
	n=$(cat /sys/kernel/nanoclock_pps/$src/pps)
	out=$(timeout 5 ppstest /dev/pps$n 2>&1)
	echo "$out" | sed 's/^/# /'
	if echo "$out" | grep -q 'assert [0-9]*\.[0-9]*, sequence: [1-9]'; then
		echo "ok - ppstest /dev/pps$n sees assert events"
	else
		echo "not ok - ppstest /dev/pps$n sees assert events"; rc=1
	fi
	sed 's/^/# /' /sys/kernel/nanoclock_pps/$src/stats
	unload || { echo "not ok - unload"; rc=1; }
	# the bridge: the sim unbound plays "any other /dev/ppsN"
	load clock=-1 && insmod "$kb/pps/nanoclock-pps-bridge.ko" || exit 1
	run "$bin/nc_pps_test" bridge
	sed 's/^/# /' /sys/kernel/nanoclock_pps/bridge0/stats
	rmmod nanoclock_pps_bridge && unload || { echo "not ok - unload"; rc=1; }
fi
discs=nanokernel
[ "$mode" = converge ] && discs="nanokernel estimator"
results=
for disc in $discs; do
	ncopts=0
	[ $disc = estimator ] && ncopts=0x40
	load || exit 1
	got=$(cat /sys/class/nanoclock/nanoclock0/pps_discipline)
	if [ "$got" = $disc ]; then echo "ok - options=$ncopts: pps_discipline $got"
	else echo "not ok - options=$ncopts: pps_discipline $got, expected $disc"; rc=1; fi
	out=$(mktemp)
	run "$bin/nc_pps_test" converge "$secs" 20000 $short >"$out"
	sed "s/^# result /# result $disc: /" "$out"
	results="$results$(grep '^# result' "$out" | sed "s/^# result /# result $disc: /")
"
	rm -f "$out"
	sed 's/^/# /' /sys/class/nanoclock/nanoclock0/status
	unload || { echo "not ok - unload"; rc=1; }
done
[ "$mode" = converge ] && printf '# side by side:\n%s' "$results"
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
exit $rc
