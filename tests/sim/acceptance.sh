#!/usr/bin/env bash
# acceptance.sh - issue 3's acceptance runs: every scenario for the FreeBSD
# default and the Linux variant(s), one side-by-side table; thresholds from the
# scenarios' [expect] tables are checked (exit 1 if one fails).
#
#   tests/sim/acceptance.sh [path/to/nksim] [--plots DIR]
#
# Columns: RMS / max / p99 of the time error (nanoclock - true time) over the
# steady-state window, time to converge below the scenario's threshold (from
# the start), recovery after the temperature step (scenario B), RMS frequency
# error over the steady-state window, and the wall-clock time of the run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
nksim=$top/build-sim/tests/sim/nksim
plots=
while [ $# -gt 0 ]; do
	case $1 in
	--plots) plots=$2; shift 2 ;;
	*) nksim=$1; shift ;;
	esac
done
[ -x "$nksim" ] || { echo "acceptance: no nksim at $nksim (build target nksim)" >&2; exit 2; }
sc=$here/scenarios
[ -n "$plots" ] && mkdir -p "$plots"

# scenario file : variants
runs=(
	"A.toml:freebsd linux"
	"A100.toml:freebsd linux"
	"B.toml:freebsd linux"
	"A-outage.toml:freebsd linux"
	"PPS-NTP.toml:freebsd linux"
	"NTP-PLL.toml:freebsd shiftpll2 linux"
	"NTP-FLL.toml:freebsd linux"
)
rc=0
header=
errs=$(mktemp)
trap 'rm -f "$errs"' EXIT
for r in "${runs[@]}"; do
	file=${r%%:*}
	args=()
	for v in ${r#*:}; do args+=(-V "$v"); done
	[ -n "$plots" ] && args+=(--plot "$plots/${file%.toml}.png")
	[ -z "$header" ] || args+=(--no-header)
	header=1
	"$nksim" --table --check "${args[@]}" "$sc/$file" 2>>"$errs" || rc=1
done
echo "variants: freebsd = FreeBSD kern_ntptime.c (default); linux = NK_OPT_LINUX_ALL;"
echo "          shiftpll2 = FreeBSD with SHIFT_PLL 2 (NK_OPT_LINUX_SHIFT_PLL)"
if [ -s "$errs" ]; then
	echo "failed checks:"
	sed 's/^/  /' "$errs"
fi
exit $rc
