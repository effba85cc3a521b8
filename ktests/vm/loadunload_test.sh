#!/bin/sh
# loadunload_test.sh MODULE.ko [CYCLES]: load and unload CYCLES times (100)
# with readers active. While a reader holds the clock open rmmod must fail
# (EBUSY) and the module stay intact; readers that reopen in a loop must see
# either a working clock or ENOENT/ENXIO/ENODEV, never a crash. Prints TAP.
set -u
ko=$1 cycles=${2:-100}
bin=$(dirname "$0")
n=0 fail=0
check() { n=$((n+1)); if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=$((fail+1)); fi; }
ok_cycles=0 busy_ok=0
i=0
while [ $i -lt "$cycles" ]; do
	insmod "$ko" instances=2 tick_hz=100 || break
	# reader looping over open/read/mmap/close of both clocks
	"${NC_READER:-$bin/nc_reader}" 0 >/dev/null 2>&1 &
	r1=$!
	"${NC_READER:-$bin/nc_reader}" 1 >/dev/null 2>&1 &
	r2=$!
	# a netlink subscriber
	"${NC_READER:-$bin/nc_reader}" -n >/dev/null 2>&1 &
	r3=$!
	# a holder: keeps the fd and the mapping open
	"${NC_READER:-$bin/nc_reader}" -h 0 &
	h=$!
	# wait until the holder has the clock mapped (its page shows in maps)
	t=0
	until grep -q nanoclock0 /proc/$h/maps 2>/dev/null; do
		t=$((t+1)); [ $t -gt 500 ] && break; sleep 0.01
	done
	if ! rmmod nanoclock 2>/dev/null; then busy_ok=$((busy_ok+1)); fi
	kill $h; wait $h 2>/dev/null
	# unload while the looping readers and the subscriber run
	t=0
	while ! rmmod nanoclock 2>/dev/null; do
		t=$((t+1)); [ $t -gt 1000 ] && break; sleep 0.005
	done
	kill $r1 $r2 $r3 2>/dev/null; wait $r1 $r2 $r3 2>/dev/null
	[ -e /sys/module/nanoclock ] && break
	ok_cycles=$((ok_cycles+1))
	i=$((i+1))
done
check '[ $ok_cycles -eq $cycles ]' "$ok_cycles of $cycles load/unload cycles with readers"
check '[ $busy_ok -eq $cycles ]' "rmmod refused while a reader holds the clock ($busy_ok)"
[ -e /sys/module/nanoclock ] && rmmod nanoclock
echo "1..$n"
[ $fail -eq 0 ]
