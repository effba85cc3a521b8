#!/bin/sh
# run-all.sh MODULE.ko BINDIR [CYCLES]: inside the VM, every nanoclock
# integration test in order; exits non-zero if any fails. TAP on stdout.
set -u
ko=$1 bin=$2 cycles=${3:-100}
here=$(dirname "$0")
rc=0
run() { echo "# --- $*"; "$@" || { echo "# FAILED: $*"; rc=1; }; }
insmod "$ko" || exit 1
run "$bin/nc_clock_test"
run "$bin/nc_netlink_test"
run "$here/phc_test.sh"
run "$bin/nc_monotonic_test" 10
[ -x "$bin/nc_read_bench" ] && run "$bin/nc_read_bench" --benchmark_min_time=0.2
rmmod nanoclock || rc=1
NC_READER="$bin/nc_reader" run "$here/loadunload_test.sh" "$ko" "$cycles"
# kmemleak (test kernel)
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
exit $rc
