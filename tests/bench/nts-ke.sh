#!/usr/bin/env bash
# nts-ke.sh - NTS-KE servers under load: nanotimed against chronyd 4.3, over
# a veth pair between two network namespaces this script creates (and always
# removes). README.md here explains the figures.
#
#   tests/bench/nts-ke.sh [--build DIR] [--out DIR] [--duration S] [--reps N]
#                         [--concurrency N] [--hold N] [--pin S:L]
#                         [--ntsprocesses N] [--no-rate] [--no-memory]
#                         [--no-overload] [--perf]
#
# 1. Full exchanges: ntskeload keeps --concurrency (64) connections in
#    flight against one server at a time (windows alternate), each a new TCP
#    connection, a full TLS 1.3 handshake and the NTS-KE request and
#    response. Per window: exchanges/s and exchanges per CPU-second of the
#    server (all threads and processes, schedstat), i.e. per core.
#    chronyd runs with ntsprocesses = --ntsprocesses (default: the CPUs).
# 2. Memory per open connection: --hold (500) connections that finished the
#    handshake and stopped mid-request; (RSS with them - RSS before) / held.
# 3. Overload (nanotimed, [nts_ke] max_connections = 100): RSS with 100 and
#    with 1000 connections held; NTP latency (ntpload, 2000/s plain NTP) with
#    the KE port idle, flooded by 1000 concurrent full exchanges, and idle
#    again; the flood's ratio to the mean of the idle windows.
# --pin runs the servers on CPU S and the generators on CPU L (taskset).
# --perf records each rate window's server (all its processes) with
# `perf record --call-graph dwarf` into OUT/perf-NAME-REP.data.
# Needs root, iproute2, python3, openssl and chronyd. Exit 77 when it cannot
# run here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/rel"
out=""
duration=10
reps=3
concurrency=64
hold=500
pin=""
ntsprocesses=$(nproc)
do_rate=1
do_memory=1
do_overload=1
do_perf=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--concurrency) concurrency=$2; shift 2 ;;
	--hold) hold=$2; shift 2 ;;
	--pin) pin=$2; shift 2 ;;
	--ntsprocesses) ntsprocesses=$2; shift 2 ;;
	--no-rate) do_rate=0; shift ;;
	--no-memory) do_memory=0; shift ;;
	--no-overload) do_overload=0; shift ;;
	--perf) do_perf=1; shift ;;
	-h | --help) sed -n '2,29p' "$0"; exit 0 ;;
	*) echo "nts-ke: unknown option $1" >&2; exit 2 ;;
	esac
done

# shellcheck source=tests/bench/nts-common.sh
. "$here/nts-common.sh"
nts_prerequisites nts-ke

id=$$
ns_s="ntskebench-s-$id"
ns_c="ntskebench-c-$id"
veth_s="ntks$id"
veth_c="ntkc$id"
server_net=10.205.0
client_net=10.205.1
n_clients=250
# shellcheck source=tests/bench/netns-pair.sh
. "$here/netns-pair.sh"
bench_pair_start ntskebench "$veth_s" "$veth_c"
{
	echo "link set lo up"
	for i in 1 2 3; do echo "addr add $server_net.$i/24 dev $veth_s"; done
	echo "link set $veth_s up"
	echo "route add $client_net.0/24 dev $veth_s"
} | ip -n "$ns_s" -batch -
{
	echo "link set lo up"
	for i in $(seq 1 $((n_clients + 1))); do echo "addr add $client_net.$i/24 dev $veth_c"; done
	echo "link set $veth_c up"
	echo "route add $server_net.0/24 dev $veth_c"
} | ip -n "$ns_c" -batch -
nts_certificate "$server_net.1" "$server_net.2" "$server_net.3"
chronyd_ip=$server_net.1
nanotimed_ip=$server_net.2
overload_ip=$server_net.3

keload() { # json server-ip ntskeload-options...
	local j=$1 ip=$2
	shift 2
	ip netns exec "$ns_c" "${load_cpu[@]}" "$ntskeload" --server "$ip:4460" --ca "$work/cert.pem" \
		--src "$client_net.2" --src-count "$n_clients" --json "$j" --quiet "$@" || true
}

# hold_rss PID IP N JSON: RSS of PID's tree (KiB) before, and while N
# connections are held mid-request; prints "before during held".
hold_rss() {
	local pid=$1 ip=$2 n=$3 j=$4 before during held
	before=$(tree_rss_kib "$pid")
	rm -f "$work/hold.out"
	ip netns exec "$ns_c" "${load_cpu[@]}" "$ntskeload" --server "$ip:4460" --ca "$work/cert.pem" \
		--src "$client_net.2" --src-count "$n_clients" --hold "$n" --duration 30 --json "$j" --quiet \
		>"$work/hold.out" &
	local h=$!
	pids+=("$h")
	for _ in $(seq 1 300); do
		grep -q '^held' "$work/hold.out" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	during=$(tree_rss_kib "$pid")
	held=$(awk '/^held/ {print $2}' "$work/hold.out")
	kill "$h" 2>/dev/null || true
	wait "$h" 2>/dev/null || true
	sleep 1
	rm -f "$work/hold.out"
	echo "$before $during ${held:-0}"
}

echo "nts-ke: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), chronyd $("$chronyd" --version | awk '{print $4}') (ntsprocesses $ntsprocesses), pinning ${pin:-none}"
: >"$out/results.txt"
declare -A pid_of
if [ "$do_rate" = 1 ] || [ "$do_memory" = 1 ]; then
	nts_start chronyd chronyd "$chronyd_ip" "ntsprocesses=$ntsprocesses"
	pid_of[chronyd]=$nts_pid
	nts_start nanotimed nanotimed "$nanotimed_ip" ke_max=$((hold + 100)) ke_timeout=60
	pid_of[nanotimed]=$nts_pid
	nts_wait_ke "$chronyd_ip"
	nts_wait_ke "$nanotimed_ip"
	declare -A ip_of=([chronyd]=$chronyd_ip [nanotimed]=$nanotimed_ip)
fi
if [ "$do_rate" = 1 ]; then
	echo "full exchanges, $concurrency in flight, ${duration}s windows:"
	for rep in $(seq 1 "$reps"); do
		order=(chronyd nanotimed)
		[ $((rep % 2)) = 0 ] && order=(nanotimed chronyd)
		for name in "${order[@]}"; do
			if [ "$do_perf" = 1 ]; then
				perf record -q --call-graph dwarf,16384 -o "$out/perf-$name-$rep.data" \
					-p "$(tree_pids "${pid_of[$name]}" | paste -sd,)" 2>/dev/null &
				perf_pid=$!
				sleep 0.5
			fi
			t0=$(tree_run_ns "${pid_of[$name]}")
			keload "$out/rate-$name-$rep.json" "${ip_of[$name]}" --concurrency "$concurrency" --duration "$duration"
			t1=$(tree_run_ns "${pid_of[$name]}")
			if [ "$do_perf" = 1 ]; then
				kill -INT "$perf_pid"
				wait "$perf_pid" || true
			fi
			python3 - "$out/rate-$name-$rep.json" "$t0" "$t1" "$name" "$rep" <<-'EOF' | tee -a "$out/results.txt"
				import json, sys
				r = json.load(open(sys.argv[1]))
				cpu = (int(sys.argv[3]) - int(sys.argv[2])) / 1e9
				r["server_cpu_s"] = cpu
				r["per_cpu_second"] = r["completed"] / cpu if cpu > 0 else 0
				json.dump(r, open(sys.argv[1], "w"))
				print(f"rate {sys.argv[5]} {sys.argv[4]:<10} {r['exchanges_per_s']:8.1f}/s  server CPU {cpu / r['duration_s']:.2f} cores"
				      f"  {r['per_cpu_second']:8.1f} per CPU-second  failed {r['failed']}  p50 {r['latency_ms']['p50']:.1f} ms")
			EOF
		done
	done
fi
if [ "$do_memory" = 1 ]; then
	echo "memory per open connection ($hold held mid-request):"
	for name in chronyd nanotimed; do
		read -r before during held < <(hold_rss "${pid_of[$name]}" "${ip_of[$name]}" "$hold" "$out/hold-$name.json")
		python3 -c 'import sys; b, d, h = map(int, sys.argv[1:4]); print(f"memory {sys.argv[4]:<10} RSS {b} -> {d} KiB with {h} held: {(d - b) * 1024 / max(h, 1):.0f} bytes per connection")' \
			"$before" "$during" "$held" "$name" | tee -a "$out/results.txt"
	done
fi
if [ "$do_rate" = 1 ] || [ "$do_memory" = 1 ]; then
	for name in chronyd nanotimed; do kill "${pid_of[$name]}" 2>/dev/null || true; wait "${pid_of[$name]}" 2>/dev/null || true; done
fi

if [ "$do_overload" = 1 ]; then
	echo "overload: nanotimed with [nts_ke] max_connections = 100:"
	nts_start overload nanotimed "$overload_ip" ke_max=100 ke_timeout=2.0
	opid=$nts_pid
	nts_wait_ke "$overload_ip"
	for n in 100 1000; do
		read -r before during held < <(hold_rss "$opid" "$overload_ip" "$n" "$out/overload-hold-$n.json")
		echo "overload memory: RSS $before -> $during KiB with $n opened ($held held)" | tee -a "$out/results.txt"
	done
	ntp_window() { # json
		ip netns exec "$ns_c" "${load_cpu[@]}" "$ntpload" --server "$overload_ip:123" --src "$client_net.2" \
			--src-count "$n_clients" --ports 4 --rate 2000 --duration "$duration" --json "$1" --quiet || true
	}
	ntp_window "$out/overload-idle-1.json"
	ip netns exec "$ns_c" "${load_cpu[@]}" "$ntskeload" --server "$overload_ip:4460" --ca "$work/cert.pem" \
		--src "$client_net.2" --src-count "$n_clients" --concurrency 1000 --duration $((duration + 2)) \
		--json "$out/overload-flood-ke.json" --quiet &
	f=$!
	pids+=("$f")
	sleep 1
	rss_flood0=$(tree_rss_kib "$opid")
	ntp_window "$out/overload-flood.json"
	rss_flood1=$(tree_rss_kib "$opid")
	wait "$f" || true
	ntp_window "$out/overload-idle-2.json"
	python3 - "$out" "$rss_flood0" "$rss_flood1" <<-'EOF' | tee -a "$out/results.txt"
		import json, sys
		out = sys.argv[1]
		i1, fl, i2 = (json.load(open(f"{out}/overload-{w}.json")) for w in ("idle-1", "flood", "idle-2"))
		ke = json.load(open(f"{out}/overload-flood-ke.json"))
		for k in ("p50", "p99"):
		    idle = (i1["latency_us"][k] + i2["latency_us"][k]) / 2
		    print(f"overload NTP latency {k}: idle {i1['latency_us'][k]:.0f} / {i2['latency_us'][k]:.0f} us, flood {fl['latency_us'][k]:.0f} us, ratio {fl['latency_us'][k] / idle:.2f}")
		print(f"overload NTP loss: idle {i1['loss_pct']:.3f} / {i2['loss_pct']:.3f} %, flood {fl['loss_pct']:.3f} %")
		print(f"overload flood: {ke['completed']} exchanges completed ({ke['exchanges_per_s']:.0f}/s), {ke['failed']} refused or cut; RSS {sys.argv[2]} -> {sys.argv[3]} KiB during it")
	EOF
	kill "$opid" 2>/dev/null || true
	wait "$opid" 2>/dev/null || true
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/results.txt"
echo "results: $out/results.txt"
