#!/usr/bin/env bash
# run-fuzzer.sh FUZZER SEED_DIR SECONDS ARTIFACT_DIR
# Runs one libFuzzer target for a bounded time. New inputs go to a scratch
# corpus (the seed directory in the source tree is only read); a crashing
# input is kept in ARTIFACT_DIR and fails the test.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 artifacts=$4
[ -x "$fuzzer" ] || { echo "run-fuzzer: $fuzzer not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
name=$(basename "$fuzzer")
exec "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
	-timeout=10 -artifact_prefix="$artifacts/$name-" "$work/corpus" "$seeds"
