#!/usr/bin/env bash
# server-cpu.sh - NTP server cost side by side: the kernel floor, chronyd 4.3
# and nanotimed (io_uring and poll backends), over a veth pair between two
# network namespaces this script creates (and always removes). README.md here
# explains the figures.
#
#   tests/bench/server-cpu.sh [--build DIR] [--out DIR] [--rate PPS]
#                             [--duration S] [--reps N] [--step-duration S]
#                             [--pin SERVER_CPU:LOAD_CPU] [--servers "NAMES"]
#                             [--no-max-rate] [--no-idle] [--quick]
#
# --pin runs every server on one CPU and ntpload on another (taskset), so
# that a server is not charged for the generator's work on its CPU, nor the
# other way round; --servers picks the fixed-load group (default: floor
# floor-ts chronyd nanotimed-io_uring nanotimed-poll); NANOTIMED_BASE=BINARY
# adds base-io_uring and base-poll, the same configurations run by another
# nanotimed build (a "before" of a change), to measure in the same windows.
# Needs root (namespaces), iproute2, python3, and chronyd (the chrony package;
# if it is not installed, `apt-get download chrony` is unpacked into the
# build directory, since Debian's chrony conflicts with ntpsec).
# Exit status: 0 when every measurement ran, 1 on a failure, 77 when it
# cannot run here (no root, no namespaces, no chronyd).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/bench"
out=""
rate=5000         # the fixed offered load per server (requests/s), all side by side
duration=15       # seconds per fixed-load run
reps=3            # fixed-load runs per server (interleaved); the median counts
step_duration=3   # seconds per step of the maximum-rate search
idle_warmup=12    # client-only: seconds before counting wake-ups
idle_window=120   # client-only: seconds over which wake-ups are counted
rates="5000 10000 15000 20000 30000 40000 50000 60000 80000 100000 125000 150000 200000"
pin=""            # SERVER_CPU:LOAD_CPU, empty: no pinning
servers="floor floor-ts chronyd nanotimed-io_uring nanotimed-poll"
do_max=1
do_idle=1
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--step-duration) step_duration=$2; shift 2 ;;
	--pin) pin=$2; shift 2 ;;
	--servers) servers=$2; shift 2 ;;
	--no-max-rate) do_max=0; shift ;;
	--no-idle) do_idle=0; shift ;;
	--quick) duration=3; reps=1; step_duration=2; idle_warmup=8; idle_window=10
		rates="5000 10000 20000 40000 80000"; shift ;;
	-h | --help) sed -n '2,25p' "$0"; exit 0 ;;
	*) echo "server-cpu: unknown option $1" >&2; exit 2 ;;
	esac
done

skip() { echo "server-cpu: SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v python3 >/dev/null || skip "no python3"
ntpload=${NTPLOAD:-$build/tools/ntpload/ntpload}
ntpfloor=${NTPFLOOR:-$build/tools/ntpload/ntpfloor}
nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
nanotimed_base=${NANOTIMED_BASE:-}
for b in "$ntpload" "$ntpfloor" "$nanotimed" ${nanotimed_base:+"$nanotimed_base"}; do
	[ -x "$b" ] || { echo "server-cpu: $b not built (cmake --build $build)" >&2; exit 1; }
done
if [ -n "$nanotimed_base" ]; then servers="$servers base-io_uring base-poll"; fi
# Pinning: taskset in front of every server and of ntpload.
server_cpu=()
load_cpu=()
if [ -n "$pin" ]; then
	command -v taskset >/dev/null || skip "no taskset for --pin"
	server_cpu=(taskset -c "${pin%%:*}")
	load_cpu=(taskset -c "${pin##*:}")
fi

chronyd_binary() {
	if [ -n "${CHRONYD:-}" ]; then echo "$CHRONYD"; return; fi
	if command -v chronyd >/dev/null; then command -v chronyd; return; fi
	if [ -x /usr/sbin/chronyd ]; then echo /usr/sbin/chronyd; return; fi
	local dir="$build/chrony"
	if [ ! -x "$dir/root/usr/sbin/chronyd" ]; then
		mkdir -p "$dir"
		(cd "$dir" && apt-get download -q chrony >/dev/null 2>&1 &&
			dpkg -x chrony_*.deb root) || return 1
	fi
	echo "$dir/root/usr/sbin/chronyd"
}
chronyd=$(chronyd_binary) || skip "no chronyd (install chrony or allow apt-get download)"

# --- the network: two namespaces, one veth pair, private addresses only ----
id=$$
ns_s="ntbench-s-$id"
ns_c="ntbench-c-$id"
veth_s="ntbs$id"
veth_c="ntbc$id"
server_net=10.201.0 # servers on .1 - .6 (ip_of)
client_net=10.201.1
n_clients=250 # client addresses 10.201.1.2 .. 10.201.1.251
# shellcheck source=tests/bench/netns-pair.sh
. "$here/netns-pair.sh"
bench_pair_start ntbench "$veth_s" "$veth_c"
{
	echo "link set lo up"
	for i in 1 2 3 4 5 6 7 8; do echo "addr add $server_net.$i/24 dev $veth_s"; done
	echo "link set $veth_s up"
	echo "route add $client_net.0/24 dev $veth_s"
} | ip -n "$ns_s" -batch -
{
	echo "link set lo up"
	echo "addr add $client_net.1/24 dev $veth_c"
	for i in $(seq 2 $((n_clients + 1))); do echo "addr add $client_net.$i/24 dev $veth_c"; done
	echo "link set $veth_c up"
	echo "route add 10.201.0.0/24 dev $veth_c"
} | ip -n "$ns_c" -batch -
# Background servers are started with a plain `ip netns exec ... &`, never
# through these functions: a function in the background is a subshell, and $!
# would be its PID instead of the server's.
in_s() { ip netns exec "$ns_s" "$@"; }
in_c() { ip netns exec "$ns_c" "$@"; }

# Every server has its own address, so several can run side by side.
ip_of() {
	case "$1" in
	floor) echo "$server_net.1" ;;
	floor-ts) echo "$server_net.2" ;;
	chronyd) echo "$server_net.3" ;;
	nanotimed-io_uring) echo "$server_net.4" ;;
	nanotimed-poll) echo "$server_net.5" ;;
	nanotimed-io_uring-w2) echo "$server_net.6" ;;
	base-io_uring) echo "$server_net.7" ;;
	base-poll) echo "$server_net.8" ;;
	*) echo "server-cpu: no address for $1" >&2; return 1 ;;
	esac
}

load() { # rate duration json-file server-name...
	local r=$1 d=$2 j=$3 name
	shift 3
	local to=()
	for name in "$@"; do to+=(--server "$(ip_of "$name"):123"); done
	in_c "${load_cpu[@]}" "$ntpload" "${to[@]}" --src "$client_net.2" --src-count "$n_clients" \
		--ports 16 --rate "$r" --duration "$d" --json "$j" --quiet || true
}

wait_serving() { # ip: until a probe gets answers, at most 10 s
	for _ in $(seq 1 50); do
		if in_c "$ntpload" --server "$1:123" --src "$client_net.2" --ports 1 --rate 50 \
			--duration 0.1 --drain 0.1 --quiet >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	echo "server-cpu: server did not answer within 10 s" >&2
	return 1
}

cpu_ticks() { # utime + stime of a process, all threads (clock ticks)
	awk '{print $14 + $15}' "/proc/$1/stat"
}

run_ns() { # run time of all threads (ns, /proc/PID/task/*/schedstat)
	cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'
}

# --- the servers ------------------------------------------------------------
server_pid=""
declare -A pid_of
start_server() { # name: starts it, sets server_pid and pid_of[name]
	local name=$1
	local server_ip
	server_ip=$(ip_of "$name")
	case "$name" in
	floor)
		ip netns exec "$ns_s" "${server_cpu[@]}" "$ntpfloor" --listen "$server_ip:123" 2>"$work/$name.log" &
		;;
	floor-ts)
		ip netns exec "$ns_s" "${server_cpu[@]}" "$ntpfloor" --listen "$server_ip:123" --timestamps 2>"$work/$name.log" &
		;;
	chronyd)
		cat >"$work/chrony.conf" <<-EOF
			port 123
			allow 10.201.0.0/16
			noclientlog
			cmdport 0
			bindcmdaddress /
			bindaddress $server_ip
			pidfile $work/chronyd.pid
		EOF
		ip netns exec "$ns_s" "${server_cpu[@]}" "$chronyd" -d -x -u root -f "$work/chrony.conf" 2>"$work/$name.log" &
		;;
	nanotimed-io_uring | nanotimed-poll | nanotimed-io_uring-w2 | nanotimed-poll-w2 | base-io_uring | base-poll)
		local backend=${name#*-} binary=$nanotimed
		case "$name" in base-*) binary=$nanotimed_base ;; esac
		local workers=1
		case "$backend" in *-w2) workers=2; backend=${backend%-w2} ;; esac
		cat >"$work/$name.toml" <<-EOF
			[server]
			listen = ["$server_ip:123"]
			allow = ["10.201.0.0/16"]
			workers = $workers
			[server.rate_limit]
			enabled = false
			[clock]
			adjust = false
			drift_file = ""
			[control]
			socket = "$work/$name.sock"
			[io]
			backend = "$backend"
			ring_entries = 1024
			receive_buffers = 1024
			[log]
			level = "warn"
			[service]
			user = ""
		EOF
		ip netns exec "$ns_s" "${server_cpu[@]}" "$binary" --config "$work/$name.toml" 2>"$work/$name.log" &
		;;
	*) echo "server-cpu: unknown server $name" >&2; return 1 ;;
	esac
	server_pid=$!
	pid_of[$name]=$server_pid
	pids+=("$server_pid")
	wait_serving "$server_ip"
}

stop_server() { # [pid]
	local pid=${1:-$server_pid}
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=()
	for p in "${pids[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
	pids=("${keep[@]}")
	server_pid=""
	sleep 0.3
}

# Fixed load: all servers side by side, each offered $rate, $reps windows;
# per window, each server's CPU time over the window / its responses. Each
# window rotates the order in which ntpload interleaves the servers (request
# i goes to the (i mod N)th), so no server is always first in a batch.
fixed_load() { # names...
	local name rep
	for name in "$@"; do start_server "$name"; done
	echo "$*" >"$out/fixed-names.txt"
	for rep in $(seq 1 "$reps"); do
		local order=("$@") k
		for ((k = 1; k < rep; k++)); do order=("${order[@]:1}" "${order[0]}"); done
		echo "  window $rep order: ${order[*]}"
		for name in "${order[@]}"; do
			echo "$(cpu_ticks "${pid_of[$name]}") $(run_ns "${pid_of[$name]}")" >"$work/$name.t0"
		done
		load "$rate" "$duration" "$out/fixed-$rep.json" "${order[@]}"
		local i=0
		for name in "${order[@]}"; do
			read -r t0 n0 <"$work/$name.t0"
			echo "$t0 $(cpu_ticks "${pid_of[$name]}") $(getconf CLK_TCK) $n0 $(run_ns "${pid_of[$name]}")" \
				>"$out/fixed-$name-$rep.cpu"
			python3 - "$out/fixed-$rep.json" "$i" "$out/fixed-$name-$rep.json" <<-'EOF'
				import json, sys
				r = json.load(open(sys.argv[1]))
				r = r["servers"][int(sys.argv[2])] if "servers" in r else r
				json.dump(r, open(sys.argv[3], "w"))
			EOF
			python3 - "$out/fixed-$name-$rep.json" "$out/fixed-$name-$rep.cpu" "$name" "$rep" <<-'EOF'
				import json, sys
				r = json.load(open(sys.argv[1]))
				t0, t1, hz, n0, n1 = map(int, open(sys.argv[2]).read().split())
				n = max(r["received"], 1)
				print(f"  {sys.argv[4]} {sys.argv[3]:<20} {r['responses_per_s']:7.0f}/s loss {r['loss_pct']:.3f} %"
				      f"  cpu {(t1 - t0) / hz * 1e6 / n:.2f} us/response (schedstat {(n1 - n0) / 1e3 / n:.2f})"
				      f"  p50 {r['latency_us']['p50']:.0f} us")
			EOF
			i=$((i + 1))
		done
	done
	for name in "$@"; do stop_server "${pid_of[$name]}"; done
}

# Highest offered rate of $rates answered with < 0.1 % loss. A step that
# fails is tried once more: on a shared machine one descheduling of the
# server for a few ms overflows its socket buffer at any rate.
max_rate() { # name
	local name=$1 best=0 r
	start_server "$name"
	for r in $rates; do
		local ok=0 try
		for try in 1 2; do
			load "$r" "$step_duration" "$out/step-$name-$r-$try.json" "$name"
			if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["loss_pct"] < 0.1 else 1)' \
				"$out/step-$name-$r-$try.json"; then
				ok=1
				break
			fi
		done
		if [ "$ok" = 1 ]; then best=$r; else break; fi
	done
	stop_server
	echo "$best" >"$out/max-$name.txt"
	echo "  $name: max $best/s at < 0.1 % loss"
}

# Client-only: RSS and wake-ups/s of an idle client with one source.
idle_client() {
	local server_ip=$server_net.1
	cat >"$work/upstream.conf" <<-EOF
		port 123
		allow 10.201.0.0/16
		local stratum 8
		noclientlog
		cmdport 0
		bindcmdaddress /
		pidfile $work/upstream.pid
	EOF
	ip netns exec "$ns_s" "$chronyd" -d -x -u root -f "$work/upstream.conf" 2>"$work/upstream.log" &
	local up=$!
	pids+=("$up")
	server_pid=$up
	wait_serving "$server_ip"
	cat >"$work/client.toml" <<-EOF
		[[source]]
		server = "$server_ip"
		iburst = true
		[clock]
		adjust = false
		drift_file = ""
		[control]
		socket = "$work/client.sock"
		[log]
		level = "warn"
		[service]
		user = ""
	EOF
	cat >"$work/client-chrony.conf" <<-EOF
		server $server_ip iburst
		cmdport 0
		bindcmdaddress /
		pidfile $work/client-chrony.pid
	EOF
	ip netns exec "$ns_c" "$nanotimed" --config "$work/client.toml" 2>"$work/client-nanotimed.log" &
	local n=$!
	pids+=("$n")
	ip netns exec "$ns_c" "$chronyd" -d -x -u root -f "$work/client-chrony.conf" 2>"$work/client-chronyd.log" &
	local c=$!
	pids+=("$c")
	sleep "$idle_warmup"
	python3 - "$n" "$c" "$idle_window" "$out/idle.json" <<-'EOF'
		import glob, json, sys, time
		pids = {"nanotimed": int(sys.argv[1]), "chronyd": int(sys.argv[2])}
		window = float(sys.argv[3])
		def switches(pid):
		    total = 0
		    for f in glob.glob(f"/proc/{pid}/task/*/status"):
		        for line in open(f):
		            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
		                total += int(line.split()[1])
		    return total
		def rss_kib(pid):
		    for line in open(f"/proc/{pid}/status"):
		        if line.startswith("VmRSS"):
		            return int(line.split()[1])
		before = {k: switches(p) for k, p in pids.items()}
		time.sleep(window)
		res = {k: {"rss_kib": rss_kib(p),
		           "wakeups_per_s": (switches(p) - before[k]) / window} for k, p in pids.items()}
		json.dump(res, open(sys.argv[4], "w"))
		for k, v in res.items():
		    print(f"  {k:<10} RSS {v['rss_kib']} KiB  wake-ups {v['wakeups_per_s']:.2f}/s")
	EOF
	for p in "$n" "$c" "$up"; do kill "$p" 2>/dev/null || true; done
	for p in "$n" "$c" "$up"; do wait "$p" 2>/dev/null || true; done
	pids=()
	server_pid=""
}

echo "server-cpu: $(nproc) CPUs, chronyd $("$chronyd" --version | awk '{print $4}'), offered $rate/s for ${duration}s x $reps"
echo "pinning: ${pin:-none} (server CPU:load CPU)"
echo "fixed load, all side by side:"
# shellcheck disable=SC2086 # a list of names
fixed_load $servers
maxes=()
if [ "$do_max" = 1 ]; then
	echo "maximum rate (< 0.1 % loss, steps of ${step_duration}s):"
	maxes=(floor chronyd nanotimed-io_uring nanotimed-io_uring-w2 nanotimed-poll)
	if [ -n "$nanotimed_base" ]; then maxes+=(base-io_uring base-poll); fi
	for s in "${maxes[@]}"; do max_rate "$s"; done
fi
echo "${maxes[*]}" >"$out/max-names.txt"
if [ "$do_idle" = 1 ]; then
	echo "client only (warm-up ${idle_warmup}s, window ${idle_window}s):"
	idle_client
else
	echo "{}" >"$out/idle.json"
fi

python3 - "$out" "$rate" "$duration" "$reps" <<'EOF'
import json, os, statistics, sys
out, rate, duration, reps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
def run(name, rep):
    r = json.load(open(f"{out}/fixed-{name}-{rep}.json"))
    t0, t1, hz, n0, n1 = map(int, open(f"{out}/fixed-{name}-{rep}.cpu").read().split())
    n = max(r["received"], 1)
    return r, (t1 - t0) / hz * 1e6 / n, (n1 - n0) / 1e3 / n
rows = {}
for name in open(f"{out}/fixed-names.txt").read().split():
    runs = [run(name, rep) for rep in range(1, reps + 1)]
    us = [x[1] for x in runs]
    sched = [x[2] for x in runs]
    mid = sorted(runs, key=lambda x: x[1])[len(runs) // 2][0]
    rows[name] = {"responses_per_s": mid["responses_per_s"],
                  "loss_pct": max(x[0]["loss_pct"] for x in runs),
                  "cpu_us_per_response": statistics.median(us),
                  "cpu_us_per_response_runs": us,
                  "schedstat_us_per_response": statistics.median(sched),
                  "latency_us": mid["latency_us"]}
# Ratios per window (the servers ran side by side, so a window is one set of
# conditions), then the median over the windows.
floor_us = rows["floor"]["cpu_us_per_response_runs"]
floor_sched = [run("floor", rep)[2] for rep in range(1, reps + 1)]
for name, v in rows.items():
    sched = [run(name, rep)[2] for rep in range(1, reps + 1)]
    ratios = [a / b for a, b in zip(v["cpu_us_per_response_runs"], floor_us) if b > 0]
    v["ratio_to_floor_runs"] = ratios
    v["ratio_to_floor"] = statistics.median(ratios) if ratios else None
    sr = [a / b for a, b in zip(sched, floor_sched) if b > 0]
    v["schedstat_ratio_to_floor_runs"] = sr
    v["schedstat_ratio_to_floor"] = statistics.median(sr) if sr else None
    if "floor-ts" in rows:  # the floor with RX + TX timestamps on
        ts_sched = [run("floor-ts", rep)[2] for rep in range(1, reps + 1)]
        st = [a / b for a, b in zip(sched, ts_sched) if b > 0]
        v["schedstat_ratio_to_floor_ts_runs"] = st
        v["schedstat_ratio_to_floor_ts"] = statistics.median(st) if st else None
maxr = {}
for name in open(f"{out}/max-names.txt").read().split():
    maxr[name] = int(open(f"{out}/max-{name}.txt").read())
idle = json.load(open(f"{out}/idle.json"))
result = {"offered_pps": rate, "duration_s": duration, "reps": reps, "cpus": os.cpu_count(),
          "fixed_load": rows, "max_rate_pps_below_0.1pct_loss": maxr, "client_only": idle}
json.dump(result, open(f"{out}/server-cpu.json", "w"), indent=2)
print()
print(f"CPU per response at {rate}/s offered to each, side by side ({duration:g} s x {reps};"
      " medians; ratio = median of per-window ratios to the floor):")
print(f"  {'server':<20} {'resp/s':>7} {'loss %':>6} {'us/resp':>7} {'ratio':>5}"
      f" {'sched':>5} {'ratio':>5} {'p50 us':>6} {'p99 us':>6}")
for k, v in rows.items():
    print(f"  {k:<20} {v['responses_per_s']:7.0f} {v['loss_pct']:6.3f} {v['cpu_us_per_response']:7.2f}"
          f" {v['ratio_to_floor']:5.2f} {v['schedstat_us_per_response']:5.2f}"
          f" {v['schedstat_ratio_to_floor']:5.2f} {v['latency_us']['p50']:6.0f}"
          f" {v['latency_us']['p99']:6.0f}")
print("per window, schedstat ratio to floor [and to floor-ts]:")
for k, v in rows.items():
    line = " ".join(f"{x:.3f}" for x in v["schedstat_ratio_to_floor_runs"])
    if "schedstat_ratio_to_floor_ts_runs" in v:
        line += "  [" + " ".join(f"{x:.3f}" for x in v["schedstat_ratio_to_floor_ts_runs"])
        line += f"]  median {v['schedstat_ratio_to_floor_ts']:.3f}"
    print(f"  {k:<20} {line}")
print("maximum rate at < 0.1 % loss (requests/s):")
for k, v in maxr.items():
    print(f"  {k:<22} {v:8d}")
print("client only (one source):")
for k, v in idle.items():
    print(f"  {k:<22} RSS {v['rss_kib']:6d} KiB   wake-ups {v['wakeups_per_s']:6.2f}/s")
print(f"JSON: {out}/server-cpu.json")
EOF
