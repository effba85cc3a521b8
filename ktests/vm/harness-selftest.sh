#!/bin/sh
# Runs inside a vm-run VM: proves the plumbing the other VM tests rely on.
#   harness-selftest.sh EXPECTED_KERNEL_RELEASE EXPECTED_CPUS
set -u
fail() { echo "harness-selftest: FAIL: $*"; exit 1; }
[ "${NANOTIME_IN_VM:-}" = 1 ] || fail "NANOTIME_IN_VM not set"
[ "$(uname -r)" = "$1" ] || fail "kernel is $(uname -r), expected $1"
[ "$(nproc)" = "$2" ] || fail "$(nproc) CPUs, expected $2"
touch /usr/.nanotime-ro-probe 2>/dev/null && fail "host root is writable"
for d in /tmp /run /var/tmp /root /tmp/nanotime-xfer; do
	echo ok >"$d/.probe" || fail "$d is not writable"
done
[ -r /proc/self/stat ] || fail "no /proc"
[ -d /sys/class ] || fail "no /sys"
[ -c /dev/null ] || fail "no devtmpfs"
[ -x "$0" ] || fail "host files not visible"
echo "harness-selftest: PASS on $(uname -r) with $(nproc) CPUs"
