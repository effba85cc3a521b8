#!/usr/bin/env bash
# smoke.sh - the load generator and the floor responder work against each
# other over loopback: the requests of a short run are answered, the JSON
# report is well formed, and the responder stops on SIGTERM. No root needed.
#   tests/bench/smoke.sh NTPLOAD NTPFLOOR
set -euo pipefail
ntpload=$1
ntpfloor=$2
work=$(mktemp -d /tmp/ntbench-smoke.XXXXXX)
floor_pid=""
cleanup() {
	if [ -n "$floor_pid" ]; then kill "$floor_pid" 2>/dev/null || true; wait "$floor_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bad arguments exit 2 with a message, before any socket is opened: no
# trailing junk (atoi read "12x" as 12), no leading-zero octets (the daemon's
# one address parser, inet_pton), required options present.
expect_usage_error() { # what command...
	local what=$1 rc=0
	shift
	"$@" >"$work/usage.out" 2>&1 || rc=$?
	if [ "$rc" != 2 ] || [ ! -s "$work/usage.out" ]; then
		echo "smoke: $what: exit $rc (want 2 and a message)"; cat "$work/usage.out"; exit 1
	fi
}
expect_usage_error "ntpfloor --listen 127.0.0.1:12x" "$ntpfloor" --listen 127.0.0.1:12x
expect_usage_error "ntpfloor --listen 010.0.0.1:123" "$ntpfloor" --listen 010.0.0.1:123
expect_usage_error "ntpfloor --batch 5x" "$ntpfloor" --listen 127.0.0.1:123 --batch 5x
expect_usage_error "ntpfloor --threads 0" "$ntpfloor" --listen 127.0.0.1:123 --threads 0
expect_usage_error "ntpfloor without --listen" "$ntpfloor"
expect_usage_error "ntpload --server 010.0.0.1" "$ntpload" --server 010.0.0.1 --duration 0.1
expect_usage_error "ntpload --server [::1]:123" "$ntpload" --server "[::1]:123" --duration 0.1
expect_usage_error "ntpload --rate 0" "$ntpload" --server 127.0.0.1 --rate 0
expect_usage_error "ntpload without --server" "$ntpload" --duration 0.1
"$ntpload" --help | grep -q -- "--src-count" || { echo "smoke: ntpload --help lacks --src-count"; exit 1; }

# A free port: the responder fails to bind a taken one, so try a few.
for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 20000))
	"$ntpfloor" --listen "127.0.0.1:$port" 2>"$work/floor.log" &
	floor_pid=$!
	sleep 0.3
	if kill -0 "$floor_pid" 2>/dev/null; then break; fi
	wait "$floor_pid" 2>/dev/null || true
	floor_pid=""
done
[ -n "$floor_pid" ] || { echo "smoke: ntpfloor did not start"; cat "$work/floor.log"; exit 1; }

# 64 loopback source addresses (127.0.0.0/8 is local) x 4 ports.
"$ntpload" --server "127.0.0.1:$port" --src 127.0.0.10 --src-count 64 --ports 4 \
	--rate 5000 --duration 2 --json "$work/r.json" | tee "$work/r.txt"
python3 - "$work/r.json" "127.0.0.1:$port" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["sent"] == 10000, r
# Loopback does not lose datagrams, but a responder descheduled for tens of
# milliseconds on a busy shared machine overflows its stock socket buffer:
# allow 1 %, never a wrong or duplicated reply.
assert r["received"] >= 0.99 * r["sent"], f"lost replies: {r}"
assert r["bad"] == 0 and r["duplicates"] == 0, r
assert 0 < r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["p999"], r
assert list(r) == ["server", "offered_pps", "duration_s", "sources", "ports", "sent",
                   "send_errors", "received", "responses_per_s", "loss_pct", "duplicates",
                   "bad", "late", "latency_us"], list(r)
assert r["server"] == sys.argv[2] and r["offered_pps"] == 5000 and r["sources"] == 64, r
print("smoke: generator and responder agree:", r["received"], "responses")
PY
# Several servers: {"servers": [...]}, one report each, in --server order.
"$ntpload" --server "127.0.0.1:$port" --server "127.0.0.1:$port" --rate 200 --duration 0.2 \
	--json - --quiet >"$work/two.json"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert len(r["servers"]) == 2 and all(s["sent"] == 40 for s in r["servers"]), r' "$work/two.json"
# A report that cannot be written (here a full disk: the flush in fclose
# fails) is an error with the reason, exit 2, not a silent success.
rc=0
"$ntpload" --server "127.0.0.1:$port" --rate 200 --duration 0.2 --quiet --json /dev/full \
	2>"$work/full.err" || rc=$?
if [ "$rc" != 2 ] || ! grep -q 'write /dev/full' "$work/full.err"; then
	echo "smoke: --json /dev/full: exit $rc (want 2 and 'write /dev/full')"; cat "$work/full.err"; exit 1
fi

kill "$floor_pid"
for _ in $(seq 1 20); do
	kill -0 "$floor_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$floor_pid" 2>/dev/null; then echo "smoke: ntpfloor ignored SIGTERM"; exit 1; fi
wait "$floor_pid" || { echo "smoke: ntpfloor exited with an error"; exit 1; }
floor_pid=""
echo "smoke: ok"
