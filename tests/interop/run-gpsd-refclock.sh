#!/usr/bin/env bash
# run-gpsd-refclock.sh NANOTIMED NANOTIMECTL WORKROOT SECCOMP: a real gpsd
# (Debian's 3.22, run by gpsfake from gpsd-clients) feeding nanotimed's
# [[refclock]] driver "shm" unit 0. Exit 77 (skip) without root, gpsd or
# gpsfake. About 12 s.
#
# gpsfake writes a generated NMEA log ($GPRMC + $GPGGA, one fix a second,
# starting at the current UTC second; gpsd stamps each fix as it reads it,
# a second or two later while gpsfake starts) to gpsd over TCP (-t). Why TCP and not
# gpsfake's default pty: gpsd's ntpshm_link_activate() (timehint.c)
# returns at once for a pty source ("don't talk to NTP when we're running
# inside the test harness"), so over a pty gpsd writes no SHM segment and no
# SOCK datagram at all (what an earlier attempt saw). Over TCP it attaches
# SHM units 0-7 at start (0 and 1 only as root) and puts each fix's time
# into the first free one, unit 0. The chrony SOCK socket
# (/run/chrony.<device basename>.sock, looked for once when the device is
# activated) is opened only for sources with a PPS (serial, USB, ACM, PPS
# devices) and written only from the PPS thread: no gpsfake source can make
# gpsd write it, so the sock driver's real-gpsd test needs hardware (its
# wire format is checked in test_daemon_e2e SockRefclockServesStratumOne).
#
# Everything runs in a private System V IPC namespace (unshare --ipc), so
# segment 0 is this test's own, whatever else runs on the host.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*" >&2
	for f in "$work"/*.log "$work"/*.json; do
		[ -f "$f" ] && { echo "---- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}

if [ "${1:-}" != --in-ipc-namespace ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (unshare --ipc, SHM units 0-1 are root's)"
	for tool in gpsd gpsfake unshare python3; do
		command -v "$tool" >/dev/null || skip "$tool not installed (packages gpsd gpsd-clients)"
	done
	exec unshare --ipc "$0" --in-ipc-namespace "$@"
fi
shift
nanotimed=$1 nanotimectl=$2 workroot=$3 seccomp=$4
mkdir -p "$workroot"
work=$(cd "$workroot" && pwd)/gpsd-refclock
rm -rf "$work"
mkdir -p "$work"
pids=()
gpsfake_pid=
cleanup() {
	# gpsfake's gpsd is its child: stopped first, by parent pid.
	[ -z "$gpsfake_pid" ] || pkill -TERM -P "$gpsfake_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT

cat >"$work/nanotimed.toml" <<CONF
[[refclock]]
driver = "shm"
unit = 0
refid = "GPS"
poll = 0

[clock]
adjust = false
drift_file = ""
leap_seconds_file = "$here/../daemon/data/leap-seconds.list"

[control]
socket = "$work/nanotimed.sock"

[log]
level = "debug"

[service]
user = ""
seccomp = "$seccomp"
CONF
"$nanotimed" --check-config -c "$work/nanotimed.toml" >"$work/check.log" 2>&1 ||
	fail "nanotimed rejects its configuration"
# nanotimed first: it creates segment 0 (mode 0600), gpsd attaches it.
"$nanotimed" -c "$work/nanotimed.toml" >"$work/nanotimed.log" 2>&1 &
pids+=($!)
nanotimed_pid=$!
for _ in $(seq 1 50); do [ -S "$work/nanotimed.sock" ] && break; sleep 0.1; done
[ -S "$work/nanotimed.sock" ] || fail "nanotimed did not start"

# The NMEA log: 60 fixes from the current second on (valid checksums).
python3 - "$work/gps.nmea" <<'PY'
import datetime, functools, sys
def sentence(body):
    return "$%s*%02X\r\n" % (body, functools.reduce(lambda c, ch: c ^ ord(ch), body, 0))
start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
with open(sys.argv[1], "w") as f:
    for i in range(60):
        t = start + datetime.timedelta(seconds=i)
        hms = t.strftime("%H%M%S") + ".00"
        f.write(sentence(f"GPRMC,{hms},A,4807.038,N,01131.000,E,000.0,000.0,{t:%d%m%y},,,A"))
        f.write(sentence(f"GPGGA,{hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
PY

# -t: TCP feed; -c 0.5: two sentences a second, one fix; -n: gpsd reads
# without waiting for a client; -1: the log once; -D 4: ntpshm_put logged.
gpsfake -t -n -1 -q -c 0.5 -D 4 "$work/gps.nmea" >"$work/gpsfake.log" 2>&1 &
gpsfake_pid=$!
pids+=($!)

ctl() { "$nanotimectl" -s "$work/nanotimed.sock" "$@"; }
deadline=$((SECONDS + 20))
ok=0
while [ "$SECONDS" -lt "$deadline" ]; do
	sleep 1
	kill -0 "$nanotimed_pid" 2>/dev/null || fail "nanotimed exited"
	ctl --json sources >"$work/sources.json" 2>/dev/null || continue
	if python3 - "$work/sources.json" <<-'PY'; then
		import json, sys
		s = json.load(open(sys.argv[1]))["sources"][0]
		sys.exit(0 if s["samples"] >= 4 and s["reach"] != 0 else 1)
	PY
		ok=1
		break
	fi
done
[ "$ok" = 1 ] || fail "no 4 samples from gpsd's SHM segment 0 within 20 s"
grep -q "ntpshm_put" "$work/gpsfake.log" || fail "gpsd logged no ntpshm_put"

# The refclock as nanotimectl shows it: named GPS, driver shm unit 0,
# reachable, its samples taken and none refused, and its offset the one
# gpsd wrote (the fix's time minus the system time it was read at, from
# gpsd's own ntpshm_put log lines) to within 50 ms: the right second, not
# a neighbour (whether the clock could sync to it is not the point).
python3 - "$work/sources.json" "$work/gpsfake.log" <<'PY' || fail "sources: unexpected refclock state"
import json, re, statistics, sys
s = json.load(open(sys.argv[1]))["sources"][0]
puts = [float(real) - float(clock) for real, clock in
        re.findall(r"ntpshm_put\([^)]*\)\s+([0-9.]+) @\s+([0-9.]+)", open(sys.argv[2]).read())]
want = statistics.median(puts)
print(f"gpsd refclock: {s['name']} ({s['kind']} {s['address']}) reach {s['reach']:o} "
      f"samples {s['samples']} rejected {s['rejected']} offset {s['offset_s']:+.6f} s "
      f"(gpsd wrote {want:+.6f} s, median of {len(puts)}) state {s['state']} "
      f"last_error '{s['last_error']}'")
good = (s["name"] == "GPS" and s["kind"] == "shm" and s["address"] == "unit 0"
        and s["rejected"] == 0 and s["stratum"] == 0 and abs(s["offset_s"] - want) < 0.05)
sys.exit(0 if good else 1)
PY
ctl sources >"$work/sources.txt" 2>&1 || fail "nanotimectl sources failed"
grep -q "GPS" "$work/sources.txt" || fail "nanotimectl sources does not show GPS"
grep -q "refclock GPS (shm unit 0)" "$work/sources.txt" ||
	fail "nanotimectl sources has no refclock line for GPS: $(cat "$work/sources.txt")"
echo "ok: gpsd 3.22 -> SHM unit 0 -> nanotimed refclock GPS"
