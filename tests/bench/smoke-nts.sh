#!/usr/bin/env bash
# smoke-nts.sh - the NTS load tools work against nanotimed over loopback:
# ntpload --nts gets NTS-KE done and every NTS reply verifies, ntskeload
# completes full exchanges and holds connections mid-request. No root.
#   tests/bench/smoke-nts.sh NTPLOAD NTSKELOAD NANOTIMED
set -euo pipefail
ntpload=$1
ntskeload=$2
nanotimed=$3
command -v openssl >/dev/null || { echo "smoke-nts: SKIP: no openssl"; exit 77; }
work=$(mktemp -d /tmp/ntbench-smoke-nts.XXXXXX)
daemon_pid=""
cleanup() {
	if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=smoke" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

expect_usage_error() { # what command...
	local what=$1 rc=0
	shift
	"$@" >"$work/usage.out" 2>&1 || rc=$?
	if [ "$rc" != 2 ] || [ ! -s "$work/usage.out" ]; then
		echo "smoke-nts: $what: exit $rc (want 2 and a message)"; cat "$work/usage.out"; exit 1
	fi
}
expect_usage_error "ntpload --nts not a --server" "$ntpload" --server 127.0.0.1:123 --nts 127.0.0.2:123 --nts-ca "$work/cert.pem"
expect_usage_error "ntpload --nts without --nts-ca" "$ntpload" --server 127.0.0.1:123 --nts 127.0.0.1:123
expect_usage_error "ntskeload without --ca" "$ntskeload" --server 127.0.0.1:4460
expect_usage_error "ntskeload --server [::1]" "$ntskeload" --server "[::1]:4460" --ca "$work/cert.pem"

# Free ports: the daemon fails to bind a taken one, so try a few.
for _ in 1 2 3 4 5; do
	ntp_port=$((20000 + RANDOM % 20000))
	ke_port=$((ntp_port + 1))
	cat >"$work/nanotimed.toml" <<-TOML
		[server]
		listen = ["127.0.0.1:$ntp_port"]
		allow = ["127.0.0.0/8"]
		[server.rate_limit]
		enabled = false
		[nts_ke]
		listen = ["127.0.0.1:$ke_port"]
		certificate = "$work/cert.pem"
		private_key = "$work/key.pem"
		max_connections = 50
		timeout = 10.0
		address_rate = 100000
		address_burst = 100000
		[nts]
		key_file = "$work/nts-keys"
		[clock]
		adjust = false
		drift_file = ""
		[control]
		socket = "$work/nanotimed.sock"
		[log]
		level = "warn"
		[service]
		user = ""
	TOML
	"$nanotimed" --config "$work/nanotimed.toml" 2>"$work/daemon.log" &
	daemon_pid=$!
	sleep 1
	if kill -0 "$daemon_pid" 2>/dev/null; then break; fi
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=""
done
[ -n "$daemon_pid" ] || { echo "smoke-nts: nanotimed did not start"; cat "$work/daemon.log"; exit 1; }

# NTS-KE at start (2 exchanges, 16 cookies), then 1000 NTS requests.
"$ntpload" --server "127.0.0.1:$ntp_port" --nts "127.0.0.1:$ntp_port" --nts-ke-port "$ke_port" \
	--nts-ca "$work/cert.pem" --nts-exchanges 2 --ports 2 --rate 1000 --duration 1 \
	--json "$work/nts.json" --quiet
python3 - "$work/nts.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["nts"] is True and r["sent"] == 1000, r
assert r["received"] >= 0.99 * r["sent"], f"lost replies: {r}"
assert r["nts_rejected"] == 0 and r["nts_naks"] == 0 and r["bad"] == 0, r
PY
# Full exchanges, then 20 connections held mid-request.
"$ntskeload" --server "127.0.0.1:$ke_port" --ca "$work/cert.pem" --concurrency 4 --duration 1 \
	--json "$work/ke.json" --quiet
python3 - "$work/ke.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["completed"] > 0 and r["failed"] == 0, r
PY
"$ntskeload" --server "127.0.0.1:$ke_port" --ca "$work/cert.pem" --hold 20 --duration 1 \
	--quiet >"$work/hold.out"
grep -qx "held 20" "$work/hold.out" || { echo "smoke-nts: hold: $(cat "$work/hold.out")"; exit 1; }
echo "smoke-nts: ok"
