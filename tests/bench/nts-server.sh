#!/usr/bin/env bash
# nts-server.sh - what NTS costs an NTP server: nanotimed and chronyd 4.3,
# each run twice with the same NTS server configuration side by side, one
# copy offered plain NTP and the other NTS-protected NTP (RFC 8915) at the
# same rate by one ntpload, over a veth pair between two network namespaces
# this script creates (and always removes). README.md here explains the
# figures.
#
#   tests/bench/nts-server.sh [--build DIR] [--out DIR] [--rate PPS]
#                             [--duration S] [--reps N] [--pin S:L]
#                             [--max-rate] [--step-duration S]
#
# Per window and server: responses/s, loss, and CPU per response (run time
# of all threads from /proc/PID/task/*/schedstat over the window / the
# responses it sent). The figure is "NTS capacity" = plain µs per response /
# NTS µs per response of the same daemon in the same window: the share of
# its plain rate the same CPU answers with NTS (the median of the windows).
# --max-rate also searches each server's highest rate with < 0.1 % loss,
# alone (the generator, one thread, may be the limit of the plain rows).
# Needs root, iproute2, python3, openssl and chronyd. Exit 77 when it
# cannot run here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/rel"
out=""
rate=5000
duration=10
reps=3
pin=""
do_max=0
step_duration=3
rates="5000 10000 15000 20000 30000 40000 50000 60000 80000"
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--pin) pin=$2; shift 2 ;;
	--max-rate) do_max=1; shift ;;
	--step-duration) step_duration=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "nts-server: unknown option $1" >&2; exit 2 ;;
	esac
done

# shellcheck source=tests/bench/nts-common.sh
. "$here/nts-common.sh"
nts_prerequisites nts-server

id=$$
ns_s="ntsbench-s-$id"
ns_c="ntsbench-c-$id"
veth_s="ntss$id"
veth_c="ntsc$id"
server_net=10.204.0
client_net=10.204.1
n_clients=250
# shellcheck source=tests/bench/netns-pair.sh
. "$here/netns-pair.sh"
bench_pair_start ntsbench "$veth_s" "$veth_c"
{
	echo "link set lo up"
	for i in 1 2 3 4; do echo "addr add $server_net.$i/24 dev $veth_s"; done
	echo "link set $veth_s up"
	echo "route add $client_net.0/24 dev $veth_s"
} | ip -n "$ns_s" -batch -
{
	echo "link set lo up"
	for i in $(seq 1 $((n_clients + 1))); do echo "addr add $client_net.$i/24 dev $veth_c"; done
	echo "link set $veth_c up"
	echo "route add $server_net.0/24 dev $veth_c"
} | ip -n "$ns_c" -batch -
nts_certificate "$server_net.1" "$server_net.2" "$server_net.3" "$server_net.4"

# name -> address; the -nts copies get NTS requests.
declare -A ip_of=([chronyd]=$server_net.1 [chronyd-nts]=$server_net.2
	[nanotimed]=$server_net.3 [nanotimed-nts]=$server_net.4)
names=(chronyd chronyd-nts nanotimed nanotimed-nts)
declare -A pid_of
for name in "${names[@]}"; do
	nts_start "$name" "${name%-nts}" "${ip_of[$name]}"
	pid_of[$name]=$nts_pid
done
for name in "${names[@]}"; do nts_wait_ke "${ip_of[$name]}"; done

load() { # rate duration json names...
	local r=$1 d=$2 j=$3 name
	shift 3
	local args=()
	for name in "$@"; do
		args+=(--server "${ip_of[$name]}:123")
		case "$name" in *-nts) args+=(--nts "${ip_of[$name]}:123") ;; esac
	done
	ip netns exec "$ns_c" "${load_cpu[@]}" "$ntpload" "${args[@]}" --nts-ca "$work/cert.pem" \
		--src "$client_net.2" --src-count "$n_clients" --ports 16 --rate "$r" --duration "$d" \
		--json "$j" --quiet || true
}

echo "nts-server: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), chronyd $("$chronyd" --version | awk '{print $4}'), offered $rate/s to each for ${duration}s x $reps, pinning ${pin:-none}"
for rep in $(seq 1 "$reps"); do
	order=("${names[@]}")
	for ((k = 1; k < rep; k++)); do order=("${order[@]:1}" "${order[0]}"); done
	for name in "${order[@]}"; do tree_run_ns "${pid_of[$name]}" >"$work/$name.t0"; done
	load "$rate" "$duration" "$out/window-$rep.json" "${order[@]}"
	i=0
	for name in "${order[@]}"; do
		echo "$(cat "$work/$name.t0") $(tree_run_ns "${pid_of[$name]}") $i" >"$out/window-$rep-$name.cpu"
		i=$((i + 1))
	done
	echo "  window $rep done (load average $(cut -d' ' -f1 /proc/loadavg))"
done
cut -d' ' -f1-3 /proc/loadavg >"$out/loadavg-end.txt"

if [ "$do_max" = 1 ]; then
	echo "maximum rate (< 0.1 % loss, ${step_duration}s steps, one server at a time):"
	for name in "${names[@]}"; do
		best=0
		for r in $rates; do
			ok=0
			for try in 1 2; do
				load "$r" "$step_duration" "$out/step-$name-$r-$try.json" "$name"
				if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["loss_pct"] < 0.1 else 1)' \
					"$out/step-$name-$r-$try.json"; then ok=1; break; fi
			done
			if [ "$ok" = 1 ]; then best=$r; else break; fi
		done
		echo "$best" >"$out/max-$name.txt"
		echo "  $name: $best/s"
	done
fi

python3 - "$out" "$reps" "$rate" "$duration" "${names[@]}" <<'EOF'
import json, os, statistics, sys
out, reps, rate, duration, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
rows = {n: [] for n in names}
for rep in range(1, reps + 1):
    w = json.load(open(f"{out}/window-{rep}.json"))["servers"]
    for n in names:
        n0, n1, i = map(int, open(f"{out}/window-{rep}-{n}.cpu").read().split())
        r = w[i]
        rows[n].append({"responses_per_s": r["responses_per_s"], "loss_pct": r["loss_pct"],
                        "us_per_response": (n1 - n0) / 1e3 / max(r["received"], 1),
                        "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"],
                        "nts_rejected": r.get("nts_rejected", 0), "cookie_reuses": r.get("cookie_reuses", 0)})
result = {"offered_pps": float(rate), "duration_s": float(duration), "reps": reps, "windows": rows,
          "load_average_end": open(f"{out}/loadavg-end.txt").read().split()}
print(f"\nCPU per response, {rate}/s offered to each side by side, {reps} windows of {duration} s (medians):")
print(f"  {'server':<14} {'resp/s':>7} {'loss %':>6} {'us/resp':>7} {'p50 us':>6} {'p99 us':>6} {'rejected':>8} {'reuses':>7}")
for n in names:
    v = rows[n]
    med = lambda k: statistics.median(x[k] for x in v)
    print(f"  {n:<14} {med('responses_per_s'):7.0f} {max(x['loss_pct'] for x in v):6.3f}"
          f" {med('us_per_response'):7.2f} {med('p50_us'):6.0f} {med('p99_us'):6.0f}"
          f" {sum(x['nts_rejected'] for x in v):8d} {sum(x['cookie_reuses'] for x in v):7d}")
print("NTS capacity = plain us/response / NTS us/response (per window; median):")
result["nts_capacity"] = {}
for d in ("chronyd", "nanotimed"):
    per = [p["us_per_response"] / q["us_per_response"] for p, q in zip(rows[d], rows[d + "-nts"])]
    result["nts_capacity"][d] = {"windows": per, "median": statistics.median(per)}
    print(f"  {d:<10} {' '.join(f'{x:.3f}' for x in per)}  median {statistics.median(per):.3f}")
maxr = {}
for n in names:
    f = f"{out}/max-{n}.txt"
    if os.path.exists(f): maxr[n] = int(open(f).read())
if maxr:
    result["max_rate"] = maxr
    for d in ("chronyd", "nanotimed"):
        if maxr.get(d): print(f"  max rate {d}: plain {maxr[d]}  NTS {maxr[d + '-nts']}  ratio {maxr[d + '-nts'] / maxr[d]:.2f}")
json.dump(result, open(f"{out}/nts-server.json", "w"), indent=2)
print(f"JSON: {out}/nts-server.json")
EOF
