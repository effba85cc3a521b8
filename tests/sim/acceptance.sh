#!/usr/bin/env bash
# acceptance.sh - issue 3's acceptance runs and their figures, side by side.
#
#   tests/sim/acceptance.sh [path/to/nksim] [--out DIR] [--bench path/to/nkbench] [--no-plots]
#
# Every scenario runs for the variants worth comparing:
#   freebsd-strict  kern_ntptime.c's exact PPS calibration (NK_OPT_FREEBSD_STRICT_CAL)
#   default         libnanokernel's default (FreeBSD's algorithm, calibration
#                   deviations in libnanokernel/README.md)
#   linux           every Linux ntp.c behaviour (NK_OPT_LINUX_ALL)
#   estimator       the estimator PPS discipline (NK_OPT_PPS_ESTIMATOR, PPS scenarios)
#   shiftpll2       the default with SHIFT_PLL 2 (NTP PLL scenario only)
# and writes to DIR (default ./nksim-acceptance):
#   acceptance.txt   the figures table (also printed), then one row per run
#   acceptance.json  {"runs": [nksim reports], "bench": {"BM_nk_read": ns, ...}}
#   <scenario>.png   time error and frequency error over time, all variants (gnuplot)
# nkbench (ns per nk_read() / nk_hardpps()) is taken from --bench, or from
# next to nksim; it is skipped if absent. Thresholds are the scenarios'
# [expect] tables (nksim --check); the exit status is 1 if one fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
nksim=$top/build-sim/tests/sim/nksim
out=$PWD/nksim-acceptance
bench=
plots=1
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--bench) bench=$2; shift 2 ;;
	--no-plots) plots=; shift ;;
	--plots) out=$2; shift 2 ;;	# old spelling
	*) nksim=$1; shift ;;
	esac
done
[ -x "$nksim" ] || { echo "acceptance: no nksim at $nksim (build target nksim)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "acceptance: needs python3" >&2; exit 2; }
[ -n "$bench" ] || bench=$(dirname "$nksim")/nkbench
if [ -n "$plots" ] && ! command -v gnuplot >/dev/null; then
	echo "acceptance: no gnuplot, no plots" >&2
	plots=
fi
sc=$here/scenarios
mkdir -p "$out" || exit 2
rm -f "$out"/run-*.json

# scenario file : variants
runs=(
	"A.toml:freebsd-strict default linux estimator"
	"A100.toml:freebsd-strict default linux estimator"
	"B.toml:freebsd-strict default linux estimator"
	"A-outage.toml:freebsd-strict default linux estimator"
	"PPS-NTP.toml:freebsd-strict default linux estimator"
	"NTP-PLL.toml:default shiftpll2 linux"
	"NTP-FLL.toml:default linux"
)
rc=0
errs=$out/failed-checks.txt
rows=$out/runs.txt
: >"$errs"
: >"$rows"
n=0
for r in "${runs[@]}"; do
	file=${r%%:*}
	args=()
	for v in ${r#*:}; do args+=(-V "$v"); done
	[ -n "$plots" ] && args+=(--plot "$out/${file%.toml}.png")
	[ $n -eq 0 ] || args+=(--no-header)
	n=$((n + 1))
	"$nksim" --table --check --json-out "$out/run-$(printf %02d $n).json" "${args[@]}" \
		"$sc/$file" >>"$rows" 2>>"$errs" || rc=1
done

benchjson=
if [ -x "$bench" ]; then
	benchjson=$out/nkbench.json
	"$bench" --benchmark_filter='BM_nk_(read|hardpps|hardpps_estimator)$' --benchmark_min_time=0.2 \
		--benchmark_out="$benchjson" --benchmark_out_format=json >/dev/null 2>&1 ||
		{ echo "acceptance: nkbench failed" >>"$errs"; benchjson=; rc=1; }
fi

python3 - "$out" "$benchjson" <<'EOF' | tee "$out/acceptance.txt"
import glob, json, os, sys

out, benchjson = sys.argv[1], sys.argv[2]
runs = []
for f in sorted(glob.glob(os.path.join(out, "run-*.json"))):
    runs.extend(json.load(open(f)))
bench = {}
if benchjson:
    for b in json.load(open(benchjson))["benchmarks"]:
        bench[b["name"]] = b["real_time"] if b.get("time_unit", "ns") == "ns" else None
json.dump({"runs": runs, "bench": bench}, open(os.path.join(out, "acceptance.json"), "w"),
          indent=2)

variants = ["freebsd-strict", "default", "linux", "estimator", "shiftpll2"]
scen = []
for r in runs:
    if r["scenario"] not in scen:
        scen.append(r["scenario"])
cols = [v for v in variants if any(r["variant"] == v for r in runs)]
by = {(r["scenario"], r["variant"]): r for r in runs}

def f1(x):
    return "-" if x is None else f"{x:.1f}"

def secs(x):
    return "never" if x is None else f"{x:.0f}"

figures = [
    ("RMS ns", lambda r: f1(r["time_error_ns"]["rms"])),
    ("max ns", lambda r: f1(r["time_error_ns"]["max_abs"])),
    ("p99 ns", lambda r: f1(r["time_error_ns"]["p99_abs"])),
    ("mean ns", lambda r: f1(r["time_error_ns"]["mean"])),
    ("converge s", lambda r: secs(r["converge_s"])),
    ("recovery s", lambda r: secs(r["recovery_s"]) if r["recovery_s"] is not None
        or any(c["name"] == "recovery_s" for c in r["checks"]) else "-"),
    ("ferr RMS ppb", lambda r: f"{r['freq_error_ppb']['rms']:.3f}"),
    ("ferr mean ppb", lambda r: f"{r['freq_error_ppb']['mean']:.3f}"),
    ("errcnt", lambda r: str(r["final"]["errcnt"])),
    ("wall s", lambda r: f"{r['runtime_s']:.2f}"),
    ("checks", lambda r: ("pass" if r["pass"] else "FAIL") if len(r["checks"]) > 1 else "-"),
]
w = 16
print("issue 3 acceptance: time error = nanoclock - true time over the steady window")
print(f"{'scenario':<10}{'figure':<15}" + "".join(f"{c:>{w}}" for c in cols))
for s in scen:
    first = True
    steady = next(r for r in runs if r["scenario"] == s)["steady_window_s"]
    for name, get in figures:
        cells = []
        for c in cols:
            r = by.get((s, c))
            cells.append(get(r) if r else "")
        if name == "recovery s" and all(x in ("-", "") for x in cells):
            continue
        print(f"{(s if first else ''):<10}{name:<15}" + "".join(f"{x:>{w}}" for x in cells))
        first = False
print()
print("variants: freebsd-strict = kern_ntptime.c's PPS calibration (NK_OPT_FREEBSD_STRICT_CAL);")
print("          default = FreeBSD's algorithm with libnanokernel's calibration fixes;")
print("          linux = NK_OPT_LINUX_ALL; estimator = the estimator PPS discipline")
print("          (NK_OPT_PPS_ESTIMATOR); shiftpll2 = default with SHIFT_PLL 2 (SHIFT_PLL 4 is")
print("          FreeBSD's, in freebsd-strict and default)")
print("steady window: from the scenario's steady_start to the end (25 h runs: 1 h settling +")
print("24 h); wall s = wall-clock time of one 25 h run of this nksim build")
if bench:
    print()
    print("nkbench (ns per call, this build):")
    for k, v in bench.items():
        print(f"  {k:<26}{v:10.1f} ns")
EOF
echo
cat "$rows"
if [ -s "$errs" ]; then
	echo "failed checks:"
	sed 's/^/  /' "$errs"
	rc=1
fi
if [ -n "$plots" ]; then
	echo "plots: $out/*.png"
fi
echo "json: $out/acceptance.json"
exit $rc
