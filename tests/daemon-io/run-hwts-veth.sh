#!/usr/bin/env bash
# run-hwts-veth.sh NANOTIMED NANOTIMECTL WORKROOT SECCOMP: nanotimed in a
# network namespace of its own with a veth pair (both ends inside it; no
# traffic leaves), io.hwtimestamp = ["*"], and `nanotimectl --json status`
# must report the veth ends and lo as kernel software stamping with the
# reason "no hardware timestamping (ethtool: software only)", and a name
# that does not exist as such. Exit 77 (skip) without root or ip. ~2 s.
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
[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
command -v ip >/dev/null || skip "ip (iproute2) not installed"
nanotimed=$1 nanotimectl=$2 workroot=$3 seccomp=$4
mkdir -p "$workroot"
work=$(cd "$workroot" && pwd)/hwts-veth
rm -rf "$work"
mkdir -p "$work"
ns=nt-hwts-$$
pid=
cleanup() {
	[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create a network namespace"
ip -n "$ns" link add hwts-a type veth peer name hwts-b || fail "no veth pair"
ip -n "$ns" link set lo up
ip -n "$ns" link set hwts-a up
ip -n "$ns" link set hwts-b up
ip -n "$ns" addr add 10.203.0.1/24 dev hwts-a

cat >"$work/nanotimed.toml" <<CONF
[server]
listen = ["10.203.0.1:12323"]
allow = ["10.203.0.0/24"]

[io]
hwtimestamp = ["*", "nosuch0"]

[clock]
adjust = false
drift_file = ""
leap_seconds_file = "$here/../daemon/data/leap-seconds.list"

[control]
socket = "$work/nanotimed.sock"

[service]
user = ""
seccomp = "$seccomp"
CONF
"$nanotimed" --check-config -c "$work/nanotimed.toml" >"$work/check.log" 2>&1 ||
	fail "nanotimed rejects its configuration"
# ip exec's the daemon: $! is nanotimed itself.
ip netns exec "$ns" "$nanotimed" -c "$work/nanotimed.toml" >"$work/nanotimed.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do [ -S "$work/nanotimed.sock" ] && break; sleep 0.1; done
[ -S "$work/nanotimed.sock" ] || fail "nanotimed did not start"
"$nanotimectl" -s "$work/nanotimed.sock" --json status >"$work/status.json" ||
	fail "nanotimectl --json status failed"
"$nanotimectl" -s "$work/nanotimed.sock" status >"$work/status.txt" ||
	fail "nanotimectl status failed"
python3 "$here/check_json_schema.py" "$here/../../daemon/nanotimectl/nanotimectl.schema.json" \
	--view status "$work/status.json" || fail "status does not match the schema"
python3 - "$work/status.json" <<'PY' || fail "unexpected interfaces in status"
import json, sys
interfaces = {i["name"]: i for i in json.load(open(sys.argv[1]))["interfaces"]}
print("interfaces:", {n: (i["rx"], i["tx"], i["reason"]) for n, i in interfaces.items()})
ok = set(interfaces) == {"lo", "hwts-a", "hwts-b", "nosuch0"}
for name in ("lo", "hwts-a", "hwts-b"):
    i = interfaces.get(name, {})
    ok = ok and i.get("rx") == "kernel" and i.get("hardware_requested") is True
    ok = ok and i.get("hardware_capable") is False and i.get("phc_index") == -1
    # TX: kernel where the driver stamps in software (veth since Linux 6.4,
    # lo always), daemon where it does not (veth before 6.4), and the
    # reason says which.
    ok = ok and i.get("reason", "").startswith("no hardware timestamping (ethtool: software only)")
    ok = ok and (i.get("tx") == "kernel") == ("no software TX" not in i.get("reason", ""))
missing = interfaces.get("nosuch0", {})
ok = ok and missing.get("reason") == "no such interface (named in io.hwtimestamp)"
sys.exit(0 if ok else 1)
PY
grep -q "^Timestamps hwts-a: RX kernel, TX [a-z]* (no hardware timestamping" "$work/status.txt" ||
	fail "nanotimectl status has no line for hwts-a: $(cat "$work/status.txt")"
echo "ok: veth and lo report kernel software stamps"
