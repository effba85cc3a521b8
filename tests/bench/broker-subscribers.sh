#!/usr/bin/env bash
# broker-subscribers.sh - what one broker core ingests: a Release nanotimed
# as [broker], pinned to one CPU, with N members (brokerload) subscribed
# over mutual TLS and sending state messages, and an operator's API calls
# measured meanwhile. README.md here ("Broker subscriptions") explains the
# figures.
#
#   tests/bench/broker-subscribers.sh [--build DIR] [--members N] [--rate R]
#       [--window S] [--steps "R1 R2 ..."] [--step-duration S] [--cpu B:L]
#       [--out DIR] [--no-max-rate] [--quick] [--smoke]
#
# 1. Ramp: brokerload opens N subscriptions (default 10000; certificates
#    issued through the API on the first run and kept in OUT/certs, so keep
#    --out between runs to skip that) from 500 loopback source addresses
#    (the listener's per-address connection rate stays as configured).
# 2. Hold: every member sends a state every 1/R s (R default 0.1, spread
#    evenly) for --window s (60). Over the window: state updates/s stored by
#    the broker (the sum of its members' state_seq, GET /v1/members, at both
#    ends: counted at the broker), broker CPU % of its core and CPU seconds
#    per update (/proc/PID/stat utime+stime), VmRSS / VmHWM, and the p50/p99
#    latency of GET /v1/members and GET /v1/members/{name} asked by a
#    separate client (one request at a time) with one SSE client following
#    GET /v1/events.
# 3. Maximum rate: the same members step through --steps rates per member
#    (default "0.5 1 2 4 8"), --step-duration s (30) each; per step
#    ingested updates/s, CPU % and the backlog (states sent by brokerload
#    and not yet stored by the broker) at the start and end of the
#    measurement. The sustainable rate is the last step before CPU >= 95 %
#    or a growing backlog.
#
# The broker runs on CPU B, brokerload and the probe on CPU L (--cpu 1:0).
# Other users of the machine distort the rates but less the CPU seconds
# per update; the load average is printed with every figure.
# Results: a table on stdout, broker-subscribers.json in --out.
#
# --smoke (the ctest bench_smoke_broker, any build, ~10 s): 50 members, 2
# states/s each for 5 s, no maximum rate; passes when every member
# subscribed and the broker stored exactly the states brokerload sent (the
# sum of the members' state_seq equals brokerload's count).
# Exit status: 0 when measured, 1 on a failure, 77 when it cannot run here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/rel"
members=10000
rate=0.1
window=60
steps="0.5 1 2 4 8"
step_duration=30
settle=10
cpus="1:0"
out=""
max_rate=1
smoke=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--members) members=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--settle) settle=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	--step-duration) step_duration=$2; shift 2 ;;
	--cpu) cpus=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-max-rate) max_rate=0; shift ;;
	--quick) members=1000; window=20; steps="1 4"; step_duration=15; settle=4; shift ;;
	--smoke) smoke=1; members=50; rate=2; window=3; settle=1; max_rate=0; shift ;;
	-h | --help) sed -n '2,38p' "$0"; exit 0 ;;
	*) echo "broker-subscribers: unknown option $1" >&2; exit 2 ;;
	esac
done

skip() { echo "broker-subscribers: SKIP: $*"; exit 77; }
command -v openssl >/dev/null || skip "no openssl command"
command -v python3 >/dev/null || skip "no python3"
command -v taskset >/dev/null || skip "no taskset"
nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
brokerload=${BROKERLOAD:-$build/tools/ntpload/brokerload}
for b in "$nanotimed" "$brokerload"; do
	[ -x "$b" ] || { echo "broker-subscribers: $b not built (cmake --build $build --target nanotimed brokerload)" >&2; exit 1; }
done
# The broker holds a descriptor per member, brokerload one per member too.
ulimit -n $((members + 1024)) 2>/dev/null || skip "cannot raise RLIMIT_NOFILE to $((members + 1024))"
broker_cpu=${cpus%%:*}
load_cpu=${cpus##*:}
step_settle=$((step_duration / 3))

scratch=""
if [ -z "$out" ]; then
	out=$(mktemp -d "$build/broker-subscribers.XXXXXX")
	[ "$smoke" = 0 ] || scratch=$out # removed at exit
fi
mkdir -p "$out/certs"
out=$(cd "$out" && pwd)
work="$out/run"
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "$scratch" ] || rm -rf "$scratch"
}
trap cleanup EXIT

# The broker's CA and server certificate, made once per --out (the member
# certificates in OUT/certs chain to this CA and stay valid with it).
if [ ! -f "$out/ca.key" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 \
		-subj "/CN=bench broker CA" -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=broker" \
		-keyout "$out/server.key" -out "$work/server.csr" 2>/dev/null
	openssl x509 -req -in "$work/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -days 3 \
		-extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth') \
		-out "$out/server.crt" 2>/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
interval=$(python3 -c "print(max(1, min(3600, round(1 / $rate))))")
cat >"$work/nanotimed.toml" <<EOF
[clock]
adjust = false
drift_file = ""

[control]
socket = ""

[log]
level = "warn"
file = "$work/log"

[service]
user = ""

[broker]
listen = ["127.0.0.1:$port"]
certificate = "$out/server.crt"
private_key = "$out/server.key"
ca_certificate = "$out/ca.crt"
ca_key = "$out/ca.key"
database = "$out/broker.db"
max_connections = $((members + 100))
state_interval = $interval
EOF

token=$("$nanotimed" -c "$work/nanotimed.toml" --broker-token bench --broker-role admin 2>"$work/token.err") ||
	{ cat "$work/token.err" >&2; exit 1; }
taskset -c "$broker_cpu" "$nanotimed" -c "$work/nanotimed.toml" >/dev/null 2>"$work/broker.stderr" &
broker=$!
pids+=("$broker")
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	kill -0 "$broker" 2>/dev/null || { cat "$work/broker.stderr" >&2; exit 1; }
	sleep 0.1
done

# probe_count: one GET /v1/members (JSON line), or "null" when the broker did
# not answer it (too far behind: its request deadline passed).
probe_count() {
	taskset -c "$load_cpu" python3 "$here/broker-probe.py" count "$port" "$out/ca.crt" \
		"$out/certs/brokerload-monitor.crt" "$out/certs/member.key" 2>>"$work/probe.err" || echo null
}
probe_latency() { taskset -c "$load_cpu" python3 "$here/broker-probe.py" latency "$port" \
	"$out/ca.crt" "$out/certs/brokerload-monitor.crt" "$out/certs/member.key" "$1" bench-0 \
	2>>"$work/probe.err" || echo null; }

# broker_cpu_ticks: utime + stime of the broker, all threads (clock ticks).
broker_cpu_ticks() { awk '{print $14 + $15}' "/proc/$broker/stat"; }
# broker_wait_ns: time the broker's threads were runnable but waiting for a
# CPU (schedstat, ns): what other users of the machine cost it.
broker_wait_ns() { cat /proc/"$broker"/task/*/schedstat | awk '{w += $2} END {printf "%d\n", w}'; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$broker/status"; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
sent() { python3 -c "import json; print(json.load(open('$work/progress.json'))['states_sent'])"; }

# The schedule: the hold window (with settling time on both sides), then the steps.
# (The window's end waits for two GET /v1/members, which take seconds at 10 000.)
schedule="$rate:$((settle + window + settle + 5))"
if [ "$max_rate" = 1 ]; then
	for r in $steps; do schedule="$schedule,$r:$step_duration"; done
fi
taskset -c "$load_cpu" "$brokerload" --server "127.0.0.1:$port" --ca "$out/ca.crt" \
	--token "$token" --certs "$out/certs" --model "$here/broker-member-state.json" \
	--members "$members" --src 127.1.0.1 --src-count 500 --schedule "$schedule" \
	--progress "$work/progress.json" >"$work/brokerload.out" 2>"$work/brokerload.err" &
load=$!
pids+=("$load")

wait_line() { # wait_line PATTERN TIMEOUT_S
	local deadline=$((SECONDS + $2))
	until grep -q "$1" "$work/brokerload.out" 2>/dev/null; do
		kill -0 "$load" 2>/dev/null || { cat "$work/brokerload.out" "$work/brokerload.err" >&2; exit 1; }
		[ $SECONDS -lt $deadline ] || { echo "broker-subscribers: no '$1' within $2 s" >&2; exit 1; }
		sleep 0.2
	done
}
wait_line '^certificates' 3600
grep '^certificates' "$work/brokerload.out"
wait_line '^ramped' 900
ramp=$(grep '^ramped' "$work/brokerload.out")
echo "$ramp (members, seconds); broker RSS $(status_kb VmRSS) KiB, load average $(loadavg)"

# measure NAME SECONDS [latency]: counts at both ends of SECONDS; JSON on stdout.
measure() {
	local name=$1 seconds=$2 with_latency=${3:-}
	local c0 t0 s0 n0 l0 c1 t1 s1 n1 lat=null
	c0=$(broker_cpu_ticks); w0=$(broker_wait_ns); t0=$(date +%s.%N); n0=$(probe_count); s0=$(sent)
	l0=$(loadavg)
	if [ -n "$with_latency" ]; then
		lat=$(probe_latency "$seconds")
	else
		sleep "$seconds"
	fi
	c1=$(broker_cpu_ticks); w1=$(broker_wait_ns); t1=$(date +%s.%N); n1=$(probe_count); s1=$(sent)
	python3 - "$name" "$c0" "$c1" "$t0" "$t1" "$s0" "$s1" "$n0" "$n1" "$l0" "$(loadavg)" \
		"$(status_kb VmRSS)" "$(status_kb VmHWM)" "$(getconf CLK_TCK)" "$lat" "$members" \
		"$w0" "$w1" <<'EOF'
import json, sys
(name, c0, c1, t0, t1, s0, s1, n0, n1, l0, l1, rss, hwm, hz, lat, members, w0, w1) = sys.argv[1:]
n0, n1 = json.loads(n0), json.loads(n1)
wall = float(t1) - float(t0)
cpu_s = (int(c1) - int(c0)) / int(hz)
# Counted at the broker; a count it did not answer leaves the rate unknown.
ingested = n1["seq_sum"] - n0["seq_sum"] if n0 and n1 else None
print(json.dumps({
    "name": name, "members": int(members), "connected": n1["connected"] if n1 else None,
    "window_s": wall,
    "updates_per_s": ingested / wall if ingested is not None else None,
    "sent_per_s": (int(s1) - int(s0)) / wall,
    "cpu_percent": 100 * cpu_s / wall,
    "cpu_wait_percent": 100 * (int(w1) - int(w0)) / 1e9 / wall,
    "cpu_us_per_update": 1e6 * cpu_s / ingested if ingested else None,
    "backlog_start": int(s0) - n0["seq_sum"] if n0 else None,
    "backlog_end": int(s1) - n1["seq_sum"] if n1 else None,
    "rss_kib": int(rss), "hwm_kib": int(hwm), "load_average": [float(l0), float(l1)],
    "count_request_ms": [n0["ms"], n1["ms"]],
    "api": json.loads(lat) if lat != "null" else None}))
EOF
}

results="$work/results.jsonl"
: >"$results"
wait_line '^phase 0 ' 60
sleep "$settle"
measure "hold-$rate" "$window" latency | tee -a "$results"
if [ "$max_rate" = 1 ]; then
	i=1
	for r in $steps; do
		wait_line "^phase $i " $((settle + window + settle + 5 + step_duration * i + 60))
		sleep "$step_settle"
		measure "step-$r" $((step_duration - 2 * step_settle)) | tee -a "$results"
		i=$((i + 1))
	done
fi
wait "$load" || true
grep '^summary' "$work/brokerload.out" || true

if [ "$smoke" = 1 ]; then
	# Every state sent was stored: the broker's sum of state_seq equals
	# brokerload's count once the last ones have been read.
	want=$(sed -n 's/^summary //p' "$work/brokerload.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["states_sent"])')
	for _ in $(seq 50); do
		got=$(probe_count | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq_sum"])')
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	if [ "$got" != "$want" ] || [ "$want" -lt $((members * 5)) ]; then
		echo "broker-subscribers: FAIL: the broker stored $got states, brokerload sent $want" >&2
		exit 1
	fi
	python3 -c "import json; r=json.loads(open('$work/results.jsonl').readline()); \
		assert r['connected'] == $members and r['updates_per_s'] > 0 and r['api']['member']['n'] > 0, r" ||
		{ echo "broker-subscribers: FAIL: $(cat "$work/results.jsonl")" >&2; exit 1; }
	echo "broker-subscribers: smoke PASS ($got states stored, $members members)"
	exit 0
fi

python3 - "$results" "$out/broker-subscribers.json" "$ramp" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"ramp": sys.argv[3], "windows": rows}, open(sys.argv[2], "w"), indent=1)
print()
print(f"{'window':<12} {'members':>7} {'upd/s':>8} {'sent/s':>8} {'CPU%':>6} {'wait%':>6} "
      f"{'us/upd':>7} {'backlog':>13} {'RSS MiB':>8} {'HWM MiB':>8} {'load':>9}")
sustained = None
def fmt(v, spec):
    return "-" if v is None else format(v, spec)
for r in rows:
    unknown = r["updates_per_s"] is None
    behind = unknown or r["cpu_percent"] >= 95 or \
        r["backlog_end"] - r["backlog_start"] > 0.5 * r["sent_per_s"]
    if not behind:
        sustained = r
    print(f"{r['name']:<12} {fmt(r['connected'], '>7')} {fmt(r['updates_per_s'], '>8.0f')} "
          f"{r['sent_per_s']:>8.0f} {r['cpu_percent']:>6.1f} {r['cpu_wait_percent']:>6.1f} "
          f"{fmt(r['cpu_us_per_update'], '>7.1f')} "
          f"{fmt(r['backlog_start'], '>6')}->{fmt(r['backlog_end'], '<6')} {r['rss_kib'] / 1024:>8.1f} "
          f"{r['hwm_kib'] / 1024:>8.1f} {r['load_average'][0]:>4.1f}-{r['load_average'][1]:<4.1f}"
          + ("  BEHIND (the broker did not answer the count)" if unknown else
             "  BEHIND" if behind else ""))
for r in rows:
    if r["api"]:
        a = r["api"]
        print(f"\nAPI during {r['name']} ({r['connected']} members): "
              f"GET /v1/members p50 {a['members_list']['p50_ms']:.1f} ms "
              f"p99 {a['members_list']['p99_ms']:.1f} ms (n={a['members_list']['n']}, "
              f"{a['list_bytes']} bytes); GET /v1/members/{{name}} p50 "
              f"{a['member']['p50_ms']:.1f} ms p99 {a['member']['p99_ms']:.1f} ms "
              f"(n={a['member']['n']}); SSE events {a['sse_events']}"
              + (f" (SSE: {a['sse_error']})" if a['sse_error'] else ""))
if sustained:
    print(f"\nsustained: {sustained['updates_per_s']:.0f} updates/s at "
          f"{sustained['cpu_percent']:.0f} % CPU ({sustained['name']})")
EOF
