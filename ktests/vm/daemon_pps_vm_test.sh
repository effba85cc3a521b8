#!/usr/bin/env bash
# daemon_pps_vm_test.sh BUILD_DIR [stock|test] [SECONDS]: nanotimed's kernel
# channel and PPS bridge in the VM (issues 5 and 6). Runs on the host: boots
# the kernel flavour (default stock) with ktests/vm-run and runs itself
# inside (--in-vm). Binaries default to BUILD_DIR's; NANOTIMED, NANOTIMECTL,
# NC_PPS_TEST and KBUILD (the kbuild tree with kmod/ and pps/) override them;
# NANOTIMED_SECCOMP sets service.seccomp (default enforce),
# NANOTIMED_IO_BACKEND the event loop (auto, io_uring, poll; default auto).
#
# In the VM:
#   * nanoclock.ko, nanoclock-pps.ko, nanoclock-pps-sim.ko UNBOUND (+20 ppm,
#     2 us jitter, its reference 300 us behind the clock) and
#     nanoclock-pps-bridge.ko unbound: the sim only produces a Linux
#     /dev/ppsN with CLOCK_REALTIME stamps, like pps-gpio or pps-ldisc would;
#   * nanotimed (backend nanoclock, no NTP sources, realtime steering off so
#     CLOCK_REALTIME stays the stamps' undisturbed timescale) with
#     [[pps]] source = "bridge0", device = the sim's /dev/ppsN: it binds
#     bridge0 to nanoclock0 with STA_PPSTIME|STA_PPSFREQ over netlink and
#     injects each edge it reads through RFC 2783;
#   * every 10 s: nc_pps_test refcmp (nanoclock0 - the sim's reference at
#     one PCC instant) and nanotimectl --json pps/kernel;
#   * a SIGHUP with frequency = false must clear STA_PPSFREQ through the
#     binding; a config without [[pps]] must release bridge0.
# TAP checks: binding made (clock 0, T F), edges injected and none refused,
# STA_PPSSIGNAL, the kernel EVENT channel seen (pps-gained), the error
# within BOUND_ERROR over the last third, the frequency within BOUND_FREQ of
# the truth (-20 ppm) at the end, reload effects.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# The kernel PPS discipline of the same scenario fed directly reaches
# |error| < 10 us in ~15 s and frequency within 0.1 ppm by ~4 min
# (vm.pps.converge). The bridge adds the REALTIME->PCC mapping (sub-us) and
# nothing else, so the same bounds hold; the run is shorter, so the
# frequency bound is looser.
BOUND_ERROR=${BOUND_ERROR:-10000}  # ns
BOUND_FREQ=${BOUND_FREQ:-500}      # ppb

if [ "${1:-}" != --in-vm ]; then
	build=$(cd "${1:?usage: daemon_pps_vm_test.sh BUILD_DIR [stock|test] [SECONDS]}" && pwd)
	flavour=${2:-stock}
	secs=${3:-180}
	kb=${KBUILD:-$build/kbuild-$flavour}
	nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
	nanotimectl=${NANOTIMECTL:-$build/daemon/nanotimectl/nanotimectl}
	pps_test=${NC_PPS_TEST:-$build/ktests/vm/nc_pps_test}
	seccomp=${NANOTIMED_SECCOMP:-enforce}
	iobackend=${NANOTIMED_IO_BACKEND:-auto}
	for f in "$kb/kmod/nanoclock.ko" "$kb/pps/nanoclock-pps.ko" "$kb/pps/nanoclock-pps-sim.ko" \
		"$kb/pps/nanoclock-pps-bridge.ko" "$nanotimed" "$nanotimectl" "$pps_test"; do
		[ -r "$f" ] || { echo "daemon_pps_vm_test: $f not built" >&2; exit 2; }
	done
	. "$here/lib/vm-tap-run.sh"
	vm_tap_run daemon_pps_vm_test "$flavour" $((secs + 400)) \
		"$here/daemon_pps_vm_test.sh" --in-vm "$kb" "$nanotimed" "$nanotimectl" "$pps_test" "$secs" \
		"$seccomp" "$iobackend"
	exit
fi

# ---- inside the VM ----
shift
kb=$1 nanotimed=$2 nanotimectl=$3 pps_test=$4 secs=$5 seccomp=$6 iobackend=$7
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
work=/tmp/nanotimed-pps-vm
mkdir -p "$work"
. "$here/lib/tap.sh"
daemon_pid=
cleanup() { [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
bail() {
	echo "not ok $((n + 1)) - $1"
	echo "1..$((n + 1))"
	[ -e "$work/nanotimed.log" ] && tail -n 40 "$work/nanotimed.log" | sed 's/^/# /'
	exit 1
}
# jq is not assumed: python3 reads nanotimectl's JSON.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "# kernel $(uname -r), $(nproc) CPUs, nanotimed I/O backend $iobackend"
insmod "$kb/kmod/nanoclock.ko" || bail "insmod nanoclock.ko"
insmod "$kb/pps/nanoclock-pps.ko" || bail "insmod nanoclock-pps.ko"
insmod "$kb/pps/nanoclock-pps-sim.ko" clock=-1 freq_ppb=20000 jitter_ns=2000 phase_ns=300000 ||
	bail "insmod nanoclock-pps-sim.ko"
insmod "$kb/pps/nanoclock-pps-bridge.ko" clock=-1 || bail "insmod nanoclock-pps-bridge.ko"
ppsdev=/dev/pps$(cat /sys/kernel/nanoclock_pps/sim0/pps) || bail "sim0 has no /dev/ppsN"
[ -c "$ppsdev" ] || bail "$ppsdev missing"
echo "# sim0 (+20 ppm, 2 us jitter, reference 300 us behind) is $ppsdev; bridge0 unbound"

write_config() { # $1: frequency = true|false, $2: with [[pps]] (1) or not (0)
	cat <<CONF
[clock]
backend = "nanoclock"
device = "/dev/nanoclock0"
steer_realtime = false
drift_file = "$work/drift"
leap_seconds_file = ""

[control]
socket = "$work/nanotimed.sock"

[io]
backend = "$iobackend"

[log]
level = "info"

[service]
user = ""
seccomp = "$seccomp"
CONF
	[ "$2" = 1 ] && cat <<CONF

[[pps]]
source = "bridge0"
device = "$ppsdev"
time = true
frequency = $1
CONF
}
write_config true 1 >"$work/nanotimed.toml"
"$nanotimed" --check-config -c "$work/nanotimed.toml" >"$work/check.log" 2>&1 ||
	bail "nanotimed --check-config: $(cat "$work/check.log")"
# With seccomp = "log" (the sanitized build) every call outside the
# allow-list leaves an audit record (type 1326) in the kernel log; the check
# at the end wants none while the daemon works. LeakSanitizer's exit-time
# scan makes calls of its own (pipe2, prctl), so it is off here (the host's
# e2e tests run it).
"$nanotimed" -c "$work/nanotimed.toml" >"$work/nanotimed.log" 2>&1 &
daemon_pid=$!
ctl() { "$nanotimectl" --socket "$work/nanotimed.sock" "$@"; }
for _ in $(seq 50); do ctl status >/dev/null 2>&1 && break; sleep 0.2; done
ctl status >/dev/null 2>&1 || bail "nanotimed did not start"

start=$(date +%s)
: >"$work/samples"
while :; do
	t=$(($(date +%s) - start))
	[ "$t" -ge "$secs" ] && break
	sleep 10
	t=$(($(date +%s) - start))
	line=$("$pps_test" refcmp) || bail "nc_pps_test refcmp"
	echo "$t $line" >>"$work/samples"
	echo "# t=$t s $line"
done
kill -0 "$daemon_pid" 2>/dev/null || bail "nanotimed died: $(tail -n 5 "$work/nanotimed.log")"
ctl pps | sed 's/^/# /'
ctl kernel | sed 's/^/# /'

ppsj=$(ctl --json pps)
src=$(echo "$ppsj" | json "[s for s in d['sources'] if s['name']=='bridge0'][0]")
echo "# bridge0: $src"
bound=$(echo "$ppsj" | json "[(s['clock'],s['time'],s['frequency'],s['configured'],s['binding_error']) for s in d['sources'] if s['name']=='bridge0'][0]")
check '[ "$bound" = "(0, True, True, True, '"''"')" ]' "bridge0 bound to nanoclock0 with time and frequency by nanotimed ($bound)"
# ... with CAP_SYS_TIME alone: the modules do not ask for CAP_NET_ADMIN, and
# the daemon does not keep it.
caps=$(grep -o 'with capabilities \[[^]]*\]' "$work/nanotimed.log" | head -n 1)
check '[ -n "$caps" ] && ! echo "$caps" | grep -q net_admin' "nanotimed runs $caps, no CAP_NET_ADMIN"
injected=$(echo "$ppsj" | json "d['bridges'][0]['injected']")
refused=$(echo "$ppsj" | json "d['bridges'][0]['refused']")
edges=$(echo "$ppsj" | json "d['bridges'][0]['edges']")
fed=$(echo "$ppsj" | json "[s['fed'] for s in d['sources'] if s['name']=='bridge0'][0]")
kedges=$(echo "$ppsj" | json "[s['edges'] for s in d['sources'] if s['name']=='bridge0'][0]")
check '[ "$injected" -ge $((secs - 15)) ] && [ "$refused" -eq 0 ]' \
	"$ppsdev edges read $edges, injected $injected, refused $refused (run ${secs} s)"
# Edges injected before the binding (the first fetch can beat it) are not fed.
check '[ "$kedges" -ge $((injected - 3)) ] && [ "$fed" -ge $((kedges - 2)) ]' \
	"bridge0: $kedges edges, $fed fed to hardpps (EDGE events keep nanotimectl current)"
kj=$(ctl --json kernel)
status=$(echo "$kj" | json "' '.join(d['status'])")
check 'case " $status " in *" STA_PPSSIGNAL "*) true;; *) false;; esac' "nanoclock0 status: $status"
events=$(echo "$kj" | json "' '.join(d['last_events'])")
check 'case "$events" in *pps-gained*) true;; *) false;; esac' "netlink events followed: $events"

# The last third: every sample within BOUND_ERROR; the frequency at the end.
from=$((secs * 2 / 3))
worst=$(awk -v from="$from" '$1 >= from { e = $3 < 0 ? -$3 : $3; if (e > m) m = e } END { print m + 0 }' "$work/samples")
check '[ "$worst" -le "$BOUND_ERROR" ]' "nanoclock0 - reference over the last third: worst ${worst} ns (bound $BOUND_ERROR)"
freq=$(tail -n 1 "$work/samples" | awk '{ print $7 }')
ferr=$((freq + 20000))
check '[ "${ferr#-}" -le "$BOUND_FREQ" ]' "frequency ${freq} ppb vs truth -20000 ppb: error ${ferr} ppb (bound $BOUND_FREQ)"
first=$(awk -v b="$BOUND_ERROR" '{ e = $3 < 0 ? -$3 : $3; if (e <= b && !f) { f = $1 } if (e > b) f = 0 } END { print f + 0 }' "$work/samples")
echo "# result: within ${BOUND_ERROR} ns from t=${first} s on; worst last third ${worst} ns; final frequency error ${ferr} ppb"

# Reload: frequency off through the binding, then no [[pps]] at all.
write_config false 1 >"$work/nanotimed.toml"
kill -HUP "$daemon_pid"
sleep 2
ppsfreq=$(cat /sys/kernel/nanoclock_pps/bridge0/ppsfreq)
ppstime=$(cat /sys/kernel/nanoclock_pps/bridge0/ppstime)
check '[ "$ppsfreq" = 0 ] && [ "$ppstime" = 1 ]' "SIGHUP with frequency = false: sysfs ppstime $ppstime ppsfreq $ppsfreq"
write_config true 0 >"$work/nanotimed.toml"
kill -HUP "$daemon_pid"
sleep 2
clock=$(cat /sys/kernel/nanoclock_pps/bridge0/clock)
check '[ "$clock" = -1 ]' "SIGHUP without [[pps]]: bridge0 released (clock $clock)"
check 'kill -0 "$daemon_pid"' "nanotimed still running"
denied=$(dmesg | grep -c 'type=1326.*comm="nanotimed"')
check '[ "$denied" -eq 0 ]' "no system call outside the seccomp allow-list ($seccomp mode: $denied audit records)"
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
grep -E 'PPS|bridg|netlink' "$work/nanotimed.log" | head -n 20 | sed 's/^/# log: /'
echo "1..$n"
[ "$fail" -eq 0 ]
