#!/bin/sh
# phc_test.sh: linuxptp's phc_ctl against the PTP view of /dev/nanoclock0.
# Usage: phc_test.sh (nanoclock.ko loaded). Prints TAP.
set -u
n=0 fail=0
check() { n=$((n+1)); if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=$((fail+1)); fi; }
ptp=$(for d in /sys/class/ptp/ptp*; do [ "$(cat $d/clock_name)" = nanoclock0 ] && basename $d; done | head -n1)
check '[ -n "$ptp" ] && [ -c /dev/$ptp ]' "PTP view of nanoclock0 is /dev/${ptp:-?}"
dev=/dev/$ptp
out=$(phc_ctl $dev get 2>&1); echo "# $out"
check 'echo "$out" | grep -q "clock time is"' "phc_ctl get"
out=$(phc_ctl $dev set 1500000000.5 get 2>&1); echo "# $out"
sec=$(echo "$out" | sed -n 's/.*clock time is \([0-9]*\)\..*/\1/p' | tail -n1)
check '[ "${sec:-0}" -ge 1500000000 ] && [ "${sec:-0}" -le 1500000002 ]' "phc_ctl set 1500000000.5 then get ($sec)"
nsec=$(cat /sys/class/nanoclock/nanoclock0/time | cut -d. -f1)
check '[ "${nsec:-0}" -ge 1500000000 ] && [ "${nsec:-0}" -le 1500000003 ]' "nanoclock0 agrees ($nsec)"
out=$(phc_ctl $dev adj 100 get 2>&1); echo "# $out"
sec=$(echo "$out" | sed -n 's/.*clock time is \([0-9]*\)\..*/\1/p' | tail -n1)
check '[ "${sec:-0}" -ge 1500000100 ] && [ "${sec:-0}" -le 1500000103 ]' "phc_ctl adj 100 ($sec)"
out=$(phc_ctl $dev freq 250000 2>&1); echo "# $out"
f=$(cat /sys/class/nanoclock/nanoclock0/freq)
# 250000 ppb = 250 ppm = 250 << 16 scaled ppm
check '[ "$f" -ge 16383000 ] && [ "$f" -le 16385000 ]' "phc_ctl freq 250000 ppb -> freq $f (250 ppm << 16)"
out=$(phc_ctl $dev freq 0 2>&1)
check '[ "$(cat /sys/class/nanoclock/nanoclock0/freq)" = 0 ]' "phc_ctl freq 0"
out=$(phc_ctl $dev freq 900000 2>&1); echo "# $out"
check '[ "$(cat /sys/class/nanoclock/nanoclock0/freq)" = 0 ]' "phc_ctl freq 900000 ppb refused (> max_adj)"
out=$(phc_ctl $dev cmp 2>&1); echo "# $out"
check 'echo "$out" | grep -q "offset from CLOCK_REALTIME"' "phc_ctl cmp"
echo "1..$n"
[ $fail -eq 0 ]
