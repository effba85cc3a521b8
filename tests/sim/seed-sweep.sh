#!/usr/bin/env bash
# seed-sweep.sh - one scenario over many seeds, variants side by side: mean
# and worst RMS, mean and worst max |error|, worst convergence, as issue 18's
# figures table.
#
#   tests/sim/seed-sweep.sh NKSIM SEEDS SCENARIO.toml... [-V variant]...
#
# Seeds 1..SEEDS; variants default, linux and estimator unless -V is given.
# Prints one Markdown table row per scenario and variant.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: seed-sweep.sh NKSIM SEEDS SCENARIO.toml... [-V variant]..." >&2; exit 2; }
nksim=$1 seeds=$2
shift 2
scenarios=() variants=()
while [ $# -gt 0 ]; do
	case $1 in
	-V) variants+=("$2"); shift 2 ;;
	*) scenarios+=("$1"); shift ;;
	esac
done
[ ${#variants[@]} -gt 0 ] || variants=(default linux estimator)
vargs=()
for v in "${variants[@]}"; do vargs+=(-V "$v"); done
echo "| scenario | variant | seeds | RMS mean ns | RMS worst ns | max mean ns | max worst ns | converge worst s |"
echo "|---|---|---|---|---|---|---|---|"
for sc in "${scenarios[@]}"; do
	for s in $(seq 1 "$seeds"); do
		"$nksim" --table --no-header --seed "$s" "${vargs[@]}" "$sc"
	done | awk -v n="$seeds" '
	{
		k = $1 " " $2
		if (!(k in cnt)) order[++no] = k
		cnt[k]++; rs[k] += $3; ms[k] += $4
		if ($3 > rw[k]) rw[k] = $3
		if ($4 > mw[k]) mw[k] = $4
		c = $6; sub(/s$/, "", c); if (c == "never") c = 1e12
		if (c + 0 > cw[k]) cw[k] = c + 0
	}
	END {
		for (i = 1; i <= no; i++) {
			k = order[i]; split(k, f, " ")
			printf "| %s | %s | %d | %.1f | %.1f | %.0f | %.0f | %s |\n", f[1], f[2], cnt[k],
			       rs[k] / cnt[k], rw[k], ms[k] / cnt[k], mw[k], (cw[k] >= 1e12 ? "never" : cw[k])
		}
	}'
done
