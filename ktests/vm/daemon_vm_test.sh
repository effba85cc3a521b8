#!/usr/bin/env bash
# daemon_vm_test.sh BUILD_DIR [stock|test] [SECONDS]: nanotimed disciplining
# the nanoclock from a local NTP server inside the VM, and keeping
# CLOCK_REALTIME on it (issue 6, "In the VM"). Runs on the host: boots the
# kernel flavour (default stock) with ktests/vm-run and runs itself inside
# (--in-vm). Binaries default to BUILD_DIR's; NANOTIMED, NANOTIMECTL,
# NC_DAEMON_HELPER and NANOCLOCK_KO override them (CTest passes its targets).
# NANOTIMED_SECCOMP (default enforce) is the daemon's [service] seccomp: a
# sanitized build needs log, the sanitizer runtimes make system calls of
# their own (CTest passes it). NANOTIME_DAEMON_VM_START_OFFSET (s, default
# 0.003) is how far ahead the nanoclock starts: above the step threshold
# (0.128 s, e.g. 0.5) nanotimed's first correction is a step.
#
# In the VM:
#   * nanoclock.ko is loaded;
#   * the reference: nc_daemon_helper "truth" remembers CLOCK_REALTIME at the
#     start and from then on feeds true time = that + the CLOCK_MONOTONIC_RAW
#     interval (what an undisturbed CLOCK_REALTIME would read) into an SHM
#     refclock; chronyd -x (never touches a clock) tracks it and serves it on
#     127.0.0.1:11123 (lib/chrony-shm-reference.sh, shared with the demo);
#   * the nanoclock is put 3 ms (NANOTIME_DAEMON_VM_START_OFFSET) ahead and
#     10 ppm fast (phc_ctl adj / freq on its PTP view);
#   * nanotimed (backend nanoclock, steer_realtime) syncs from chronyd
#     (minpoll = maxpoll = 3, the lowest the config allows) and serves NTP on
#     127.0.0.1:123 (ntpdig only asks port 123), for SECONDS (default 180);
#     nanotimed's own discipline removes both errors (frequency through
#     ADJ_FREQUENCY/ADJ_TICK, offset by slew), with the nanokernel PLL off;
#   * every 5 s nanotimectl and nc_daemon_helper cmp are sampled; then
#     TAP checks: source selected and reachable, synchronised at stratum 2,
#     the nanoclock's error against the served (true) time converged below
#     BOUND_OFFSET, nanotimed's measured source offset below BOUND_SOURCE,
#     STA_PLL, STA_FLL and STA_UNSYNC clear and the injected 10 ppm gone
#     from the frequency (nanotimectl kernel and sysfs),
#     CLOCK_REALTIME within BOUND_REALTIME of the nanoclock with steering
#     locked, ntpdig answered by nanotimed at stratum 2.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# Bounds (ns), from runs here (TCG, 2 vCPUs on a shared 2-core host):
# BOUND_OFFSET, the nanoclock against the time chronyd serves, read directly:
#   the kernel PLL follows every accepted NTP sample, and under TCG one
#   loopback exchange is off by up to ~1 ms (system jitter 0.8-2.5 ms; one
#   sample read -1370 us while the true offset was -400..-670 us), and the
#   clock filter may keep that sample as its pick for ~90 s. Three 180 s runs:
#   the 3 ms / 10 ppm start was within 1 ms after 10-30 s; the worst error
#   over the last 30 s was 15, 390 and 558 us, the worst after convergence
#   917 us. In the full suite (this VM beside three unlocked VM tests on
#   the same 2 cores) one run read 1748 us: at t=68 s the clock filter
#   picked an iburst sample from before the first correction (RFC 5905
#   uses any unused sample newer than the last one used, up to 8 polls old;
#   with poll 8 s and the kernel PLL at time constant 0 the correction it
#   measured had long been applied) and the PLL swung 1.4 ms the other way.
#   2.5 ms holds under that: an undisciplined clock would be 4.8 ms off by
#   the end (3 ms + 10 ppm x 180 s), and STA_PLL and the frequency are
#   checked separately. With KVM or hardware timestamps the same test would
#   hold far tighter. With nanotimed's own discipline (kernel PLL off), in
#   the full suite: within 2.5 ms from t=14 s, last 30 s worst 86.5 us.
# BOUND_SOURCE, nanotimed's own NTP offset of the source: the measurement
#   error (~1 ms) on top of the true error: BOUND_OFFSET + 1 ms.
# BOUND_REALTIME, CLOCK_REALTIME against the nanoclock: the PI servo runs
#   once a second on the best of 5 back-to-back reads; locked it stays
#   within ~1 us on a quiet host. Beside other VMs one sample read 68 us (a
#   descheduled vCPU between the reads). Since nanotimed runs its own
#   discipline it slews the nanoclock fast (up to 83333 ppm through the
#   tick); CLOCK_REALTIME takes each frequency change by a timer at the
#   nanoclock's next second, and under TCG that timer's lateness times the
#   slew rate shows: last-30-s worsts of 0.8, 5.9, 182.6 and 212.6 us in four
#   runs. 500 us holds that; a CLOCK_REALTIME left behind by a 3 ms slew
#   would read milliseconds.
BOUND_OFFSET=${BOUND_OFFSET:-2500000}
BOUND_REALTIME=${BOUND_REALTIME:-500000}
BOUND_SOURCE=${BOUND_SOURCE:-3500000}

if [ "${1:-}" != --in-vm ]; then
	build=$(cd "${1:?usage: daemon_vm_test.sh BUILD_DIR [stock|test] [SECONDS]}" && pwd)
	flavour=${2:-stock}
	secs=${3:-180}
	ko=${NANOCLOCK_KO:-$build/kbuild-$flavour/kmod/nanoclock.ko}
	nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
	nanotimectl=${NANOTIMECTL:-$build/daemon/nanotimectl/nanotimectl}
	helper=${NC_DAEMON_HELPER:-$build/ktests/vm/nc_daemon_helper}
	seccomp=${NANOTIMED_SECCOMP:-enforce}
	start_offset=${NANOTIME_DAEMON_VM_START_OFFSET:-0.003}
	for f in "$ko" "$nanotimed" "$nanotimectl" "$helper"; do
		[ -r "$f" ] || { echo "daemon_vm_test: $f not built" >&2; exit 2; }
	done
	# TAP and figures always; the whole console (daemon and chronyd logs) on failure.
	. "$here/lib/vm-tap-run.sh"
	vm_tap_run daemon_vm_test "$flavour" $((secs + 600)) \
		"$here/daemon_vm_test.sh" --in-vm "$ko" "$nanotimed" "$nanotimectl" "$helper" "$secs" "$seccomp" \
		"$start_offset"
	exit
fi

# ---- inside the VM ----
shift
ko=$1 nanotimed=$2 nanotimectl=$3 helper=$4 secs=$5 seccomp=$6 start_offset=$7
work=/tmp/nanotimed-vm
mkdir -p "$work"
. "$here/lib/tap.sh"
. "$here/lib/chrony-shm-reference.sh"
trap stop_pids EXIT
bail() {
	echo "not ok $((n + 1)) - $1"
	echo "1..$((n + 1))"
	for f in "$work"/*.log; do
		[ -e "$f" ] && { echo "# --- $f"; tail -n 40 "$f" | sed 's/^/# /'; }
	done
	exit 1
}

echo "# kernel $(uname -r), $(nproc) CPUs, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
insmod "$ko" || bail "insmod $ko"
[ -c /dev/nanoclock0 ] || bail "/dev/nanoclock0 missing"
ptp=$(nanoclock_ptp_device nanoclock0) || bail "no PTP view of nanoclock0"

# The reference: true time through an SHM refclock, served by chronyd -x.
chrony_shm_reference "$helper" "$work" "logdir $work" "log tracking refclocks"

# The nanoclock's errors: 3 ms (start_offset) ahead, 10 ppm fast.
nanoclock_start_errors "$ptp" "$start_offset" >"$work/phc_ctl.log" 2>&1 || bail "phc_ctl adj/freq"
"$helper" unsync /dev/nanoclock0 || bail "marking nanoclock0 unsynchronised"
echo "# nanoclock0 ($ptp) set $start_offset s ahead and 10 ppm fast"
"$helper" cmp /dev/nanoclock0 "$work/truth" | sed 's/^/# start: /'

nanotimed_reference_toml "$work" "$work/drift" >"$work/nanotimed.toml"
cat >>"$work/nanotimed.toml" <<CONF

[server.rate_limit]
interval = 0.5
burst = 16

[log]
level = "info"

[service]
user = ""
seccomp = "$seccomp"
CONF
"$nanotimed" --check-config -c "$work/nanotimed.toml" >"$work/check.log" 2>&1 ||
	bail "nanotimed --check-config: $(cat "$work/check.log")"
# Give chronyd a few refclock samples first.
sleep 4
"$nanotimed" -c "$work/nanotimed.toml" >"$work/nanotimed.log" 2>&1 &
nanotimed_pid=$!
pids+=($nanotimed_pid)
ctl() { "$nanotimectl" -s "$work/nanotimed.sock" "$@"; }

# Sample every 5 s: elapsed, source offset, nanoclock - true, realtime -
# nanoclock, steering state.
: >"$work/samples"
t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$secs" ]; do
	sleep 5
	kill -0 "$nanotimed_pid" 2>/dev/null || bail "nanotimed exited"
	ctl --json sources >"$work/sources.json" 2>/dev/null || continue
	ctl --json status >"$work/status.json" 2>/dev/null || continue
	c=$("$helper" cmp /dev/nanoclock0 "$work/truth") || continue
	python3 - "$work/sources.json" "$work/status.json" $((SECONDS - t0)) $c >>"$work/samples" <<-'PY'
		import json, sys
		src = json.load(open(sys.argv[1]))["sources"]
		st = json.load(open(sys.argv[2]))
		kv = dict(zip(sys.argv[4::2], sys.argv[5::2]))
		off = src[0]["offset_s"] if src else float("nan")
		print(sys.argv[3], f"{off:.9f}", int(kv["nanoclock_minus_true_ns"]),
		      -int(kv["nanoclock_minus_realtime_ns"]), st["realtime_steering"],
		      src[0]["state"] if src else "-")
	PY
done
awk '{ printf "# t=%3ds source offset %+9.1f us, nanoclock-true %+9.1f us, realtime-nanoclock %+8.1f us, steering %s, source %s\n", $1, $2 * 1e6, $3 / 1e3, $4 / 1e3, $5, $6 }' "$work/samples"

# When the clock was first corrected (slewed or stepped) and when the
# CLOCK_REALTIME steering locked, from nanotimed's log.
grep -aE 'synchronised to|clock stepped|CLOCK_REALTIME (stepped|steering)' "$work/nanotimed.log" |
	sed 's/^/# log: /'

ctl sources | sed 's/^/# /'
ctl tracking | sed 's/^/# /'
ctl kernel | sed 's/^/# /'
ctl status | sed 's/^/# /'
for w in sources tracking kernel status; do ctl --json "$w" >"$work/$w.json" || bail "nanotimectl --json $w"; done
c=$("$helper" cmp /dev/nanoclock0 "$work/truth") || bail "nc_daemon_helper cmp"
echo "# final: $c"

# Judge in one place; prints "ok"/"not ok" lines numbered from N+1.
python3 - "$work" "$BOUND_OFFSET" "$BOUND_REALTIME" "$BOUND_SOURCE" "$n" $c <<-'PY' >"$work/judge.tap"
	import json, sys
	work, bound_off, bound_rt, bound_src, n = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
	                                           int(sys.argv[4]), int(sys.argv[5]))
	kv = dict(zip(sys.argv[6::2], sys.argv[7::2]))
	j = lambda w: json.load(open(f"{work}/{w}.json"))
	src, tr, kern, st = j("sources")["sources"], j("tracking"), j("kernel"), j("status")
	samples = [l.split() for l in open(f"{work}/samples") if l.strip()]
	def check(cond, text):
	    global n
	    n += 1
	    print(("ok" if cond else "not ok") + f" {n} - {text}")
	s = src[0] if src else {}
	check(len(src) == 1 and s.get("state") == "selected" and s.get("reach", 0) > 0,
	      f"source {s.get('address', '?')} selected and reachable "
	      f"(state {s.get('state')}, reach {s.get('reach', 0):o}, stratum {s.get('stratum')})")
	check(st["synchronized"] and st["stratum"] == 2,
	      f"nanotimed synchronised, stratum {st['stratum']}, refid {st['reference_id']}")
	# Convergence, judged on the nanoclock's error against the reference
	# chronyd serves (true time, measured directly with clock reads): the
	# first sample from which it stays within bound_off.
	conv = None
	for i, row in enumerate(samples):
	    if all(abs(int(r[2])) < bound_off for r in samples[i:]):
	        conv = int(row[0])
	        break
	tail = samples[-6:]  # the last 30 s
	nt = int(kv["nanoclock_minus_true_ns"])
	worst_true = max(abs(int(r[2])) for r in tail) if tail else 1 << 62
	check(conv is not None and worst_true < bound_off and abs(nt) < bound_off,
	      f"nanoclock on the server's time (true time) within {bound_off / 1e3:.0f} us from "
	      f"t={conv if conv is not None else '-'} s on; last 30 s worst {worst_true / 1e3:.1f} us, "
	      f"final {nt / 1e3:+.1f} us")
	# nanotimed's own view: the filtered NTP offset of its source (see
	# BOUND_SOURCE).
	worst = max(abs(float(r[1])) for r in tail) * 1e9 if tail else float("inf")
	check(worst < bound_src,
	      f"nanotimed's measured offset to the server: last 30 s worst {worst / 1e3:.1f} us "
	      f"(< {bound_src / 1e3:.0f} us), final {float(samples[-1][1]) * 1e6 if samples else float('nan'):+.1f} us, "
	      f"system jitter {tr['jitter_s'] * 1e6:.0f} us")
	# nanotimed runs the loop itself: the nanokernel's PLL and FLL are off,
	# the clock is marked synchronised, and the 10 ppm injected at the start
	# is gone from the frequency (the oscillator itself is on nominal). The
	# reference chronyd serves from the steered CLOCK_REALTIME, which keeps
	# the estimate moving by a ppm or two under TCG (+0.2 and -1.7 ppm in two
	# full-suite runs): |f| < 5 ppm still tells the 10 ppm apart.
	flags = kern["status"]
	check(not {"STA_PLL", "STA_FLL", "STA_UNSYNC"} & set(flags) and abs(kern["frequency_ppm"]) < 5,
	      f"nanoclock kernel status [{','.join(flags)}] (no PLL, FLL or UNSYNC); frequency "
	      f"{kern['frequency_ppm']:+.3f} ppm (10 ppm injected at the start, |f| < 5 ppm)")
	sysfs = open("/sys/class/nanoclock/nanoclock0/status").read()
	line = next((l for l in sysfs.splitlines() if l.startswith("status:")), "")
	check(line and not any(w in line.split() for w in ("PLL", "FLL", "UNSYNC")),
	      f"sysfs agrees: {line.strip()}")
	rt = -int(kv["nanoclock_minus_realtime_ns"])
	worst_rt = max(abs(int(r[3])) for r in tail) if tail else 1 << 62
	check(st["realtime_steering"] == "locked" and abs(rt) < bound_rt and worst_rt < bound_rt,
	      f"CLOCK_REALTIME steering {st['realtime_steering']}: realtime - nanoclock final "
	      f"{rt / 1e3:+.1f} us, last 30 s worst {worst_rt / 1e3:.1f} us (< {bound_rt / 1e3:.0f} us), "
	      f"realtime - true {int(kv['realtime_minus_true_ns']) / 1e3:+.1f} us")
	PY
cat "$work/judge.tap"
n=$((n + $(grep -c '^ok\|^not ok' "$work/judge.tap")))
fail=$((fail + $(grep -c '^not ok' "$work/judge.tap")))

# nanotimed serving: ntpdig (system clock = CLOCK_REALTIME, steered to the
# nanoclock) asks 127.0.0.1:123 three times: all answered at stratum 2, and
# at least one offset within 2 ms or within its own error bar, whichever is
# wider (ntpdig stamps in Python: a slow send under TCG, seen once at 1.1 s,
# adds half of it to that one answer's offset; beside other VMs the best
# answer read -2002 +/- 3709 us while nanotimed was 0.1 ms from the truth).
: >"$work/ntpdig.out"
for _ in 1 2 3; do
	ntpdig -t 3 127.0.0.1 >>"$work/ntpdig.out" 2>>"$work/ntpdig.log"
done
sed 's/^/# ntpdig: /' "$work/ntpdig.out"
# Lines: "DATE TIME (+ZONE) OFFSET +/- ERROR HOST IP sSTRATUM LEAP" (the -j form
# carries no delay).
res=$(python3 - "$work/ntpdig.out" <<-'PY'
	import re, sys
	rs = [m.groups() for m in (re.search(r"([-+]\d+\.\d+) \+/- (\d+\.\d+) .* s(\d+) ", l)
	                           for l in open(sys.argv[1])) if m]
	ok = len(rs) == 3 and all(st == "2" for _, _, st in rs) and any(abs(float(o)) < max(2e-3, float(e)) for o, e, _ in rs)
	print(("1" if ok else "0") + f" ntpdig -> nanotimed 127.0.0.1:123: {len(rs)}/3 answers at stratum "
	      + ",".join(st for _, _, st in rs) + ", offsets "
	      + ", ".join(f"{float(o) * 1e6:+.0f} +/- {float(e) * 1e6:.0f}" for o, e, _ in rs)
	      + " us (one within max(2 ms, its error))")
	PY
)
check '[ "${res%% *}" = 1 ]' "${res#* }"
counters=$(ctl --json status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["server_received"], s["server_responded"])')
check '[ "${counters#* }" -ge 3 ]' "nanotimed server counters: received/responded ${counters/ //}"

check 'kill -0 $nanotimed_pid' "nanotimed still running"
if [ $fail -ne 0 ]; then
	for f in nanotimed.log chronyd.log truth.log; do
		echo "# --- $f"
		tail -n 40 "$work/$f" | sed 's/^/# /'
	done
	tail -n 5 "$work/refclocks.log" 2>/dev/null | sed 's/^/# refclocks: /'
fi
echo "1..$n"
[ $fail -eq 0 ]
