#!/bin/sh
# run-all.sh MODULE.ko BINDIR [functional|loadunload] [CYCLES]: inside the VM,
# the nanoclock integration tests; exits non-zero if any fails. TAP on
# stdout. "functional" (default): clock, netlink, PTP (phc_ctl, phc2sys,
# chrony), monotonicity and, when built, the read benchmark. "loadunload":
# CYCLES (100) load/unload cycles with readers, a holder, a subscriber and a
# netlink writer keeping events flowing (nc_loadunload).
set -u
ko=$1 bin=$2 part=${3:-functional} cycles=${4:-100}
here=$(dirname "$0")
rc=0
run() { echo "# --- $*"; "$@" || { echo "# FAILED: $*"; rc=1; }; }
case "$part" in
functional)
	insmod "$ko" || exit 1
	run "$bin/nc_clock_test"
	run "$bin/nc_netlink_test"
	# nanotimed's refclock phc (phc_test.sh) from the same build tree
	export NANOTIMED=${NANOTIMED:-$bin/../../daemon/nanotimed/nanotimed}
	export NANOTIMECTL=${NANOTIMECTL:-$bin/../../daemon/nanotimectl/nanotimectl}
	run "$here/phc_test.sh"
	run "$bin/nc_monotonic_test" 10
	if [ -x "$bin/nc_read_bench" ]; then
		run "$bin/nc_read_bench" --benchmark_min_time=0.2
	fi
	rmmod nanoclock || rc=1
	;;
loadunload)
	run "$bin/nc_loadunload" "$ko" "$cycles"
	;;
*)
	echo "run-all.sh: unknown part '$part'" >&2
	exit 2
	;;
esac
# kmemleak (test kernel)
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
exit $rc
