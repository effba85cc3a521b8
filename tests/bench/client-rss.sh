#!/usr/bin/env bash
# client-rss.sh - memory of nanotimed and chronyd as NTP clients, side by
# side in one run: both poll one upstream chronyd (local stratum 8) over a
# veth pair between two network namespaces this script creates (and always
# removes), neither touches the clock. After a warm-up it prints, per
# client, the resident set (VmRSS) and what it is made of (anonymous and
# file-backed pages; from /proc/PID/smaps_rollup PSS, USS - the pages no
# other process maps - and private dirty pages), thread count and wake-ups
# per second, and writes each client's smaps summed per mapped file to
# smaps-CLIENT.txt in --out. README.md here explains the figures.
#
#   tests/bench/client-rss.sh [--build DIR] [--warmup S] [--window S] [--out DIR]
#
# NANOTIMED_BASE=BINARY adds a third client, another nanotimed build (the
# "before" of a change), measured in the same run; NANOTIMED_MORE="NAME=BINARY
# ..." adds more, each under its NAME. Needs root (namespaces),
# iproute2, python3 and chronyd (as server-cpu.sh finds it).
# Exit status: 0 when measured, 1 on a failure, 77 when it cannot run here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/bench"
warmup=15 # seconds before the window (iburst done, start-up over)
window=30 # seconds over which wake-ups are counted
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "client-rss: unknown option $1" >&2; exit 2 ;;
	esac
done

skip() { echo "client-rss: SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v python3 >/dev/null || skip "no python3"
nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
nanotimed_base=${NANOTIMED_BASE:-}
read -ra more <<<"${NANOTIMED_MORE:-}"
binaries=("$nanotimed" ${nanotimed_base:+"$nanotimed_base"})
for m in "${more[@]}"; do binaries+=("${m#*=}"); done
for b in "${binaries[@]}"; do
	[ -x "$b" ] || { echo "client-rss: $b not built (cmake --build $build --target nanotimed)" >&2; exit 1; }
done
chronyd=${CHRONYD:-$(command -v chronyd || echo /usr/sbin/chronyd)}
[ -x "$chronyd" ] || skip "no chronyd (install chrony, or CHRONYD=/path/to/chronyd)"
# A binary just linked sits in the page cache as dirty pages, which smaps
# counts as the daemon's Private_Dirty until written back: write it first.
sync "${binaries[@]}"

id=$$
ns_s="ntrss-s-$id"
ns_c="ntrss-c-$id"
# shellcheck source=tests/bench/netns-pair.sh
. "$here/netns-pair.sh"
bench_pair_start ntrss "ntrs$id" "ntrc$id"
ip -n "$ns_s" addr add 10.203.0.1/24 dev "ntrs$id"
ip -n "$ns_s" link set "ntrs$id" up
ip -n "$ns_s" link set lo up
ip -n "$ns_c" addr add 10.203.0.2/24 dev "ntrc$id"
ip -n "$ns_c" link set "ntrc$id" up
ip -n "$ns_c" link set lo up

cat >"$work/upstream.conf" <<EOF
port 123
allow 10.203.0.0/16
local stratum 8
noclientlog
cmdport 0
bindcmdaddress /
pidfile $work/upstream.pid
EOF
ip netns exec "$ns_s" "$chronyd" -d -x -u root -f "$work/upstream.conf" 2>"$work/upstream.log" &
pids+=($!)

declare -A pid_of
names=()
start_nanotimed() { # name binary
	cat >"$work/$1.toml" <<-EOF
		[[source]]
		server = "10.203.0.1"
		iburst = true
		[clock]
		adjust = false
		drift_file = ""
		[control]
		socket = "$work/$1.sock"
		[log]
		level = "warn"
		[service]
		user = ""
	EOF
	ip netns exec "$ns_c" "$2" --config "$work/$1.toml" 2>"$work/$1.log" &
	pid_of[$1]=$!
	pids+=($!)
	names+=("$1")
}
start_nanotimed nanotimed "$nanotimed"
if [ -n "$nanotimed_base" ]; then start_nanotimed nanotimed-base "$nanotimed_base"; fi
for m in "${more[@]}"; do start_nanotimed "${m%%=*}" "${m#*=}"; done
cat >"$work/client-chrony.conf" <<EOF
server 10.203.0.1 iburst
cmdport 0
bindcmdaddress /
pidfile $work/client-chrony.pid
EOF
ip netns exec "$ns_c" "$chronyd" -d -x -u root -f "$work/client-chrony.conf" 2>"$work/chronyd.log" &
pid_of[chronyd]=$!
pids+=($!)
names+=(chronyd)

echo "client-rss: $("$chronyd" --version | awk '{print $1, $4}') and nanotimed as clients of one chronyd;" \
	"warm-up ${warmup}s, window ${window}s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep "$warmup"
args=()
for n in "${names[@]}"; do args+=("$n" "${pid_of[$n]}"); done
python3 - "$window" "$out/client-rss.json" "${args[@]}" <<'EOF'
import glob, json, sys, time
window, path = float(sys.argv[1]), sys.argv[2]
pids = dict(zip(sys.argv[3::2], map(int, sys.argv[4::2])))
def switches(pid):
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/status"):
        for line in open(f):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total
def fields(path, names):
    out = {}
    for line in open(path):
        k, _, v = line.partition(":")
        if k in names:
            out[k] = int(v.split()[0])
    return out
before = {k: switches(p) for k, p in pids.items()}
time.sleep(window)
res = {}
for k, p in pids.items():
    st = fields(f"/proc/{p}/status", {"VmRSS", "RssAnon", "RssFile", "Threads"})
    ro = fields(f"/proc/{p}/smaps_rollup", {"Pss", "Private_Clean", "Private_Dirty"})
    res[k] = {"rss_kib": st["VmRSS"], "anon_kib": st["RssAnon"], "file_kib": st["RssFile"],
              "pss_kib": ro["Pss"], "private_dirty_kib": ro["Private_Dirty"],
              "uss_kib": ro["Private_Clean"] + ro["Private_Dirty"],
              "threads": st["Threads"], "wakeups_per_s": (switches(p) - before[k]) / window}
json.dump(res, open(path, "w"), indent=2)
# Per mapped file (anonymous mappings by their name: [heap], [stack], or
# "anon"): Rss, Pss, Private_Dirty in KiB, largest first, in
# smaps-<client>.txt beside the JSON: where each client's memory is.
def smaps_by_file(pid):
    per, name = {}, None
    for line in open(f"/proc/{pid}/smaps"):
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else "anon"
            per.setdefault(name, [0, 0, 0])
        elif head[0] in ("Rss:", "Pss:", "Private_Dirty:"):
            per[name][("Rss:", "Pss:", "Private_Dirty:").index(head[0])] += int(head[1])
    return sorted(per.items(), key=lambda kv: -kv[1][0])
for k, p in pids.items():
    with open(f"{path.rsplit('/', 1)[0]}/smaps-{k}.txt", "w") as f:
        f.write(f"{'RSS':>6} {'PSS':>6} {'PrivD':>6}  mapping (KiB)\n")
        for name, (rss, pss, pd) in smaps_by_file(p):
            f.write(f"{rss:6d} {pss:6d} {pd:6d}  {name}\n")
ref = res["chronyd"]["rss_kib"]
print(f"  {'client':<16} {'RSS KiB':>8} {'/chronyd':>8} {'anon':>6} {'file':>6} {'PSS':>6}"
      f" {'USS':>6} {'priv.dirty':>10} {'threads':>7} {'wake-ups/s':>10}")
for k, v in res.items():
    print(f"  {k:<16} {v['rss_kib']:8d} {v['rss_kib'] / ref:8.2f} {v['anon_kib']:6d} {v['file_kib']:6d}"
          f" {v['pss_kib']:6d} {v['uss_kib']:6d} {v['private_dirty_kib']:10d} {v['threads']:7d}"
          f" {v['wakeups_per_s']:10.2f}")
print(f"JSON: {path} (per mapping: smaps-CLIENT.txt beside it)")
EOF
