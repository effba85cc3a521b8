#!/usr/bin/env bash
# daemon-stage.sh BUILD_DIR [SECONDS]: the main job's nanotimed stage, inside
# the VM after nanoclock.ko is loaded (called from demo-vm.sh; needs the
# targets nanotimed, nanotimectl and nc_daemon_helper of BUILD_DIR).
#
# A local chronyd (-x: it never touches a clock) serves a reference that is
# independent of CLOCK_REALTIME (nc_daemon_helper feeds it, through an SHM
# refclock, the time an undisturbed CLOCK_REALTIME would read); the nanoclock
# is put 3 ms ahead and 10 ppm fast; nanotimed disciplines it from chronyd,
# steers CLOCK_REALTIME onto it and serves NTP on 127.0.0.1:123. A nanotimectl
# table every 10 s for SECONDS (default 60), the convergence reached (when
# the nanoclock came within 1 ms and within 100 us of the reference for good,
# sampled every second; wanted: 100 us within 20 s), the final status, one
# ntpdig query, and a second chronyd as an NTS client (RFC 8915) of
# nanotimed's NTS-KE server on 127.0.0.1:4460 (a certificate made here for
# 127.0.0.1). The nanoclock should not be disciplined by anything else (unbind a
# PPS source first). Exits non-zero if nanotimed does not synchronise, does
# not answer, or the NTS client does not get cookies and select it.
set -u
build=$(cd "${1:?usage: daemon-stage.sh BUILD_DIR [SECONDS]}" && pwd)
secs=${2:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
nanotimed=$build/daemon/nanotimed/nanotimed
nanotimectl=$build/daemon/nanotimectl/nanotimectl
helper=$build/ktests/vm/nc_daemon_helper
work=/tmp/nanotimed-demo
mkdir -p "$work"
rc=0
# The reference server and the nanoclock's starting errors, as in the in-VM
# daemon test; stop_pids ends what they started.
. "$top/ktests/vm/lib/chrony-shm-reference.sh"
trap stop_pids EXIT
fail() {
	echo "  FAILED $1"
	for f in "$work/nanotimed.log" "$work/chronyd.log"; do
		[ -s "$f" ] && tail -n 15 "$f" | sed "s|^|  $(basename "$f"): |"
	done
	exit 1
}
for f in "$nanotimed" "$nanotimectl" "$helper"; do
	[ -x "$f" ] || fail "$f not built"
done
[ -c /dev/nanoclock0 ] || fail "/dev/nanoclock0 missing (insmod nanoclock.ko first)"
ptp=$(nanoclock_ptp_device nanoclock0) || fail "no PTP view of nanoclock0"

echo "[nanotimed] NTP: disciplining /dev/nanoclock0 from a local server, steering CLOCK_REALTIME, serving"
chrony_shm_reference "$helper" "$work"
echo "  server: chronyd -x on 127.0.0.1:$CHRONY_SHM_PORT, stratum 1 from an undisturbed-realtime reference"

# nanoclock0 = realtime + 3 ms, 10 ppm fast; its kernel PLL off (unsynchronised).
nanoclock_start_errors "$ptp" >/dev/null 2>&1 || fail "phc_ctl $ptp adj/freq"
"$helper" unsync /dev/nanoclock0 || fail "marking nanoclock0 unsynchronised"
"$helper" cmp /dev/nanoclock0 "$work/truth" | awk '
	$1 == "nanoclock_minus_realtime_ns" { printf "  nanoclock0 set 3 ms ahead and 10 ppm fast: nanoclock - realtime %+.1f us\n", $2 / 1e3 }'

# A throwaway certificate for NTS-KE (nothing secret is kept).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$work/nts.key" -out "$work/nts.crt" -subj "/CN=nanotime demo" \
	-addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || fail "openssl: no NTS certificate"
rm -f "$work/nts-keys"
nanotimed_reference_toml "$work" "" >"$work/nanotimed.toml"
cat >>"$work/nanotimed.toml" <<CONF

[nts_ke]
listen = ["127.0.0.1:4460"]
certificate = "$work/nts.crt"
private_key = "$work/nts.key"

[nts]
key_file = "$work/nts-keys"

[service]
user = ""

[log]
level = "debug"
CONF
echo "  nanotimed: backend nanoclock, source 127.0.0.1:$CHRONY_SHM_PORT (poll 8 s), steer_realtime, serving 127.0.0.1:123"
sleep 3 # chronyd's first refclock samples
"$nanotimed" -c "$work/nanotimed.toml" >"$work/nanotimed.log" 2>&1 &
nanotimed_pid=$!
pids+=($nanotimed_pid)
ctl() { "$nanotimectl" -s "$work/nanotimed.sock" "$@"; }

# The nanoclock against the reference once a second, for the convergence.
(
	start=$(date +%s.%N)
	while :; do
		"$helper" cmp /dev/nanoclock0 "$work/truth" 2>/dev/null | awk -v t="$(date +%s.%N)" -v s="$start" '
			$1 == "nanoclock_minus_true_ns" { printf "%.1f %s\n", t - s, $2 }'
		sleep 1
	done
) >"$work/convergence" &
pids+=($!)

t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$secs" ]; do
	sleep 10
	kill -0 "$nanotimed_pid" 2>/dev/null || fail "nanotimed exited"
	echo
	echo "  -- t=$((SECONDS - t0)) s: nanotimectl sources; nanoclock0 and CLOCK_REALTIME"
	ctl sources 2>&1 | sed 's/^/  /'
	ctl --json kernel 2>/dev/null | python3 -c '
import json, sys
k = json.load(sys.stdin)
print(f"  nanoclock0 kernel: {\" \".join(k[\"status\"])}, PLL offset {k[\"offset_s\"] * 1e6:+.1f} us, "
      f"frequency {k[\"frequency_ppm\"]:+.3f} ppm")' 2>/dev/null
	"$helper" cmp /dev/nanoclock0 "$work/truth" 2>/dev/null | awk '
		$1 == "nanoclock_minus_realtime_ns" { rt = -$2 }
		$1 == "nanoclock_minus_true_ns" { nt = $2 }
		END { printf "  nanoclock0 - reference %+.1f us, CLOCK_REALTIME - nanoclock0 %+.1f us\n", nt / 1e3, rt / 1e3 }'
done

echo
echo "  -- convergence: nanoclock0 - reference, sampled every second from nanotimed's start"
# From when on the error stays within a bound (the first sample after the
# last one outside it); "never" if the last sample is outside.
conv=$(awk '
	function mark(b, e, t) { if (e > b) since[b] = -1; else if (since[b] < 0) since[b] = t }
	BEGIN { since[1e6] = -1; since[1e5] = -1 }
	{ e = $2 < 0 ? -$2 : $2; mark(1e6, e, $1); mark(1e5, e, $1); last = $2; n++ }
	END {
		if (n == 0) { print "none"; exit }
		printf "%s %s %d %.1f\n", since[1e6] < 0 ? "never" : since[1e6], since[1e5] < 0 ? "never" : since[1e5], n, last / 1e3
	}' "$work/convergence")
read -r c1ms c100us nsamples last_us <<<"$conv"
echo "  within 1 ms from t = ${c1ms} s, within 100 us from t = ${c100us} s ($nsamples samples, last ${last_us} us)"
if [ "$c100us" != never ] && [ "$c100us" != none ] && awk -v t="$c100us" 'BEGIN { exit !(t <= 20) }'; then
	echo "  ok     within 100 us of the reference in ${c100us} s (wanted: 20 s)"
else
	# A figure short of its target, not a broken step: said plainly, and
	# the exit status is left to the steps that check function.
	echo "  MISSED not within 100 us of the reference for good within 20 s (from ${c100us} s)"
	echo "  nanotimed's clock updates (the last 15):"
	grep 'clock\]' "$work/nanotimed.log" | tail -n 15 | sed 's/^/  /'
fi

echo
echo "  -- final: nanotimectl tracking, kernel, status"
ctl tracking 2>&1 | sed 's/^/  /'
ctl kernel 2>&1 | sed 's/^/  /'
ctl status 2>&1 | sed 's/^/  /'
st=$(ctl --json status 2>/dev/null)
if echo "$st" | grep -q '"synchronized": *true' && echo "$st" | grep -q '"realtime_steering": *"locked"'; then
	echo "  ok     nanotimed synchronised the nanoclock; CLOCK_REALTIME steered onto it"
else
	echo "  FAILED nanotimed is not synchronised, or CLOCK_REALTIME steering is not locked"
	rc=1
fi

echo
echo "  -- ntpdig 127.0.0.1 (client on CLOCK_REALTIME, which follows the nanoclock)"
if out=$(ntpdig -t 3 127.0.0.1 2>&1); then
	echo "$out" | sed 's/^/  /'
	echo "  ok     nanotimed serves time"
else
	echo "$out" | sed 's/^/  /'
	echo "  FAILED ntpdig got no answer"
	rc=1
fi

echo
echo "  -- NTS: chronyd as an NTS client of nanotimed (NTS-KE on 127.0.0.1:4460, then NTP)"
mkdir -p "$work/nts-client" && chmod 700 "$work/nts-client"
cat >"$work/nts-client/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport 4460 iburst minpoll 0 maxpoll 0
ntstrustedcerts $work/nts.crt
ntsdumpdir $work/nts-client
pidfile $work/nts-client/chronyd.pid
bindcmdaddress $work/nts-client/chronyd.sock
cmdport 0
port 0
CONF
chronyd -u root -x -d -f "$work/nts-client/chrony.conf" >"$work/nts-client/chronyd.log" 2>&1 &
pids+=($!)
nts_chronyc() { chronyc -h "$work/nts-client/chronyd.sock" -n "$@"; }
nts_ok=0
for _ in $(seq 1 20); do
	sleep 1
	if nts_chronyc authdata 2>/dev/null | awk '$2 == "NTS" && $9 > 0 { found = 1 } END { exit !found }' &&
		nts_chronyc sources 2>/dev/null | grep -q '^\^\*'; then
		nts_ok=1
		break
	fi
done
nts_chronyc authdata 2>&1 | sed 's/^/  chronyc: /'
nts_chronyc sources 2>&1 | sed 's/^/  chronyc: /'
ctl serverstats 2>&1 | sed 's/^/  /'
if [ "$nts_ok" = 1 ]; then
	echo "  ok     chronyd got NTS cookies from nanotimed and selected it (authenticated NTP)"
else
	echo "  FAILED chronyd did not get NTS cookies from nanotimed, or did not select it"
	tail -n 15 "$work/nts-client/chronyd.log" | sed 's/^/  chronyd: /'
	rc=1
fi
exit $rc
